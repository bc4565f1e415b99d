"""What the trainer records at every step, beyond the evaluations in ``metrics.jsonl``.

``steps.csv``: one row per step with the loss, the gradient's global norm *before* clipping,
whether clipping acted and the learning rate. ``gradflow.jsonl``: every ``telemetry_every`` steps,
the profile ``||dL/dh_t||`` over the positions ``t`` of that step's sequences, per layer, taken by
:class:`rnnlab.GradientFlow` during the step's own backward pass (no extra pass).

Rows are kept in memory and appended at each evaluation, just before the checkpoint; a resumed run
first drops the rows written after the checkpoint it continues from
(:func:`rnnlab.runs.truncate_records`). :mod:`rnnlab.runs` reads them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from torch import Tensor

from rnnlab.runs import GRADFLOW, STEP_FIELDS, STEPS


class Telemetry:
    """Buffers per-step rows and gradient-flow profiles for one run directory."""

    def __init__(self, out: Path | None) -> None:
        self.out = out  # None: records nothing (a process other than the run's writer)
        self.rows: list[tuple] = []
        self.profiles: list[dict] = []

    def add_step(self, step: int, loss: float, grad_norm: float, clipped: bool, lr: float) -> None:
        self.rows.append((step, f"{loss:.6g}", f"{grad_norm:.6g}", int(clipped), f"{lr:.6g}"))

    def add_profile(self, step: int, norms: list[Tensor]) -> None:
        """``norms``: one ``(T,)`` tensor of ``||dL/dh_t||`` per layer (none: nothing is recorded)."""
        if norms:
            self.profiles.append({"step": step, "norms": [[float(f"{v:.5g}") for v in n.tolist()] for n in norms]})

    def flush(self) -> None:
        """Append what was buffered to the files."""
        if self.out is None:
            self.rows, self.profiles = [], []
            return
        path = self.out / STEPS
        if self.rows:
            new = not path.exists()
            with open(path, "a", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                if new:
                    writer.writerow(STEP_FIELDS)
                writer.writerows(self.rows)
        if self.profiles:
            with open(self.out / GRADFLOW, "a", encoding="utf-8") as f:
                f.writelines(json.dumps(p) + "\n" for p in self.profiles)
        self.rows, self.profiles = [], []
