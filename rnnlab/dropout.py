"""Dropout whose masks belong to the batch's columns (a language model's streams), not to the process.

A language model trained data-parallel splits its streams across processes. With the usual
dropout, each process draws its masks from its own random stream, so the masks of a stream depend
on how many processes share the batch, and a run resumed on another number of processes cannot
continue them. Inside :func:`per_column`, :class:`Dropout` and :func:`dropout` draw the mask of each
column (stream) of the batch from a generator seeded by the run's seed, the draw (the batch's
number), the column's index in the whole batch and the dropout site (its rank among the dropouts of
one forward). So a column gets the same mask in any process and with any number of processes, and
nothing needs saving to resume it. Outside :func:`per_column` they are ``torch.nn.Dropout``.
"""

from __future__ import annotations

import contextlib
import contextvars

import torch
from torch import Tensor, nn

_MASK64 = (1 << 64) - 1


def _mix(*values: int) -> int:
    """A 63-bit seed from integers: the splitmix64 finaliser (Steele, Lea & Flood 2014, "Fast
    splittable pseudorandom number generators") applied after each value, so that neighbouring
    columns, draws and sites get unrelated generators."""
    h = 0
    for v in values:
        h = (h + (v & _MASK64) + 0x9E3779B97F4A7C15) & _MASK64
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _MASK64
        h ^= h >> 31
    return h >> 1


class _Columns:
    def __init__(self, seed: int, draw: int, columns: range) -> None:
        self.seed, self.draw, self.columns = seed, draw, columns
        self.site = 0  # dropouts run so far in this forward
        self.generator = torch.Generator()

    def masks(self, shape: tuple[int, ...], keep: float, dtype: torch.dtype, dim: int) -> Tensor:
        site, self.site = self.site, self.site + 1
        parts = []
        for column in self.columns:
            self.generator.manual_seed(_mix(self.seed, self.draw, column, site))
            parts.append(torch.empty(shape, dtype=dtype).bernoulli_(keep, generator=self.generator))
        return torch.stack(parts, dim).div_(keep)


_ACTIVE: contextvars.ContextVar[_Columns | None] = contextvars.ContextVar("rnnlab_dropout_columns", default=None)


@contextlib.contextmanager
def per_column(seed: int, draw: int, columns: range):
    """Within: masks drawn per column. ``columns`` are this process's columns' indices in the whole
    batch (all of them for one process), ``draw`` the batch's number in the run."""
    token = _ACTIVE.set(_Columns(seed, draw, columns))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active() -> bool:
    """Whether masks are drawn per column here (then a stack of layers runs its dropouts itself)."""
    return _ACTIVE.get() is not None


def dropout(x: Tensor, p: float, training: bool = True, dim: int = 1) -> Tensor:
    """``torch.nn.functional.dropout`` of ``x``, whose batch (columns) is dimension ``dim``; inside
    :func:`per_column`, with each column's own mask."""
    columns = _ACTIVE.get()
    if columns is None or not training or p in (0, 1):
        return nn.functional.dropout(x, p, training)
    if x.shape[dim] != len(columns.columns):
        raise ValueError(f"dropout: {len(columns.columns)} columns drawn for, got a batch of {x.shape[dim]}")
    shape = x.shape[:dim] + x.shape[dim + 1 :]
    return x * columns.masks(tuple(shape), 1.0 - p, x.dtype, dim)


class Dropout(nn.Dropout):
    """``torch.nn.Dropout`` on tensors ``(T, B, ...)``; inside :func:`per_column`, one mask per column."""

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)
