"""Figures of :mod:`rnnlab.diagnose`: gradient flow, step Jacobians, recurrent spectra."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from rnnlab.diagnose.report import Diagnosis
from rnnlab.viz.figure import pyplot, save_png

_STYLES = ("-", "--", ":", "-.")


def _color(k: int):
    """A distinct colour for each of up to 20 subjects (tab10, then tab20's lighter shades)."""
    plt = pyplot()
    return plt.get_cmap("tab10")(k) if k < 10 else plt.get_cmap("tab20")(2 * (k - 10) % 20 + 1)


def plot_gradient_flow(results: list[Diagnosis], path: Path, threshold: float = 1e-6) -> None:
    """``||dL_T/dh_{T-d}|| / ||dL_T/dh_T||`` against the distance ``d`` (log scale), a line per subject and layer."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for k, r in enumerate(results):
        color = _color(k)
        for layer, prof in enumerate(r.profiles):
            rel = prof / prof[0] if prof[0] > 0 else prof
            rel = torch.where(rel > 0, rel, torch.nan)  # exact zeros (dead ReLUs) cannot sit on a log axis
            label = r.label if len(r.profiles) == 1 else f"{r.label}, layer {layer + 1}"
            ax.semilogy(torch.arange(len(prof)), rel, _STYLES[layer % 4], color=color, label=label)
    ax.axhline(threshold, color="grey", lw=0.8, ls=":")
    ax.text(0, threshold, f" {threshold:g} of the value at the loss", va="bottom", fontsize=8, color="grey")
    ax.set_xlabel("distance T - t (steps back from the loss)")
    ax.set_ylabel("||dL_T/dh_t|| relative to ||dL_T/dh_T||")
    lengths = sorted({r.profiles.shape[1] for r in results})
    T = f"T = {lengths[0]}" if len(lengths) == 1 else "T = " + ", ".join(map(str, lengths))
    ax.set_title(f"Gradient of the last step's loss back through time ({T}, median of the batch)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, path)


def plot_jacobians(results: list[Diagnosis], path: Path) -> None:
    """Largest singular value of each step Jacobian, and the norm of their running product."""
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.4), sharex=True)
    for k, r in enumerate(results):
        color = _color(k)
        for layer, (sigma, product) in enumerate(zip(r.sigma_max, r.log10_product)):
            label = r.label if len(r.sigma_max) == 1 else f"{r.label}, layer {layer + 1}"
            steps = torch.arange(1, len(sigma) + 1)
            top.plot(steps, sigma, _STYLES[layer % 4], color=color, lw=0.9, label=label)
            bottom.plot(steps, product, _STYLES[layer % 4], color=color, label=label)
    top.axhline(1.0, color="grey", lw=0.8, ls=":")
    top.set_yscale("log")  # one step far from the rest (a layer norm at h = 0) must not flatten the others
    top.set_ylabel("largest singular value of J_t")
    top.set_title("Step Jacobians J_t = ds_t/ds_{t-1} along one real sequence (s = the whole state)")
    top.legend(fontsize=8)
    bottom.axhline(0.0, color="grey", lw=0.8, ls=":")
    bottom.set_ylabel("log10 ||J_t ... J_1||_2")
    bottom.set_xlabel("step t")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_png(fig, path)


def plot_spectra(results: list[Diagnosis], path: Path) -> None:
    """Eigenvalues of each recurrent matrix (first layer) in the complex plane, with the unit circle."""
    plt = pyplot()
    n = max(1, len(results))
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.6 * rows), squeeze=False)
    circle = torch.linspace(0, 2 * math.pi, 361)
    for ax, r in zip(axes.flat, results):
        ax.plot(circle.cos(), circle.sin(), color="grey", lw=0.8)
        for j, (name, eig) in enumerate(r.eigen[0].items()):
            ax.scatter(eig.real, eig.imag, s=6, color=_color(j), label=name, alpha=0.7)
        ax.set_aspect("equal")
        ax.set_title(r.label, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper right", markerscale=2)
    for ax in list(axes.flat)[len(results) :]:
        ax.axis("off")
    fig.suptitle("Eigenvalues of the recurrent matrices (first layer) and the unit circle")
    fig.tight_layout()
    save_png(fig, path)
