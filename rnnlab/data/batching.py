"""Minibatches of variable-length sequences: similar lengths together, padded with 0."""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from torch import Tensor


def bucket_batches(lengths: Sequence[int], batch_size: int, rng: random.Random | None) -> list[list[int]]:
    """Indices grouped into batches of similar length, so little of a batch is padding.

    With ``rng`` the order is shuffled, then sorted by length within pools of 50 batches, and the
    batches come in random order; without it, batches follow the order of the lengths (for
    evaluation, whose results are put back in input order by the caller).
    """
    order = list(range(len(lengths)))
    if rng is None:
        order.sort(key=lambda i: lengths[i])
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(order)
    pool = 50 * batch_size
    batches = []
    for p in range(0, len(order), pool):
        chunk = sorted(order[p : p + pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def pad(seqs: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
    """``(ids (T, B) int64 padded with 0, lengths (B,) int64)`` of non-empty id lists."""
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
    ids = torch.zeros(int(lengths.max()), len(seqs), dtype=torch.int64)
    for b, s in enumerate(seqs):
        ids[: len(s), b] = torch.as_tensor(s, dtype=torch.int64)
    return ids, lengths
