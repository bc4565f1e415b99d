"""Figures of the error surfaces in :mod:`rnnlab.diagnose.surface`: the 1-D cliff and the 2-D paths."""

from __future__ import annotations

from pathlib import Path

import torch

from rnnlab.diagnose.surface import PATHS, ClippingStudy, fold_bias, loss_grid
from rnnlab.viz.figure import pyplot, save_png

LOSS_FLOOR = 1e-12  # log10 of an exact zero (the minimum itself) is drawn at this floor
STYLE = {  # path name -> (colour, line style, marker, z-order: the norm-clipped path over the value-clipped one)
    "no clipping": ("#d62728", "-", "o", 5),
    "norm clipping": ("white", "-", "o", 4),
    "value clipping": ("#ff9f1c", "--", "s", 3),
}


def _positive(x: torch.Tensor):
    """``x`` as NumPy with zeros masked (NaN): a log axis cannot show them (the exact minimum)."""
    return torch.where(x > 0, x, torch.nan).numpy()


def _sci(x: float | None) -> str:
    if x is None:  # a value past float64's range (see rnnlab.diagnose.surface)
        return "inf"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.2e}"


def plot_linear_surface(curve: dict, closed: dict, summary: dict, clip: float, path: str | Path) -> None:
    """Loss and ``|dL/dw|`` of the linear unit against ``w`` (log scale), with the notes' numbers.

    Args:
        curve: :func:`~rnnlab.diagnose.surface.linear_surface` on a grid of ``w`` (autograd).
        closed: :func:`~rnnlab.diagnose.surface.linear_closed_form` on the same grid.
        summary: :func:`~rnnlab.diagnose.surface.linear_summary` (the annotated points).
        clip: a gradient-clipping threshold, drawn on the gradient panel.
        path: where to write the PNG.
    """
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 7.5), dpi=100)
    w = curve["w"].numpy()
    steps, target = summary["T"], summary["target"]
    top.plot(w, _positive(curve["loss"]), lw=2, label="autograd through the unrolled loop")
    top.plot(w, _positive(closed["loss"]), "k--", lw=1, label=f"closed form, $y_T = w^{{{steps - 1}}}$")
    bottom.plot(w, _positive(curve["grad"].abs()), lw=2, color="C1", label="autograd")
    bottom.plot(w, _positive(closed["grad"].abs()), "k--", lw=1, label="closed form")
    bottom.axhline(
        clip, color="C2", ls=":", lw=1.5, label=f"clipping threshold {clip:g}: every gradient above is capped"
    )
    for p in summary["points"]:
        for ax in (top, bottom):
            ax.axvline(p["w"], color="grey", lw=0.6, ls=":")
        if p["y_T"] is None:
            continue
        text = f"w = {p['w']:g}\n$y_T$ = {_sci(p['y_T'])}\nloss = {_sci(p['loss'])}"
        at_floor = p["loss"] < LOSS_FLOOR  # the minimum itself: point at the bottom of the panel
        top.annotate(
            text,
            (p["w"], 0.02 if at_floor else p["loss"]),
            xycoords=("data", "axes fraction" if at_floor else "data"),
            xytext=(15, 10) if at_floor else (-70 if p["w"] >= 1 else 10, 20),
            textcoords="offset points",
            fontsize=8,
            arrowprops={"arrowstyle": "->", "lw": 0.7},
            bbox={"fc": "white", "alpha": 0.8},
        )
        if p["grad"]:
            bottom.annotate(
                f"|dL/dw| = {_sci(abs(p['grad']))}",
                (p["w"], abs(p["grad"])),
                xytext=(-110, 10),
                textcoords="offset points",
                fontsize=8,
                arrowprops={"arrowstyle": "->", "lw": 0.7},
                bbox={"fc": "white", "alpha": 0.8},
            )
    top.set_yscale("log")
    bottom.set_yscale("log")
    top.set_ylabel(f"loss $(y_T - {target:g})^2$")
    bottom.set_ylabel("|dloss/dw|")
    bottom.set_xlabel("recurrent weight w")
    ratio = summary.get("grad_ratio_1.01_over_0.99")
    shape = "a plain for w < 1, a cliff for w > 1; " if ratio and ratio > 1e3 else ""
    note = f"{shape}|dL/dw| at w = 1.01 is {ratio:.1e} x that at w = 0.99" if ratio else ""
    top.set_title(f"One linear unit, input [1, 0, ..., 0], T = {steps}: $y_T = w^{{{steps - 1}}}$\n{note}", fontsize=10)
    for ax in (top, bottom):
        ax.grid(alpha=0.3, which="major")
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    save_png(fig, path)


def _frame(points: torch.Tensor, margin: float = 0.08) -> tuple[tuple[float, float], tuple[float, float]]:
    lo, hi = points.amin(dim=0), points.amax(dim=0)  # (2,)
    pad = (hi - lo).clamp_min(1.0) * margin
    return (float(lo[0] - pad[0]), float(hi[0] + pad[0])), (float(lo[1] - pad[1]), float(hi[1] + pad[1]))


def _draw_map(ax, fig, study: ClippingStudy, w_range, b_range, grid: int, contours=None):
    w, b, loss = loss_grid(study.unit, w_range, b_range, grid)
    log_loss = loss.clamp_min(LOSS_FLOOR).log10().numpy()  # (grid, grid) indexed [b, w]
    image = ax.pcolormesh(w.numpy(), b.numpy(), log_loss, cmap="viridis", shading="auto", vmin=-6, rasterized=True)
    fig.colorbar(image, ax=ax, label="log10 loss")
    if contours:  # contour lines crowd together on the wall
        ax.contour(w.numpy(), b.numpy(), log_loss, levels=contours, colors="black", linewidths=0.4, alpha=0.5)
    ws = torch.linspace(max(w_range[0], 1.0 + 1e-9), w_range[1], 200, dtype=torch.float64)
    if len(ws) and ws[0] < ws[-1]:
        ax.plot(
            ws.numpy(),
            fold_bias(ws).numpy(),
            color="black",
            lw=0.8,
            ls=(0, (4, 3)),
            label="saddle-node curve (the cliff as T → ∞)",
        )
    ax.set_xlim(*w_range)
    ax.set_ylim(*b_range)
    ax.set_xlabel("recurrent weight w")
    ax.set_ylabel("bias b")


def _draw_paths(ax, study: ClippingStudy, summary: dict, markers: bool) -> None:
    points = study.descent.points  # (steps + 1, N, 2)
    for i, name in enumerate(PATHS):
        colour, style, marker, z = STYLE[name]
        p = summary["paths"][name]
        label = (
            f"{name}: final loss {_sci(p['final_loss'])}, largest step {_sci(p['largest_step'])}"
            if p["final_loss"] is not None
            else f"{name}: diverged"
        )
        ax.plot(
            points[:, i, 0].numpy(),
            points[:, i, 1].numpy(),
            color=colour,
            ls=style,
            lw=1.2,
            marker=marker if markers else None,
            ms=2.5,
            label=label,
            zorder=z,
        )
        ax.plot(*points[-1, i].tolist(), marker="X", color=colour, ms=9, mec="black", mew=0.8, zorder=6)
    ax.plot(*points[0, 0].tolist(), marker="*", color="yellow", ms=14, mec="black", label="start", zorder=7)
    ax.plot([], [], marker="X", color="grey", mec="black", ls="none", ms=8, label="end of a path")


def plot_tanh_surface(study: ClippingStudy, summary: dict, path: str | Path, grid: int = 301) -> None:
    """Log loss of the one-unit tanh RNN over ``(w, b)`` with the descent paths drawn on it.

    Left: the region of the cliff, where the paths start; the step that throws the unclipped path
    is marked with its length. Right: every point the paths visited, with the left region boxed.

    Args:
        study: the paths (:func:`~rnnlab.diagnose.surface.clipping_study`).
        summary: ``study.summary()``.
        path: where to write the PNG.
        grid: grid points per axis of each map.
    """
    plt = pyplot()
    fig, (near, far) = plt.subplots(1, 2, figsize=(15, 6.3), dpi=100)
    main = study.descent.points[:, :3]  # (steps + 1, 3, 2)
    start = main[0, 0]
    w_range = (min(0.0, float(start[0]) - 0.3), max(4.5, float(start[0]) + 0.3))
    b_range = (min(-2.0, float(start[1]) - 0.3), max(1.5, float(start[1]) + 0.3))
    _draw_map(near, fig, study, w_range, b_range, grid, contours=[-4, -3, -2, -1, 0, 0.5, 1, 1.25, 1.5])
    _draw_paths(near, study, summary, markers=True)
    plain = summary["paths"]["no clipping"]
    if plain["largest_step"] > 10 * study.lr * study.clip:
        k = plain["largest_step_number"]  # the step from point k - 1 to point k
        a, b = main[k - 1, 0], main[k, 0]
        near.annotate(
            f"no clipping, step {k}: lands on the wall,\n|gradient| = {_sci(plain['largest_gradient_norm'])},"
            f" thrown {_sci(plain['largest_step'])}\nto (w, b) = ({float(b[0]):.3g}, {float(b[1]):.3g})",
            xy=a.tolist(),
            xytext=(0.5, 0.55),
            textcoords="axes fraction",
            fontsize=8,
            color="white",
            bbox={"fc": "#d62728", "alpha": 0.9},
            arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.2},
            zorder=10,
        )
    near.set_title(
        f"near the cliff: $x_t = w\\,\\tanh(x_{{t-1}}) + b$, $x_0$ = {study.unit.x0:g}, T = {study.unit.steps}, "
        f"loss $(x_T - {study.unit.target:g})^2$\nlr {study.lr:g}, {summary['steps']} steps, clipping at "
        f"{study.clip:g} (norm-clipped steps ≤ lr·clip = {_sci(study.lr * study.clip)})",
        fontsize=9,
    )
    near.legend(fontsize=7.5, loc="upper right", framealpha=0.85)
    (fw, fb) = _frame(main.reshape(-1, 2))
    fw, fb = (min(fw[0], w_range[0]), max(fw[1], w_range[1])), (min(fb[0], b_range[0]), max(fb[1], b_range[1]))
    _draw_map(far, fig, study, fw, fb, grid)
    _draw_paths(far, study, summary, markers=False)
    far.add_patch(
        plt.Rectangle(
            (w_range[0], b_range[0]),
            w_range[1] - w_range[0],
            b_range[1] - b_range[0],
            fill=False,
            ec="white",
            lw=1,
            ls=":",
        )
    )
    for i, name in enumerate(PATHS):
        end, p = main[-1, i], summary["paths"][name]
        if not (w_range[0] <= end[0] <= w_range[1] and b_range[0] <= end[1] <= b_range[1]):
            far.annotate(
                f"{name} ends at ({float(end[0]):.3g}, {float(end[1]):.3g})\nloss {_sci(p['final_loss'])}",
                xy=end.tolist(),
                xytext=(12, 12),
                textcoords="offset points",
                fontsize=8,
                bbox={"fc": "white", "alpha": 0.85},
                zorder=10,
            )
    far.set_title("everywhere the paths went (dotted box: the left panel)", fontsize=9)
    fig.tight_layout()
    save_png(fig, path)
