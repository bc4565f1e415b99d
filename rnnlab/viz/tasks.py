"""Learning curves of the long-range tasks, always drawn against the task's baseline."""

from __future__ import annotations

from pathlib import Path

from rnnlab.data.tasks import Task
from rnnlab.viz.figure import pyplot, save_png

BASELINE_STYLE = {"color": "0.3", "linestyle": "--", "linewidth": 1.2}


def _series(records: list[dict], key: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[key]) for r in records if r.get(key) is not None]
    return ([p[0] for p in points], [p[1] for p in points]) if points else ([], [])


LOG_SCALE = ("loss", "mse")  # losses span decades as a model learns; accuracies stay linear


def _ylabel(task: Task, name: str) -> str:
    if name == "loss":
        return "MSE" if task.metric == "mse" else "cross-entropy (nats per step)"
    return name


def plot_task_curve(records: list[dict], task: Task, path: Path, title: str = "") -> None:
    """Train and test loss (and the headline metric when it is not the loss) against steps.

    Args:
        records: the lines of ``metrics.jsonl`` (``step``, ``train_loss``, ``test_loss``,
            ``train_<metric>``, ``test_<metric>``).
        task: the task (for its metric, kind and baseline).
        path: where to write the PNG.
        title: the figure's title.
    """
    plt = pyplot()
    panels = ["loss"] if task.metric == "mse" else ["loss", task.metric]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.2), dpi=100, squeeze=False)
    baseline = task.baseline
    for ax, name in zip(axes[0], panels):
        keys = ("train_loss", "test_loss") if name == "loss" else (f"train_{name}", f"test_{name}")
        for key, what in zip(keys, ("training (mean since the previous point)", "test")):
            ax.plot(*_series(records, key), marker=".", label=what)
        ax.axhline(baseline[name], label=f"baseline: {baseline['what']}", **BASELINE_STYLE)
        if name in LOG_SCALE:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(_ylabel(task, name))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_png(fig, path)


def plot_comparison(runs: dict[str, list[dict]], task: Task, path: Path, title: str = "") -> None:
    """One plot: the test metric of each run (one curve per cell) against steps, with the baseline.

    Args:
        runs: ``{cell: records of metrics.jsonl}``.
        task: the task all runs trained on.
        path: where to write the PNG.
        title: the figure's title.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=100)
    key = f"test_{task.metric}"
    for cell, records in runs.items():
        ax.plot(*_series(records, key), marker=".", markersize=3, label=cell)
    baseline = task.baseline
    ax.axhline(baseline[task.metric], label=f"baseline: {baseline['what']}", **BASELINE_STYLE)
    if task.metric in LOG_SCALE:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"test {task.metric}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title or f"{task.name}, T = {task.steps}")
    fig.tight_layout()
    save_png(fig, path)
