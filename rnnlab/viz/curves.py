"""Learning curves."""

from __future__ import annotations

import math
from pathlib import Path

from rnnlab.viz.figure import pyplot, save_png


def plot_loss_curves(records: list[dict], path: Path) -> None:
    """Training and validation loss (nats per character) against steps, saved as PNG."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    steps = [r["step"] for r in records]
    train = [(r["step"], r["train_loss"]) for r in records if r.get("train_loss") is not None]
    if train:
        ax.plot(*zip(*train), label="training (mean since the previous point)", marker=".")
    ax.plot(steps, [r["val_loss"] for r in records], label="validation", marker=".")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per character)")
    secondary = ax.secondary_yaxis("right", functions=(lambda n: n / math.log(2), lambda b: b * math.log(2)))
    secondary.set_ylabel("bits per character")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_png(fig, path)
