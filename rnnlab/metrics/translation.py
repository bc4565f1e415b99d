"""Scores of translations: BLEU and chrF as ``sacrebleu`` computes them, exact match, and BLEU by
source length.

BLEU (Papineni et al. 2002) and chrF (Popović 2015) come from ``sacrebleu`` (Post 2018) with its
default settings (13a tokenisation, one reference per sentence), so the figures compare with
published ones; its signature is kept with them. Texts are scored detokenised, as written.
"""

from __future__ import annotations

from collections.abc import Sequence

#: width of the source-length buckets, in words (Bahdanau et al. 2015, Fig. 2, plot by length)
BUCKET_WORDS = 10


def _sacrebleu():
    import sacrebleu  # imported on use: it loads its tokenizers' regular expressions

    return sacrebleu


def translation_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """Corpus BLEU and chrF (0-100), the share of exact matches (0-1) and the sentence count.

    Args:
        hypotheses: the system's outputs, one per sentence.
        references: the reference translations, in the same order.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    if not references:
        return {"bleu": 0.0, "chrf": 0.0, "exact": 0.0, "sentences": 0}
    sb = _sacrebleu()
    bleu = sb.metrics.BLEU()
    bleu_score = bleu.corpus_score(list(hypotheses), [list(references)])
    chrf = sb.metrics.CHRF()
    chrf_score = chrf.corpus_score(list(hypotheses), [list(references)])
    exact = sum(h.strip() == r.strip() for h, r in zip(hypotheses, references)) / len(references)
    return {
        "bleu": float(bleu_score.score),
        "chrf": float(chrf_score.score),
        "exact": exact,
        "sentences": len(references),
        "signature": str(bleu.get_signature()),
    }


def bleu_by_length(
    sources: Sequence[str], hypotheses: Sequence[str], references: Sequence[str], width: int = BUCKET_WORDS
) -> list[dict]:
    """Corpus BLEU of the sentences in each bucket of source length (``width`` words a bucket).

    Returns:
        One entry per non-empty bucket, shortest first: ``{"words": "1-10", "low", "high",
        "sentences", "bleu"}``.
    """
    buckets: dict[int, list[int]] = {}
    for i, source in enumerate(sources):
        words = max(1, len(source.split()))
        buckets.setdefault((words - 1) // width, []).append(i)
    sb = _sacrebleu()
    out = []
    for b in sorted(buckets):
        rows = buckets[b]
        score = sb.metrics.BLEU().corpus_score([hypotheses[i] for i in rows], [[references[i] for i in rows]])
        low, high = b * width + 1, (b + 1) * width
        out.append({"words": f"{low}-{high}", "low": low, "high": high, "sentences": len(rows), "bleu": score.score})
    return out
