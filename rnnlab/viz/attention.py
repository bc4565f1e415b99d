"""Attention weights as a PNG: the source along x, the output along y, one panel a translation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab.viz.figure import pyplot, save_png

#: the most tokens drawn on a side (longer texts are cut in the figure, and the title says so)
MAX_TOKENS = 60


def _label(piece: str) -> str:
    """A token as a tick label: white space made visible, SentencePiece's word-start mark dropped."""
    shown = {" ": "␣", "\n": "↵", "\t": "⇥"}.get(piece, piece)
    return shown[1:] if shown.startswith("\u2581") and len(shown) > 1 else shown


def plot_attention(panels: list[tuple[list[str], list[str], np.ndarray]], path: Path, title: str = "") -> None:
    """One heat map per ``(source pieces, output pieces, weights (outputs, sources))``; each row of
    weights sums to one over the source (Bahdanau et al. 2015, Fig. 3)."""
    plt = pyplot()
    widths = [min(len(s), MAX_TOKENS) for s, _, _ in panels]
    heights = [min(len(o), MAX_TOKENS) for _, o, _ in panels]
    fig_w = min(4 + 0.28 * max(widths), 30)
    fig_h = min(sum(1.6 + 0.28 * h for h in heights), 60)
    fig, axes = plt.subplots(len(panels), 1, figsize=(fig_w, fig_h), dpi=100, squeeze=False)
    for ax, (source, output, weights), w, h in zip(axes[:, 0], panels, widths, heights):
        m = np.asarray(weights, dtype=np.float64)[:h, :w]
        image = ax.imshow(m, cmap="Greys", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(w), [_label(p) for p in source[:w]], rotation=90, fontsize=8)
        ax.set_yticks(range(h), [_label(p) for p in output[:h]], fontsize=8)
        ax.set_xlabel("source")
        ax.set_ylabel("output")
        cut = " (cut)" if w < len(source) or h < len(output) else ""
        fig.colorbar(image, ax=ax, fraction=0.03, label=f"weight{cut}")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_png(fig, path)
