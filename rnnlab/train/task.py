"""The task protocol: what a task gives :class:`rnnlab.train.Trainer`, which does the rest.

A task owns its model, its data and what it means to do well: it hands out training batches
(with whatever state it carries from one to the next, such as a language model's hidden state),
turns a batch into a loss, scores the current weights, and names the score that picks the best
weights. The trainer owns everything else once: optimizer and schedule, clipping and its
telemetry, gradient-flow records, budget and limits, early stopping, evaluation cadence, signals,
divergence, checkpoints, exact resume, progress lines and ``metrics.jsonl``.

A new task is a subclass in :mod:`rnnlab.tasks` plus one line in its registry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from torch import Tensor, nn


class Task(ABC):
    """Base class of the tasks.

    Attributes:
        kind: the name saved in the run (``lm``, ``sequence``, ``classify``, ``tag``).
        unit: what a batch's ``tokens`` count, for the speed on the progress line.
        speed_key: the name of the speed in ``metrics.jsonl``.
        parallel: the task shards its batches and evaluations over the processes of a
            data-parallel run (:mod:`rnnlab.train.distributed`).
        evaluate_first: also score the untrained weights (the start of a learning curve).
        model: the model trained.
        metric: the key of :meth:`evaluate`'s scores that picks the best weights.
        higher_is_better: whether a larger ``metric`` is better.
        batch_size: examples per batch, as the task was built (the trainer checks it against its options).
    """

    kind: ClassVar[str]
    #: whether the task trains on several processes (each takes its share of every batch)
    parallel: ClassVar[bool] = False
    unit: ClassVar[str] = "token"
    speed_key: ClassVar[str] = "tokens_per_s"
    evaluate_first: ClassVar[bool] = False
    model: nn.Module
    metric: str
    higher_is_better: bool
    batch_size: int

    @classmethod
    def check_processes(cls, batch_size: int, processes: int) -> None:
        """Refuse (``ValueError``) a number of processes that batches of ``batch_size`` cannot be
        shared out over; called before the processes start."""
        return None

    @property
    def batches_per_epoch(self) -> int | None:
        """Batches in one pass over the training data, or ``None`` for an endless stream."""
        return None

    @abstractmethod
    def next_batch(self) -> Any:
        """The next training batch (this advances the task's data position)."""

    @abstractmethod
    def loss(self, batch: Any) -> tuple[Tensor, dict[str, float]]:
        """Run the model on ``batch`` (in training mode).

        Returns:
            The scalar to minimise, and the batch's figures: ``loss`` (as reported, a float),
            ``tokens`` (what the speed counts) and any training metric (recorded as ``train_<name>``).
        """

    @abstractmethod
    def evaluate(self) -> dict[str, float]:
        """Scores of the current weights on the held-out data (the model is in eval mode, without
        gradients); the keys name the split, e.g. ``val_loss``."""

    def format_scores(self, scores: dict[str, float]) -> str:
        """The scores as the progress line shows them."""
        return "  ".join(f"{k} {v:.4g}" for k, v in scores.items() if isinstance(v, float))

    def state_dict(self) -> tuple[dict[str, Tensor], dict]:
        """What resume needs of the task: tensors (carried state, generators) and JSON (positions)."""
        return {}, {}

    def load_state_dict(self, tensors: dict[str, Tensor], info: dict) -> None:  # noqa: B027 (optional)
        """Inverse of :meth:`state_dict`."""

    def sections(self) -> dict[str, Any]:
        """The task's configuration sections (``model``, ``data``) for ``config.json``."""
        return {}

    def tables(self) -> dict[str, Any]:
        """JSON the task needs to be rebuilt from its run (vocabulary, labels, ...)."""
        return {}

    def describe(self) -> str:
        """One or more lines about the task, data and model, printed when training starts."""
        return self.kind

    def sample(self, record: dict) -> str | None:
        """What the model makes now (a language model's sample, a captioner's captions), or ``None``.

        The trainer prints it after the evaluation's line ``record`` and appends it to the run's
        ``samples.jsonl``, so that one can watch the output improve (``rnnlab samples OUT``).
        """
        return None

    def results(self, best: nn.Module) -> dict:
        """The best weights' (``best``, in eval mode) scores on the held-out splits, for
        ``results.json``; ``{}`` writes none."""
        return {}

    def new_model(self) -> nn.Module:
        """A fresh model of the same architecture (the best weights are loaded into it)."""
        raise NotImplementedError
