"""The base classes of the sequence tasks of :mod:`rnnlab.data.tasks`: a :class:`Task` is a data
source with its loss, metrics and the baseline a model must beat; a :class:`SyntheticTask` generates
its sequences (fresh training data, fixed seeded evaluation sets).

Tensors are time-major: ``x`` is ``(T, B, input_size)``. A ``classify-every`` target of
:data:`IGNORE` marks a step without a target: :func:`cross_entropy` skips it.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnlab import checks

KINDS = ("regression", "classify", "classify-every")
SPLITS = ("train", "test")
EVAL_SEQUENCES = 2000  # synthetic tasks: the fixed, seeded evaluation set of each split
EVAL_BATCH = 500
IGNORE = -100  # a classify-every target that counts for nothing (a step without a target)


def cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy in nats of logits ``(..., C)`` against class indices ``(...)``, over the
    targets that are not :data:`IGNORE`."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE)


class Task:
    """A supervised sequence task.

    Attributes:
        name: the registry name.
        steps: ``T`` as the task defines it (for ``copy`` the delay; see :attr:`length`).
        length: time steps of an input sequence (``T`` except for ``copy``: ``T + 20``).
        input_size: features per step.
        output_size: outputs of the model's readout (1 for regression, classes otherwise).
        kind: ``"regression"`` and ``"classify"`` read the last step; ``"classify-every"`` every step.
        metric: the name of the headline metric in :meth:`metrics` and :attr:`baseline`.
        higher_is_better: whether a larger :attr:`metric` is better.
        seed: the seed of the task's fixed randomness (evaluation sets, split, permutation).
    """

    kind = "regression"
    metric = "mse"
    higher_is_better = False

    def __init__(self, name: str, steps: int, length: int, input_size: int, output_size: int, seed: int) -> None:
        self.name, self.steps, self.length, self.seed = name, steps, length, seed
        self.input_size, self.output_size = input_size, output_size

    def batch(self, batch_size: int, generator: torch.Generator, split: str = "train") -> tuple[Tensor, Tensor]:
        """A training (or test) minibatch.

        Args:
            batch_size: sequences in the batch.
            generator: the random stream (synthetic tasks draw fresh sequences from it; image tasks
                a random minibatch of the split).
            split: ``"train"`` or ``"test"``.

        Returns:
            ``(x, y)``: ``x (T, B, input_size)`` float32; ``y (B,)`` float32 for regression,
            ``(B,)`` int64 for ``classify``, ``(T, B)`` int64 for ``classify-every``.
        """
        raise NotImplementedError

    def evaluation_batches(self, split: str = "test", batch_size: int = EVAL_BATCH) -> Iterator[tuple[Tensor, Tensor]]:
        """Batches ``(x, y)`` that cover the whole split (image tasks) or a fixed seeded set (synthetic)."""
        raise NotImplementedError

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        """The training loss (a scalar): MSE for regression, mean cross-entropy in nats otherwise.

        Args:
            pred: what :class:`rnnlab.models.sequence.SequenceModel` returns: ``(B,)`` for
                regression, logits ``(B, C)`` for ``classify``, ``(T, B, C)`` for ``classify-every``.
            y: the targets of :meth:`batch`.
        """
        raise NotImplementedError

    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        """``{metric: value}`` of a batch, a mean over its sequences (so batches average by size)."""
        raise NotImplementedError

    @property
    def baseline(self) -> dict:
        """``{"loss": ..., <metric>: ..., "what": ...}``: what a model without memory achieves."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line about the task's data."""
        return f"{self.name}: T = {self.steps}, {self.input_size} input(s) per step, kind {self.kind}"

    def _check_batch(self, batch_size: int, split: str) -> None:
        checks.positive_int("batch_size", batch_size)
        checks.choice("split", split, SPLITS)


class SyntheticTask(Task):
    """A task whose sequences are generated: fresh training data, fixed seeded evaluation sets."""

    def __init__(self, *args, eval_size: int = EVAL_SEQUENCES, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.eval_size = checks.positive_int("eval_size", eval_size)
        self._eval_sets: dict[str, tuple[Tensor, Tensor]] = {}

    def draw(self, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``batch_size`` fresh sequences ``(x, y)`` from ``generator``."""
        raise NotImplementedError

    def batch(self, batch_size: int, generator: torch.Generator, split: str = "train") -> tuple[Tensor, Tensor]:
        self._check_batch(batch_size, split)
        return self.draw(batch_size, generator)  # both splits come from the same distribution

    def evaluation_set(self, split: str = "test") -> tuple[Tensor, Tensor]:
        """The fixed set of ``eval_size`` sequences of ``split``, drawn once from the task's seed."""
        checks.choice("split", split, SPLITS)
        if split not in self._eval_sets:
            # far from small training seeds, and different for each split
            gen = torch.Generator().manual_seed((self.seed + 1) * 1_000_003 + SPLITS.index(split))
            self._eval_sets[split] = self.draw(self.eval_size, gen)
        return self._eval_sets[split]

    def evaluation_batches(self, split: str = "test", batch_size: int = EVAL_BATCH) -> Iterator[tuple[Tensor, Tensor]]:
        checks.positive_int("batch_size", batch_size)
        x, y = self.evaluation_set(split)  # (T, N, D), (N,) or (T, N)
        batch_dim = y.dim() - 1
        for start in range(0, x.shape[1], batch_size):
            yield x[:, start : start + batch_size], y.narrow(batch_dim, start, min(batch_size, x.shape[1] - start))
