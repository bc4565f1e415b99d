"""The gate-saturation scatter (Karpathy, Johnson & Fei-Fei 2015, Fig. 4) of
:func:`rnnlab.interpret.saturation.gate_saturation`."""

from __future__ import annotations

from pathlib import Path

from rnnlab.interpret.saturation import LEFT, RIGHT
from rnnlab.viz.figure import pyplot, save_png


def plot_saturation(saturation: dict[str, dict[str, list[float]]], path: str | Path) -> None:
    """One panel per layer: a point per gate unit, left- against right-saturated fraction.

    Args:
        saturation: ``"layer 1 gate f"`` -> each unit's fraction of characters below
            :data:`~rnnlab.interpret.saturation.LEFT` (``"left"``) and above
            :data:`~rnnlab.interpret.saturation.RIGHT` (``"right"``).
        path: the PNG to write.
    """
    plt = pyplot()
    layers = sorted({name.split(" gate ")[0] for name in saturation})
    fig, axes = plt.subplots(1, max(1, len(layers)), figsize=(4.2 * max(1, len(layers)), 4.2), squeeze=False)
    for ax, layer in zip(axes[0], layers):
        for k, (name, frac) in enumerate((n, f) for n, f in saturation.items() if n.startswith(layer + " gate")):
            gate = name.split(" gate ")[1]
            ax.scatter(frac["left"], frac["right"], s=8, alpha=0.6, color=f"C{k}", label=f"{gate} gate")
        ax.plot([0, 1], [1, 0], color="grey", lw=0.8, ls=":")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel(f"fraction left-saturated (< {LEFT})")
        ax.set_ylabel(f"fraction right-saturated (> {RIGHT})")
        ax.set_title(layer)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_png(fig, path)
