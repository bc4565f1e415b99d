"""Several cells on the same long-range task, one after another, with the same data and seeds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnlab.cells import check_cells
from rnnlab.cells.named import label
from rnnlab.data.tasks import Task as LongRangeTask
from rnnlab.data.tasks import make_task
from rnnlab.tasks.sequence import SequenceTask, resolve_configs
from rnnlab.train.progress import Progress
from rnnlab.train.trainer import Trainer, check_out


@dataclass
class Comparison:
    """The runs of a comparison: one summary (see :meth:`rnnlab.train.Trainer.run`), the evaluation
    records and the clipping threshold per cell, in order; ``interrupted`` if Ctrl-C ended it early."""

    task: LongRangeTask
    summaries: dict[str, dict] = field(default_factory=dict)
    records: dict[str, list[dict]] = field(default_factory=dict)
    clip_norms: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False

    def table(self) -> dict:
        """What ``compare.json`` holds."""
        t = self.task
        runs = [{"cell": cell, **brief(s)} for cell, s in self.summaries.items()]
        return {"task": t.name, "T": t.steps, "metric": t.metric, "baseline": t.baseline, "runs": runs}


def brief(summary: dict) -> dict:
    """A run's line in a comparison: size, steps, time, final and best score, target, divergence."""
    metric = summary["metric"]
    name = metric.removeprefix("test_")  # the task's own name for it (mse, accuracy, loss)

    def point(r: dict | None) -> dict | None:
        return (
            None
            if r is None
            else {"step": r["step"], "elapsed_s": r["elapsed_s"], "test_loss": r["test_loss"], name: r[metric]}
        )

    keys = ("parameters", "steps", "seconds", "target", "diverged")
    return {**{k: summary[k] for k in keys}, "final": point(summary["final"]), "best": point(summary["best"])}


def compare_cells(
    task_name: str,
    cells: list[str],
    given: dict[str, Any],
    out: Path,
    force: bool = False,
    progress: Progress | None = None,
) -> Comparison:
    """Train each of ``cells`` on ``task_name`` into ``out/<cell>`` in turn (``graph:a.json`` into
    ``out/graph-a``, see :func:`rnnlab.cells.named.label`).

    Every configuration and run directory is checked before the first run starts.

    Raises:
        ValueError: an unknown or repeated cell, a bad option, or a run directory in the way.
    """
    check_cells("--cells", cells)
    labels = [label(c) for c in cells]
    if not cells or len(set(labels)) != len(labels):
        raise ValueError(f"--cells: expected distinct cell names, got {','.join(cells) or 'none'}")
    configs = {label(cell): resolve_configs(task_name, cell, given) for cell in cells}
    for cell in configs:
        check_out(out / cell, force)
    progress = progress or Progress()
    result = Comparison(make_task(task_name, given.get("steps"), given.get("data_seed", 0)))
    for k, (cell, (model_cfg, optim, run)) in enumerate(configs.items()):
        progress.log(f"==== {cell} ({k + 1}/{len(cells)}) ====")
        task = SequenceTask(model_cfg, optim.batch_size, run.seed)
        trainer = Trainer(task, out / cell, optim, run, progress, force=force)
        result.summaries[cell] = trainer.run()
        result.records[cell] = trainer.records
        result.clip_norms[cell] = optim.clip_norm
        if result.summaries[cell]["interrupted"]:
            result.interrupted = True
            break
    return result
