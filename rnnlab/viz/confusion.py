"""The confusion matrix of a classifier as a PNG: true class by row, predicted class by column."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab.viz.figure import pyplot, save_png

#: the most classes drawn (a cell for every pair, with its count written in it)
MAX_CLASSES = 50


def plot_confusion(matrix: list[list[int]], names: list[str], path: Path, title: str) -> None:
    """Counts in each cell, shaded by the share of the true class (row) they hold.

    Raises:
        ValueError: more than :data:`MAX_CLASSES` classes (the figure would be unreadable and huge).
    """
    if len(names) > MAX_CLASSES:
        raise ValueError(f"a confusion matrix of {len(names):,} classes is not drawn (at most {MAX_CLASSES})")
    m = np.asarray(matrix, dtype=np.int64)
    share = m / np.maximum(m.sum(1, keepdims=True), 1)
    plt = pyplot()
    size = 2.2 + 0.55 * len(names)
    fig, ax = plt.subplots(figsize=(size + 1.2, size), dpi=100)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{m[i, j]}", ha="center", va="center", color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(
        range(len(names)), names, rotation=45 if len(names) > 3 else 0, ha="right" if len(names) > 3 else "center"
    )
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(m) / max(m.sum(), 1)
    ax.set_title(f"{title} (accuracy {accuracy:.3f})", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the true class")
    fig.tight_layout()
    save_png(fig, path)
