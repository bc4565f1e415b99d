"""What the trainer records at every step, beyond the evaluations in ``metrics.jsonl``.

``steps.csv``: one row per step with the loss, the gradient's global norm *before* clipping,
whether clipping acted and the learning rate. ``gradflow.jsonl``: every ``telemetry_every`` steps,
the profile ``||dL/dh_t||`` over the positions ``t`` of that step's chunk, per layer, taken by
:class:`rnnlab.GradientFlow` during the step's own backward pass (no extra pass).

Rows are kept in memory and appended at each evaluation, just before the checkpoint; a resumed run
first drops the rows written after the checkpoint it continues from.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from torch import Tensor

from rnnlab.fileio import atomic_write_bytes

STEPS = "steps.csv"
GRADFLOW = "gradflow.jsonl"
STEP_FIELDS = ("step", "loss", "grad_norm", "clipped", "lr")
PLOTS = ("loss.png", "clipping.png", "gradflow.png")  # drawn by rnnlab.viz.training.plot_run


class Telemetry:
    """Buffers per-step rows and gradient-flow profiles for one run directory.

    Args:
        out: the run directory.
        resume_step: the step a resumed run continues from (later rows on disk are dropped), or ``None``.
    """

    def __init__(self, out: Path, resume_step: int | None = None) -> None:
        self.out = out
        self.rows: list[tuple] = []
        self.profiles: list[dict] = []
        if resume_step is not None:
            self._truncate(resume_step)

    def add_step(self, step: int, loss: float, grad_norm: float, clipped: bool, lr: float) -> None:
        self.rows.append((step, f"{loss:.6g}", f"{grad_norm:.6g}", int(clipped), f"{lr:.6g}"))

    def add_profile(self, step: int, norms: list[Tensor]) -> None:
        """``norms``: one ``(T,)`` tensor of ``||dL/dh_t||`` per layer."""
        self.profiles.append({"step": step, "norms": [[float(f"{v:.5g}") for v in n.tolist()] for n in norms]})

    def flush(self) -> None:
        """Append what was buffered to the files."""
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

    def _truncate(self, step: int) -> None:
        """Keep the rows up to ``step`` (and drop a line torn by a crash), rewriting atomically."""
        if (self.out / STEPS).exists():
            text = io.StringIO()
            writer = csv.writer(text)
            writer.writerow(STEP_FIELDS)
            writer.writerows([[r[k] for k in STEP_FIELDS] for r in read_steps(self.out) if r["step"] <= step])
            atomic_write_bytes(self.out / STEPS, text.getvalue().encode())
        if (self.out / GRADFLOW).exists():
            kept = "".join(json.dumps(p) + "\n" for p in read_profiles(self.out) if p["step"] <= step)
            atomic_write_bytes(self.out / GRADFLOW, kept.encode())


def read_steps(out: Path) -> list[dict]:
    """The rows of ``steps.csv`` (numbers parsed), or ``[]`` if there is none.

    A row that does not parse (the last line of a file whose writer was killed mid-append) is skipped.
    """
    path = out / STEPS
    if not path.exists():
        return []
    rows = []
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        for r in csv.DictReader(f):
            try:
                rows.append(
                    {"step": int(r["step"]), "loss": float(r["loss"]), "grad_norm": float(r["grad_norm"]),
                     "clipped": int(r["clipped"]), "lr": float(r["lr"])}
                )  # fmt: skip
            except (TypeError, ValueError, KeyError):
                continue
    return rows


def read_profiles(out: Path) -> list[dict]:
    """The records of ``gradflow.jsonl``, or ``[]``; a line that does not parse is skipped."""
    path = out / GRADFLOW
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
            if isinstance(record.get("step"), int) and isinstance(record.get("norms"), list):
                records.append(record)
        except (ValueError, AttributeError):
            continue
    return records
