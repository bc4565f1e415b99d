"""Long-range sequence tasks, each a data generator with the baseline a model must beat.

- ``adding`` (Hochreiter & Schmidhuber 1997; the setup of Le, Jaitly & Hinton 2015): ``T`` steps of
  two channels, a value drawn from U[0, 1] and a marker; exactly two steps are marked (one in
  each half of the sequence) and the target is the sum of the two marked values, read from the
  last step. Baseline: always predict the mean sum; its MSE is the variance of the sum.
- ``copy`` (copying memory, Arjovsky, Shah & Bengio 2016): ``T`` is the paper's T, the delay. The
  input has ``T + 20`` steps: 10 symbols drawn from 8 data symbols, ``T - 1`` blanks, the
  delimiter, 10 blanks; the target is blank for ``T + 10`` steps, then the 10 symbols.
  Cross-entropy at every step. Baseline: a memoryless model that outputs blank and then guesses
  uniformly among the 8 symbols, ``10 log(8) / (T + 20)`` nats per step.
- ``arithmetic``, ``xml`` (Jozefowicz, Zaremba & Sutskever 2015): characters in, the answer or the
  next character out at every step; see :mod:`rnnlab.data.text_tasks`. Baseline: a memoryless
  model that predicts from the current input character alone.
- ``digits``, ``mnist`` (sequential digits, Le et al. 2015): an image read one pixel per step
  (``T = 64`` for scikit-learn's 8x8 digits, ``784`` for MNIST), ``mnist-rows`` one row of 28
  pixels per step (``T = 28``), ``*-permuted`` the pixels in a fixed random order. One label from
  the last step. Stratified 80/20 train/test split. Baseline: always predict the most frequent
  training class.

Every baseline is computed from the generator's distribution or the data, never typed in.
Tensors are time-major: ``x`` is ``(T, B, input_size)``. The base classes live in
:mod:`rnnlab.data.task_base`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from functools import partial

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from rnnlab import checks
from rnnlab.data.digits import load_images, pixel_permutation, stratified_split
from rnnlab.data.task_base import EVAL_BATCH, SPLITS, SyntheticTask, Task, cross_entropy
from rnnlab.data.text_tasks import ArithmeticTask, XmlTask

__all__ = ["TASKS", "SyntheticTask", "Task", "cross_entropy", "make_task"]

TEST_FRACTION = 0.2  # image tasks: 80/20 stratified split


class AddingTask(SyntheticTask):
    """The adding problem: remember two marked values among ``T`` and output their sum.

    Input channel 0 holds values from U(:attr:`value_range`), channel 1 the markers. The first marker
    falls uniformly in the first half ``[0, T // 2)``, the second in ``[T // 2, T)``, so the first
    value must be held for at least ``T / 2`` steps.

    Args:
        name: registry name.
        steps: ``T``, the sequence length (default 150, the middle length of Le et al. 2015).
        seed: seed of the evaluation sets.
    """

    kind, metric, higher_is_better = "regression", "mse", False
    value_range = (0.0, 1.0)
    markers = 2

    def __init__(self, name: str = "adding", steps: int | None = None, seed: int = 0, **kwargs) -> None:
        steps = 150 if steps is None else steps
        super().__init__(name, steps, steps, 2, 1, seed, **kwargs)

    def draw(self, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        T, B = self.steps, batch_size
        low, high = self.value_range
        values = low + (high - low) * torch.rand(T, B, generator=generator)  # (T, B)
        first = torch.randint(0, T // 2, (B,), generator=generator)  # (B,)
        second = torch.randint(T // 2, T, (B,), generator=generator)  # (B,)
        marks = torch.zeros(T, B)  # (T, B)
        cols = torch.arange(B)
        marks[first, cols] = 1.0
        marks[second, cols] = 1.0
        x = torch.stack([values, marks], dim=-1)  # (T, B, 2)
        y = (values * marks).sum(0)  # (B,)
        return x, y

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return F.mse_loss(pred, y)

    @torch.no_grad()
    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        return {"mse": float(F.mse_loss(pred, y))}

    @property
    def baseline(self) -> dict:
        # the sum of independent values: mean = markers * E[v], MSE of the mean = markers * Var[v]
        value = torch.distributions.Uniform(*self.value_range)
        mean, mse = self.markers * float(value.mean), self.markers * float(value.variance)
        y = self.evaluation_set("test")[1]  # the same predictor on the finite test set, for reference
        return {
            "loss": mse,
            "mse": mse,
            "test_set_mse": float(((y - mean) ** 2).mean()),
            "what": f"always predict the mean sum {mean:g}",
        }

    def describe(self) -> str:
        return f"adding: T = {self.steps} steps of (value ~ U[0, 1], marker); predict the sum of the 2 marked values"


class CopyTask(SyntheticTask):
    """Copying memory (Arjovsky et al. 2016): repeat 10 symbols after a delay of ``T`` steps.

    Symbols: 0 is the blank, ``1..8`` the data symbols, 9 the delimiter (input only). The input
    has ``T + 20`` steps: 10 data symbols, ``T - 1`` blanks, the delimiter, 10 blanks. The target
    is blank for ``T + 10`` steps and then the 10 data symbols. ``x`` is one-hot ``(T + 20, B, 10)``.
    The headline metric is the accuracy on the 10 recalled symbols (a memoryless model: 1/8).

    Args:
        name: registry name.
        steps: ``T``, the delay (default 100, the shortest delay of Arjovsky et al.).
        seed: seed of the evaluation sets.
    """

    kind, metric, higher_is_better = "classify-every", "accuracy", True
    symbols = 8  # data symbols
    recall = 10  # symbols to copy

    def __init__(self, name: str = "copy", steps: int | None = None, seed: int = 0, **kwargs) -> None:
        steps = 100 if steps is None else steps
        super().__init__(name, steps, steps + 2 * self.recall, self.symbols + 2, self.symbols + 1, seed, **kwargs)

    @property
    def delimiter(self) -> int:
        return self.symbols + 1

    def draw(self, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        L, R = self.length, self.recall
        data = torch.randint(1, self.symbols + 1, (R, batch_size), generator=generator)  # (10, B)
        seq = torch.zeros(L, batch_size, dtype=torch.long)  # (L, B)
        seq[:R] = data
        seq[L - R - 1] = self.delimiter
        target = torch.zeros(L, batch_size, dtype=torch.long)  # (L, B)
        target[L - R :] = data
        return F.one_hot(seq, self.input_size).float(), target  # (L, B, 10), (L, B)

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return cross_entropy(pred, y)  # every step counts, blanks included (as in the paper)

    @torch.no_grad()
    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        R = self.recall
        return {"accuracy": float((pred[-R:].argmax(-1) == y[-R:]).float().mean())}

    @property
    def baseline(self) -> dict:
        # blank is certain except at the recall steps, where a memoryless model can only guess
        loss = self.recall * math.log(self.symbols) / self.length
        return {
            "loss": loss,
            "accuracy": 1.0 / self.symbols,
            "what": f"memoryless: blank, then uniform over the {self.symbols} symbols ({self.recall} log 8 / (T + 20))",
        }

    def describe(self) -> str:
        R, S, T = self.recall, self.symbols, self.steps
        return f"copy: recall {R} symbols (of {S}) after a delay T = {T} ({self.length} steps)"


class ImageTask(Task):
    """Classify an image read as a sequence: one pixel per step, or one row per step.

    Args:
        name: registry name.
        steps: must be ``None`` or the ``T`` the images give (pixels, or rows with ``rows``).
        seed: seed of the stratified split and of the permutation.
        source: ``"digits"`` or ``"mnist"`` (see :mod:`rnnlab.data.digits`).
        rows: one row per step instead of one pixel.
        permuted: read the pixels in a fixed random order (``numpy`` seeded with ``seed``).
    """

    kind, metric, higher_is_better = "classify", "accuracy", True

    def __init__(
        self,
        name: str,
        steps: int | None = None,
        seed: int = 0,
        source: str = "digits",
        rows: bool = False,
        permuted: bool = False,
    ) -> None:
        images = load_images(source)
        N, H, W = images.pixels.shape
        T, D = (H, W) if rows else (H * W, 1)
        if steps is not None and steps != T:
            per = f"one row of {W} pixels" if rows else "one pixel"
            raise ValueError(f"-T: task {name!r} has T = {T} fixed by its {H}x{W} images ({per} per step), got {steps}")
        super().__init__(name, T, T, D, images.classes, seed)
        self.source, self.rows, self.permuted = images.source, rows, permuted
        flat = images.pixels.reshape(N, H * W)  # (N, H*W)
        self.permutation = pixel_permutation(H * W, seed) if permuted else None
        if self.permutation is not None:
            flat = flat[:, self.permutation]
        seqs = torch.from_numpy(np.array(flat)).reshape(N, T, D)  # (N, T, D); a writable copy
        labels = torch.from_numpy(images.labels.copy())  # (N,)
        train, test = stratified_split(images.labels, TEST_FRACTION, seed)
        self.indices = {"train": train, "test": test}  # into the source's images
        self._x = {s: seqs[torch.from_numpy(i)] for s, i in self.indices.items()}  # (N_s, T, D)
        self._y = {s: labels[torch.from_numpy(i)] for s, i in self.indices.items()}  # (N_s,)

    def size(self, split: str) -> int:
        """Images in ``split``."""
        return len(self._y[checks.choice("split", split, SPLITS)])

    def batch(self, batch_size: int, generator: torch.Generator, split: str = "train") -> tuple[Tensor, Tensor]:
        self._check_batch(batch_size, split)
        n = self.size(split)
        if batch_size > n:
            checks.fail("batch_size", f"at most the {n} images of the {split} split", batch_size)
        idx = torch.randperm(n, generator=generator)[:batch_size]  # distinct images
        return self._x[split][idx].transpose(0, 1).contiguous(), self._y[split][idx]  # (T, B, D), (B,)

    def evaluation_batches(self, split: str = "test", batch_size: int = EVAL_BATCH) -> Iterator[tuple[Tensor, Tensor]]:
        checks.positive_int("batch_size", batch_size)
        x, y = self._x[checks.choice("split", split, SPLITS)], self._y[split]
        for start in range(0, len(y), batch_size):
            yield x[start : start + batch_size].transpose(0, 1).contiguous(), y[start : start + batch_size]

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return cross_entropy(pred, y)

    @torch.no_grad()
    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        return {"accuracy": float((pred.argmax(-1) == y).float().mean())}

    @property
    def baseline(self) -> dict:
        prior = torch.bincount(self._y["train"], minlength=self.output_size).double()
        prior /= prior.sum()
        majority = int(prior.argmax())
        test = self._y["test"]
        return {
            "loss": float(-prior[test].log().mean()),  # cross-entropy of the training class frequencies
            "accuracy": float((test == majority).double().mean()),
            "what": f"always predict the most frequent training class ({majority})",
        }

    def describe(self) -> str:
        order = "rows" if self.rows else "permuted pixels" if self.permuted else "pixels"
        sizes = f"{self.size('train')} train / {self.size('test')} test images"
        return f"{self.name}: {self.source}, {order}, T = {self.steps} x {self.input_size}; {sizes} (stratified)"


TASKS: dict[str, Callable[..., Task]] = {
    "adding": AddingTask,
    "copy": CopyTask,
    "digits": partial(ImageTask, source="digits"),
    "digits-permuted": partial(ImageTask, source="digits", permuted=True),
    "mnist": partial(ImageTask, source="mnist"),
    "mnist-permuted": partial(ImageTask, source="mnist", permuted=True),
    "mnist-rows": partial(ImageTask, source="mnist", rows=True),
    "arithmetic": ArithmeticTask,
    "xml": XmlTask,
}


def make_task(name: str, steps: int | None = None, seed: int = 0) -> Task:
    """Build the registered task ``name``.

    Args:
        name: a key of :data:`TASKS`.
        steps: ``T`` (``None``: the task's default; image tasks accept only their own ``T``).
        seed: seed of the task's fixed randomness (evaluation sets, split, permutation).

    Returns:
        The :class:`Task`.

    Raises:
        ValueError: for an unknown name (listing the known ones), ``T < 2``, or a ``T`` that an
            image task does not have.
    """
    if name not in TASKS:
        raise ValueError(f"task: unknown {name!r}; known tasks: {', '.join(TASKS)}")
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, int):
            checks.fail("T", "an integer", steps)
        if steps < 2:
            raise ValueError(f"-T: T must be at least 2, got {steps}")
    return TASKS[name](name=name, steps=steps, seed=seed)
