"""Figures of a training run: loss curves, clipping, and the gradient-flow heatmap."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from rnnlab.viz.curves import plot_loss_curves
from rnnlab.viz.figure import pyplot, save_png

PLOTS = ("loss.png", "clipping.png", "gradflow.png")  # drawn by plot_run


def plot_clipping(steps: list[dict], clip_norm: float, path: Path) -> None:
    """The gradient's global norm before clipping at every step, the threshold, and the share of clipped steps."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    x = [r["step"] for r in steps]
    norms = [r["grad_norm"] for r in steps]
    clipped = [r["clipped"] for r in steps]
    ax.semilogy(x, norms, lw=0.6, color="C0", label="global gradient norm before clipping")
    cx = [s for s, c in zip(x, clipped) if c]
    ax.scatter(cx, [n for n, c in zip(norms, clipped) if c], s=4, color="C3", label="clipped steps", zorder=3)
    if clip_norm > 0:
        ax.axhline(clip_norm, color="C3", lw=0.8, ls="--", label=f"clip norm {clip_norm:g}")
    ax.set_xlabel("step")
    ax.set_ylabel("gradient norm")
    ax.grid(alpha=0.3, which="both")
    share = ax.twinx()
    width = max(1, len(steps) // 50)
    kernel = torch.ones(1, 1, width) / width
    rolling = torch.nn.functional.conv1d(torch.tensor(clipped, dtype=torch.float64).view(1, 1, -1), kernel.double())
    share.plot(x[width - 1 :], rolling.flatten().tolist(), color="C2", lw=1.0, label=f"clipped share ({width} steps)")
    share.set_ylim(0, 1.05)
    share.set_ylabel("share of steps clipped")
    total = sum(clipped) / len(clipped) if clipped else 0.0
    ax.set_title(f"Clipping: {100 * total:.1f}% of {len(steps)} steps clipped", fontsize=10)
    lines = ax.get_legend_handles_labels()
    more = share.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper right")
    fig.tight_layout()
    save_png(fig, path)


def plot_gradient_heatmap(profiles: list[dict], steps: list[dict], metrics: list[dict], path: Path) -> None:
    """``log10 ||dL/dh_t||`` over the chunk's positions ``t`` (rows) and training time (columns), under the loss."""
    plt = pyplot()
    layers = len(profiles[0]["norms"])
    fig, axes = plt.subplots(
        1 + layers, 1, figsize=(9, 3 + 2.4 * layers), sharex=True, squeeze=False, layout="constrained"
    )
    top = axes[0, 0]
    if steps:
        top.plot([r["step"] for r in steps], [r["loss"] for r in steps], lw=0.4, alpha=0.5, label="training")
    held = next((k for k in ("val_loss", "test_loss") if metrics and k in metrics[0]), None)
    if held:
        what = "validation" if held == "val_loss" else "test"
        top.plot([r["step"] for r in metrics], [r[held] for r in metrics], marker=".", label=what)
    top.set_ylabel("loss (nats)")
    top.grid(alpha=0.3)
    top.legend(fontsize=8)
    at = torch.tensor([p["step"] for p in profiles], dtype=torch.float64)
    edges = torch.cat([at[:1] - 0.5, (at[1:] + at[:-1]) / 2, at[-1:] + 0.5]) if len(at) > 1 else torch.cat([at - 1, at])
    T = max(len(n) for p in profiles for n in p["norms"])  # a resumed run may have changed --seq-len
    grids = torch.full((layers, len(profiles), T), torch.nan, dtype=torch.float64)  # NaN: no such position
    for i, p in enumerate(profiles):
        for layer, norms in enumerate(p["norms"][:layers]):
            grids[layer, i, : len(norms)] = torch.tensor(norms, dtype=torch.float64)
    logs = torch.where(grids > 0, grids, torch.nan).log10()
    finite = logs[torch.isfinite(logs)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    rows = torch.arange(T + 1, dtype=torch.float64) - 0.5
    for layer in range(layers):
        ax = axes[1 + layer, 0]
        mesh = ax.pcolormesh(edges.numpy(), rows.numpy(), logs[layer].t().numpy(), vmin=low, vmax=high, shading="flat")
        ax.set_ylabel(f"position t in chunk\n(layer {layer + 1})")
    # one colour bar beside all panels, so the loss and the heatmaps keep the same time axis
    fig.colorbar(mesh, ax=axes[:, 0].tolist(), label="log10 ||dL/dh_t||", pad=0.01, fraction=0.04)
    axes[-1, 0].set_xlabel("training step")
    top.set_title("Loss, and the gradient reaching each position of the chunk over training", fontsize=10)
    save_png(fig, path)


def plot_run(out: Path, metrics: list[dict], steps: list[dict], profiles: list[dict], clip_norm: float) -> list[Path]:
    """Draw every figure that a run's records allow into the folder ``out``; returns the files written.

    Args:
        metrics: the evaluation records (a loss curve needs their ``val_loss``).
        steps: the per-step records (``step``, ``loss``, ``grad_norm``, ``clipped``, ``lr``).
        profiles: the gradient-flow records (``step``, ``norms``: one list per layer).
        clip_norm: the clipping threshold, drawn on the clipping figure.
    """
    written = []
    if metrics and all("val_loss" in r for r in metrics):
        plot_loss_curves(metrics, out / PLOTS[0])
        written.append(out / PLOTS[0])
    if steps:
        plot_clipping(steps, clip_norm, out / PLOTS[1])
        written.append(out / PLOTS[1])
    if profiles:
        plot_gradient_heatmap(profiles, steps, metrics, out / PLOTS[2])
        written.append(out / PLOTS[2])
    return written


def clipping_summary(steps: list[dict]) -> dict:
    """Share of clipped steps and the gradient norm's median and largest value."""
    if not steps:
        return {"steps": 0}
    norms = sorted(r["grad_norm"] for r in steps)
    finite = [n for n in norms if math.isfinite(n)]
    return {
        "steps": len(steps),
        "clipped_fraction": sum(r["clipped"] for r in steps) / len(steps),
        "median_grad_norm": finite[len(finite) // 2] if finite else None,
        "max_grad_norm": finite[-1] if finite else None,
    }
