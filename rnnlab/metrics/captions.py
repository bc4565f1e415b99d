"""Scores of image captions: corpus BLEU-1..4 over all references, CIDEr-D, exact match, and the
digit-scenes scores (a true description, every digit named).

BLEU (Papineni et al. 2002) comes from ``sacrebleu`` (Post 2018) with its default 13a tokenisation,
as for translations (:mod:`rnnlab.metrics.translation`), at n-gram orders 1 to 4; each hypothesis is
matched against *all* references of its image (clipped counts take the most of any reference, the
brevity penalty uses the reference length closest to the hypothesis).

CIDEr-D (Vedantam et al. 2015) comes from the COCO caption evaluation's own code
(``pycocoevalcap.cider.cider.Cider``, with its clipping and Gaussian length penalty, sigma = 6).
Two things differ from the usual leaderboard figure and are worth knowing:

- the IDF weights of the n-grams come from the references of the scored set itself (as in
  coco-caption), so a score depends on the whole set: it is 0 for a single image (every n-gram has
  IDF log(1/1) = 0), and scores of different sets are not strictly comparable;
- coco-caption tokenises with the Stanford PTB tokenizer (Java); here texts are tokenised by
  :func:`coco_tokens`, which does roughly what it does for plain captions (lower case, punctuation
  dropped), without Java.

The value is coco-caption's (10 times the mean cosine similarity, up to 10 per image), not 0-100.
If ``pycocoevalcap`` is not installed, ``cider`` is absent from the scores.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rnnlab.data.scenes import Layout, caption_agrees, digit_recall
from rnnlab.metrics.translation import _sacrebleu

#: the n-gram orders of the reported BLEU scores
BLEU_ORDERS = (1, 2, 3, 4)

# Punctuation the COCO PTB tokenizer splits off and then drops (its PUNCTUATIONS list: quotes,
# brackets, . ? ! , : ; - -- ...). Hyphens and apostrophes inside a word stay, as PTB keeps them.
_PUNCTUATION = re.compile(r"[^\w\s'-]|(?<![\w])['-]+|['-]+(?![\w])")


def normalise(text: str) -> str:
    """``text`` with runs of white space made single spaces and the ends stripped."""
    return " ".join(text.split())


def coco_tokens(text: str) -> str:
    """``text`` tokenised roughly as the COCO caption evaluation does: lower case, punctuation
    removed, words separated by single spaces."""
    return normalise(_PUNCTUATION.sub(" ", text.lower()))


def _check(hypotheses: Sequence, references: Sequence, what: str) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} {what}")


def _bleu(hypotheses: list[str], streams: list[list[str | None]], order: int):
    bleu = _sacrebleu().metrics.BLEU(max_ngram_order=order)
    return bleu, bleu.corpus_score(hypotheses, streams)


def reference_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """The references as ``sacrebleu`` takes them: stream ``k`` holds the ``k``-th reference of each
    image, ``None`` where an image has fewer.

    sacrebleu 2.6 drops ``None`` entries per segment before it counts n-grams and lengths
    (``Metric._cache_references``) and then marks the signature ``nrefs:var``; an empty string, by
    contrast, would count as a reference of length 0. So an image is scored against exactly its own
    references, the same as if its last reference were repeated to fill the streams (a repeated
    reference changes neither the clipped counts nor the closest length); the tests check that.
    """
    width = max(len(refs) for refs in references)
    return [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]


def cider_d(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float | None:
    """CIDEr-D of the set (Vedantam et al. 2015) by coco-caption's code on :func:`coco_tokens`, or
    ``None`` if ``pycocoevalcap`` is not installed. The IDF comes from these references."""
    try:
        from pycocoevalcap.cider.cider import Cider
    except ImportError:
        return None
    res = {i: [coco_tokens(h)] for i, h in enumerate(hypotheses)}
    gts = {i: [coco_tokens(r) for r in refs] for i, refs in enumerate(references)}
    score, _ = Cider().compute_score(gts, res)
    return float(score)


def caption_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict:
    """Corpus BLEU-1..4 (0-100) over all references of each image, CIDEr-D, exact match (0-1).

    Args:
        hypotheses: one generated caption per image.
        references: the reference captions of each image, in the same order (at least one each;
            images may have different numbers).

    Returns:
        ``{"bleu1", "bleu2", "bleu3", "bleu4", "exact", "images", "signature"}`` plus ``"cider"``
        when ``pycocoevalcap`` is installed. ``exact`` is the share of hypotheses equal to one of
        their references after white space is normalised; ``signature`` is sacrebleu's, of BLEU-4.

    Raises:
        ValueError: the lengths differ, or an image has no references.
    """
    _check(hypotheses, references, "images with references")
    for i, refs in enumerate(references):
        if isinstance(refs, str) or not refs:
            raise ValueError(f"image {i} has no references (expected a list of reference captions)")
    out: dict = {f"bleu{n}": 0.0 for n in BLEU_ORDERS}
    out.update(exact=0.0, images=len(hypotheses), signature="")
    if not hypotheses:
        return out
    hyps, refs = list(hypotheses), [list(r) for r in references]
    streams = reference_streams(refs)
    for n in BLEU_ORDERS:
        bleu, score = _bleu(hyps, streams, n)
        out[f"bleu{n}"] = float(score.score)
    out["signature"] = str(bleu.get_signature())
    out["exact"] = sum(normalise(h) in {normalise(r) for r in rs} for h, rs in zip(hyps, refs)) / len(hyps)
    cider = cider_d(hyps, refs)
    if cider is not None:
        out["cider"] = cider
    return out


def scene_scores(hypotheses: Sequence[str], layouts: Sequence[Layout], references: Sequence[str]) -> dict:
    """Scores of captions of ``digit-scenes`` (:mod:`rnnlab.data.scenes`), shares in [0, 1].

    Hypotheses are compared with white space normalised.

    Returns:
        ``exact``: equal to the reference caption; ``correct``: a true description of the layout
        (:func:`~rnnlab.data.scenes.caption_agrees`, either order for pairs); ``digits_named``: the
        share of scenes whose digits are all named, in any order; ``digit_recall``: the mean per-scene
        share of digits named (:func:`~rnnlab.data.scenes.digit_recall`); ``scenes``: the count.

    Raises:
        ValueError: the three lists differ in length.
    """
    _check(hypotheses, layouts, "layouts")
    _check(hypotheses, references, "references")
    n = len(hypotheses)
    if n == 0:
        return {"exact": 0.0, "correct": 0.0, "digits_named": 0.0, "digit_recall": 0.0, "scenes": 0}
    hyps = [normalise(h) for h in hypotheses]
    recalls = [digit_recall(h, layout) for h, layout in zip(hyps, layouts)]
    return {
        "exact": sum(h == normalise(r) for h, r in zip(hyps, references)) / n,
        "correct": sum(caption_agrees(h, layout) for h, layout in zip(hyps, layouts)) / n,
        "digits_named": sum(r == 1.0 for r in recalls) / n,
        "digit_recall": sum(recalls) / n,
        "scenes": n,
    }
