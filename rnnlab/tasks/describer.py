"""A trained captioner with its vocabulary: images in, captions out.

What training, ``rnnlab caption`` and ``rnnlab eval`` share: captions to ids as the run read them,
batches of images (``uint8`` ``(B, 3, H, W)``) with their teacher-forcing targets, the loss of
encoded pairs, and decoding of many images in batches (greedy, sampling or beam search), with each
caption's log-probability and its attention over the image grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rnnlab import checks, decode
from rnnlab.data.batching import bucket_batches, pad
from rnnlab.data.symbols import BOS, EOS, PAD
from rnnlab.data.tokenizer import Tokenizer
from rnnlab.models.captioner import Captioner
from rnnlab.train.distributed import ALONE, World, all_sum

BATCH = 64  # images decoded together (each with all its beams)


@dataclass
class Caption:
    """One caption of one image.

    Attributes:
        text: the caption, detokenised.
        words: its tokens as the vocabulary spells them.
        score: what the search ranked by (beam search: the log-probability over the length to the
            power ``length_penalty``; else the log-probability).
        log_prob: log-probability of the caption (with its ``</s>``) under the model.
        weights: attention ``(len(words), h, w)`` over the encoder's grid, the map each word was
            written with; ``None`` without attention.
    """

    text: str
    words: list[str]
    score: float
    log_prob: float
    weights: Tensor | None


def image_tensor(images: list[np.ndarray] | np.ndarray) -> Tensor:
    """``uint8`` ``(B, 3, H, W)`` of images ``(H, W, 3)``."""
    stacked = np.stack(list(images)) if not isinstance(images, np.ndarray) else images
    return torch.from_numpy(np.ascontiguousarray(stacked)).permute(0, 3, 1, 2).contiguous()


def targets(captions: list[list[int]]) -> tuple[Tensor, Tensor]:
    """``(tgt_in (T, B), tgt_out (T, B))`` of encoded captions: the decoder reads ``<s> y`` and is
    scored on ``y </s>``."""
    tgt_in, _ = pad([[BOS, *c] for c in captions])
    tgt_out, _ = pad([[*c, EOS] for c in captions])
    return tgt_in, tgt_out


def caption_loss(
    logits: Tensor, tgt_out: Tensor, weights: Tensor | None, penalty: float, reduction: str = "mean"
) -> tuple[Tensor, Tensor]:
    """The cross-entropy of the words (padding ignored; ``mean`` over words or ``sum``) and Show,
    Attend and Tell's doubly stochastic penalty ``penalty * sum_i (1 - sum_t a_ti)^2`` (Xu et al.
    2015, eq. 14), summed over the grid and the images (``0`` without attention). The paper adds
    the penalty to a caption's summed cross-entropy; with ``mean`` both are divided by the number
    of words scored (``</s>`` included), which keeps the paper's balance between the two.

    Returns:
        ``(cross_entropy, penalty_term)``.
    """
    ce = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD, reduction=reduction)
    if weights is None or penalty == 0:
        return ce, ce.new_zeros(())
    valid = (tgt_out != PAD).unsqueeze(-1).to(weights.dtype)  # (T, B, 1): the caption's words and </s>
    looked = (weights * valid).sum(dim=0)  # (B, G)
    term = penalty * ((1.0 - looked) ** 2).sum()
    return ce, term / valid.sum() if reduction == "mean" else term


class Describer:
    """Caption with ``model`` in the words of ``vocab``; ``max_length`` caps a caption's words."""

    def __init__(self, model: Captioner, vocab: Tokenizer, max_length: int) -> None:
        self.model, self.vocab, self.max_length = model, vocab, max_length

    def encode(self, caption: str) -> list[int]:
        """A caption's ids, cut at ``max_length``."""
        return self.vocab.encode(caption)[: self.max_length]

    # ----------------------------------------------------------------- scoring
    @torch.no_grad()
    def loss(self, images: Tensor, pairs: list[tuple[int, list[int]]], world: World = ALONE) -> float:
        """Mean cross-entropy a word (with ``</s>``), teacher-forced, in nats, of ``pairs`` (image
        index into ``images``, caption ids); each process of ``world`` scores its part of the pairs
        and the processes add up their sums."""
        mine = pairs[world.part(len(pairs))]
        total, count = 0.0, 0
        with decode.evaluating(self.model):
            for batch in bucket_batches([len(c) for _, c in mine], BATCH, None):
                tgt_in, tgt_out = targets([mine[i][1] for i in batch])
                logits, _ = self.model(images[[mine[i][0] for i in batch]], tgt_in)
                total += float(caption_loss(logits, tgt_out, None, 0.0, "sum")[0])
                count += int((tgt_out != PAD).sum())
        total, count = all_sum([total, float(count)], world)
        return total / max(count, 1)

    # ----------------------------------------------------------------- decoding
    @torch.no_grad()
    def caption(
        self,
        images: Tensor,
        beam: int = 1,
        nbest: int = 1,
        max_length: int | None = None,
        length_penalty: float = 1.0,
        temperature: float = 0.0,
        top_k: int = 0,
        top_p: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> list[list[Caption]]:
        """The ``nbest`` best captions of each image ``(N, 3, H, W)`` (beam search), or one (greedy
        with ``beam=1``; sampled with ``temperature > 0``), in the images' order."""
        limit = checks.positive_int("max_length", max_length or self.max_length)
        checks.positive_int("beam", beam)
        out: list[list[Caption]] = []
        grid = self.model.grid_shape(*map(int, images.shape[-2:])) if self.model.attention is not None else None
        for first in range(0, images.shape[0], BATCH):  # each search puts the model in eval mode
            found = decode.search(
                self.model,
                images[first : first + BATCH],
                None,
                beam,
                nbest,
                limit,
                length_penalty,
                temperature,
                top_k,
                top_p,
                generator,
            )
            out += [[self._caption(h, grid) for h in hyps] for hyps in found]
        return out

    def _caption(self, hyp: decode.Hypothesis, grid: tuple[int, int] | None) -> Caption:
        ids = list(hyp.tokens)
        weights = None
        if hyp.attention is not None and grid is not None:
            weights = hyp.attention.float().reshape(len(ids), *grid)
        words = [self.vocab.piece(i) for i in ids]
        return Caption(self.vocab.decode(ids), words, float(hyp.score), float(hyp.log_prob), weights)
