"""The figure of a cell search: each candidate's fitness against the evaluations run so far."""

from __future__ import annotations

from pathlib import Path

from rnnlab.viz.figure import pyplot, save_png


def plot_fitness(history: list[tuple[int, float | None, str]], path: Path, tasks: list[str]) -> None:
    """Fitness (the minimum over ``tasks`` of the score relative to the GRU's) of every evaluated
    candidate, the best so far, and the GRU's 1; filtered and failed candidates as ticks at 0."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=100)
    done = [(k, f) for k, f, status in history if status == "done" and f is not None]
    other = [k for k, f, status in history if status != "done"]
    if done:
        ax.scatter([k for k, _ in done], [f for _, f in done], s=14, color="C0", label="evaluated candidate")
        best, line = float("-inf"), []
        for k, f in done:
            best = max(best, f)
            line.append((k, best))
        ax.step([k for k, _ in line], [b for _, b in line], where="post", color="C3", label="best so far")
    if other:
        ax.scatter(other, [0.0] * len(other), marker="|", s=60, color="0.5", label="filtered or failed")
    ax.axhline(1.0, color="0.3", linestyle="--", linewidth=1.2, label="GRU (reference)")
    ax.set_xlabel("evaluations (trainings) run")
    ax.set_ylabel("fitness (min over tasks of score / GRU's)")
    ax.set_title(f"cell search on {', '.join(tasks)}")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_png(fig, path)
