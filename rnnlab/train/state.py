"""The trainer's counters, its window of training figures between evaluations, and how scores compare."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class TrainerState:
    """The trainer's counters, saved with every checkpoint (JSON)."""

    step: int = 0
    elapsed_s: float = 0.0
    best: float | None = None
    best_step: int = 0
    plateau_scale: float = 1.0  # the plateau schedule's product of decays so far
    stale: int = 0  # evaluations since the best
    reached: dict | None = None  # {"step", "seconds"} when the target was first reached
    loss_start: float | None = None  # the training loss of the first step (the divergence guard's)
    loss_level: float | None = None  # the training loss's running level (the divergence guard's)
    epochs: float | None = None  # passes over the training data at the checkpoint (None: saved before it was kept)
    paths: dict | None = None  # path="auto"'s decisions (rnnlab.path_choice.record), for a resume to take


class Window:
    """Training figures since the last evaluation."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.norm = self.seconds = 0.0
        self.steps = self.clipped = self.tokens = 0

    def add(self, figures: dict[str, float], norm: float, clipped: bool, seconds: float) -> None:
        for key, value in figures.items():
            if key == "tokens":
                self.tokens += int(value)
            else:
                self.sums[key] = self.sums.get(key, 0.0) + value
        self.norm += norm
        self.clipped += clipped
        self.seconds += seconds
        self.steps += 1

    def mean(self, key: str) -> float | None:
        return self.sums[key] / self.steps if self.steps and key in self.sums else None


def reached(value: float, target: float | None, higher: bool) -> bool:
    """Whether a score ``value`` meets ``target`` (``None``: there is none)."""
    if target is None or math.isnan(value):
        return False
    return value >= target if higher else value <= target


def better(value: float, than: float | None, higher: bool) -> bool:
    """Whether ``value`` improves on ``than`` (``None``: nothing yet); NaN never does."""
    if math.isnan(value):
        return False
    return than is None or (value > than if higher else value < than)
