"""The agreement probe's figure: accuracy against the number of words between subject and verb."""

from __future__ import annotations

from pathlib import Path

from rnnlab.viz.figure import pyplot, save_png


def plot_agreement(results: dict[str, dict[int, dict]], path: Path) -> None:
    """One line per model (label -> distance -> ``{"accuracy", ...}``), against chance (0.5)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    for label, by_distance in results.items():
        ds = sorted(by_distance)
        ax.plot(ds, [by_distance[d]["accuracy"] for d in ds], marker="o", markersize=3, label=label)
    ax.axhline(0.5, color="0.3", linestyle="--", linewidth=1.2, label="chance")
    ax.set_xlabel("words between the subject and the verb")
    ax.set_ylabel("agreeing verb preferred (fraction of pairs)")
    ax.set_ylim(0, 1.02)
    ax.set_title("Subject-verb agreement over distance")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_png(fig, path)
