"""A trained encoder–decoder with its two vocabularies: texts in, translations out.

What training, ``rnnlab translate`` and ``rnnlab eval`` share: texts to ids as the run read them
(cut at ``max_length``, reversed with ``reverse_source``), the teacher-forced loss of encoded pairs,
and decoding of many texts in batches of similar length (greedy, sampling or beam search), with
each output's log-probability and attention weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnlab import checks, decode
from rnnlab.data.batching import bucket_batches, pad
from rnnlab.data.symbols import BOS, EOS, PAD
from rnnlab.data.tokenizer import Tokenizer
from rnnlab.models.seq2seq import Seq2Seq
from rnnlab.train.distributed import ALONE, World, all_sum

BATCH = 64  # sentences decoded together (each with all its beams)
BATCH_BYTES = 1 << 30  # fewer sentences together when a wide beam or a long output would need more


@dataclass
class Translation:
    """One output for one source text.

    Attributes:
        text: the output, detokenised.
        pieces: the output's tokens as the target vocabulary spells them.
        score: what the search ranked by (beam search: the log-probability over the length to the
            power ``length_penalty``; else the log-probability).
        log_prob: log-probability of the output (with its ``</s>``), under the model.
        weights: attention ``(len(pieces), len(source pieces))``, one row per output token, columns
            in the source's order as written (also when the model read it reversed); ``None``
            without attention.
    """

    text: str
    pieces: list[str]
    score: float
    log_prob: float
    weights: Tensor | None


def batch_of(pairs: list[tuple[list[int], list[int]]]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(src (S, B), src_lengths (B,), tgt_in (T, B), tgt_out (T, B))`` of encoded pairs: the
    decoder reads ``<s> y`` and is scored on ``y </s>``."""
    src, src_lengths = pad([s for s, _ in pairs])
    tgt_in, _ = pad([[BOS, *t] for _, t in pairs])
    tgt_out, _ = pad([[*t, EOS] for _, t in pairs])
    return src, src_lengths, tgt_in, tgt_out


class Translator:
    """Translate with ``model`` from ``source`` to ``target`` pieces, as ``data`` says (its
    ``lowercase``, ``reverse_source`` and ``max_length``)."""

    def __init__(self, model: Seq2Seq, source: Tokenizer, target: Tokenizer, data: Any) -> None:
        self.model, self.source, self.target, self.data = model, source, target, data

    # ----------------------------------------------------------------- encoding
    def source_ids(self, text: str, max_length: int | None = None) -> list[int]:
        ids = self.source.encode(text)
        ids = ids[:max_length] if max_length else ids
        return ids[::-1] if self.data.reverse_source else ids

    def too_long(self, texts: list[str]) -> int:
        """How many of ``texts`` are longer than ``max_length`` source tokens (they are cut)."""
        return sum(len(self.source.encode(t)) > self.data.max_length for t in texts)

    def encode_pairs(self, pairs: list[tuple[str, str]], max_length: int | None) -> tuple[list, int]:
        """``(source ids, target ids)`` of each pair, each side cut at ``max_length`` tokens (``None``:
        uncut), and how many pairs were cut."""
        out, cut = [], 0
        for s, t in pairs:
            src, tgt = self.source_ids(s), self.target.encode(t)
            if max_length and (len(src) > max_length or len(tgt) > max_length):
                cut += 1
                src = self.source_ids(s, max_length)
                tgt = tgt[:max_length]
            out.append((src or [PAD], tgt))
        return out, cut

    # ----------------------------------------------------------------- scoring
    @torch.no_grad()
    def loss(self, encoded: list[tuple[list[int], list[int]]], world: World = ALONE) -> float:
        """Mean cross-entropy a target token (with ``</s>``), teacher-forced, in nats; each process of
        ``world`` scores its part of the pairs and the processes add up their sums."""
        mine = encoded[world.part(len(encoded))]
        total, count = 0.0, 0
        with decode.evaluating(self.model):
            for batch in bucket_batches([len(s) for s, _ in mine], BATCH, None):
                src, src_lengths, tgt_in, tgt_out = batch_of([mine[i] for i in batch])
                logits, _ = self.model(src, src_lengths, tgt_in)
                total += float(
                    F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD, reduction="sum")
                )
                count += int((tgt_out != PAD).sum())
        total, count = all_sum([total, float(count)], world)
        return total / max(count, 1)

    # ----------------------------------------------------------------- decoding
    @torch.no_grad()
    def translate(
        self,
        texts: list[str],
        beam: int = 1,
        nbest: int = 1,
        max_length: int | None = None,
        length_penalty: float = 1.0,
        temperature: float = 0.0,
        top_k: int = 0,
        top_p: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> list[list[Translation]]:
        """The ``nbest`` best outputs of each text (beam search), or one output (greedy with
        ``beam=1`` and ``temperature=0``; sampled with ``temperature > 0``), in the texts' order.

        Args:
            max_length: most output tokens (default: the run's ``max_length``).
            length_penalty: beam scores are divided by ``length ** length_penalty``.

        Raises:
            ValueError: a beam or an output length whose search would not fit in memory (texts are
                decoded fewer at a time when it would take more than ``BATCH_BYTES``).
        """
        limit = checks.positive_int("max_length", max_length or self.data.max_length)
        checks.positive_int("beam", beam)
        encoded = [self.source_ids(t, self.data.max_length) or [PAD] for t in texts]
        rows = 1 if temperature > 0 or (beam == 1 and nbest == 1) else beam
        need = self.search_bytes(rows, limit, max((len(e) for e in encoded), default=1))
        what = f"{rows} beam(s) over outputs of up to {limit} tokens: decoding one text would"
        checks.fits_memory(need, what, "use a smaller beam or output length")
        out: list[list[Translation]] = [[] for _ in texts]
        for batch in bucket_batches([len(e) for e in encoded], max(1, min(BATCH, BATCH_BYTES // need)), None):
            src, src_lengths = pad([encoded[i] for i in batch])
            found = decode.search(
                self.model,
                src,
                src_lengths,
                beam,
                nbest,
                limit,
                length_penalty,
                temperature,
                top_k,
                top_p,
                generator,
            )
            for i, hyps in zip(batch, found):
                out[i] = [self._translation(h, len(encoded[i])) for h in hyps]
        return out

    def search_bytes(self, beam: int, max_length: int, source_len: int) -> int:
        """About the memory (bytes) of decoding one text of ``source_len`` tokens with ``beam`` rows
        (1: greedy or sampling) and outputs of up to ``max_length`` tokens: each row keeps its
        tokens (int64) and attention weights (float32) of every step, in about five copies and four
        while the beam is reordered and the finished merged, its encoder states, and a step's
        float64 scores over the target vocabulary (the beam's candidates)."""
        cfg = self.model.config
        S = max(source_len, 1)
        per_row = (max_length + 1) * (4 * 4 * S + 5 * 8) + 3 * 8 * cfg.target_vocab + 2 * 4 * S * cfg.hidden_size
        return beam * per_row

    def _translation(self, hyp: Any, source_len: int) -> Translation:
        ids = list(hyp.tokens)
        weights = hyp.attention
        if weights is not None:
            weights = weights[:, :source_len].float()
            if self.data.reverse_source:
                weights = weights.flip(1)
        pieces = [self.target.piece(i) for i in ids]
        return Translation(self.target.decode(ids), pieces, float(hyp.score), float(hyp.log_prob), weights)
