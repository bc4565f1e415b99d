"""Captioned images as PNGs: where each generated word looked (attention over the encoder grid) and
a grid of images with their generated captions."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np

from rnnlab.viz.figure import png_path, pyplot, save_png

#: the most words drawn per image in the attention figure (longer captions are cut, the row says so)
MAX_WORDS = 16
#: characters per line of a caption under an image in the grid
WRAP = 28
#: opacity of the attention heat map over the image
ALPHA = 0.6


def _show(ax, image: np.ndarray) -> None:
    """Draw ``image`` (``uint8`` ``(H, W, 3)``, or ``(H, W)`` grey) without axes."""
    image = np.asarray(image)
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def upsample(weights: np.ndarray, height: int, width: int) -> np.ndarray:
    """Attention maps ``(T, h, w)`` resized bilinearly to ``(T, height, width)`` (float64)."""
    import torch

    if len(weights) == 0:  # a caption of no words: nothing to resize
        return np.zeros((0, height, width))
    grid = torch.as_tensor(np.asarray(weights, dtype=np.float32))[None]  # (1, T, h, w)
    big = torch.nn.functional.interpolate(grid, size=(height, width), mode="bilinear", align_corners=False)
    return big[0].numpy().astype(np.float64)


def plot_caption_attention(panels: list[tuple[np.ndarray, list[str], np.ndarray]], path: Path, title: str = "") -> None:
    """One row per ``(image, words, weights (T, h, w))``: the image, then one panel per word (up to
    :data:`MAX_WORDS`, ``</s>`` included if given) with that word's attention over the ``h x w``
    encoder grid upsampled bilinearly to the image and laid over it as a heat map (Xu et al. 2015,
    "Show, Attend and Tell", Fig. 2-3). Each panel's colours run from 0 to that word's largest weight.

    Raises:
        ValueError: ``path`` does not end in ``.png``, no panels, or fewer weight maps than words.
    """
    path = png_path(path)
    if not panels:
        raise ValueError("no images to draw")
    for i, (_, words, weights) in enumerate(panels):
        shape = np.shape(weights)
        if len(shape) != 3 or shape[0] < min(len(words), MAX_WORDS):
            raise ValueError(f"image {i}: expected weights (words, h, w) for {len(words)} words, got shape {shape}")
    plt = pyplot()
    columns = 1 + max(1, max(min(len(w), MAX_WORDS) for _, w, _ in panels))
    fig, axes = plt.subplots(len(panels), columns, figsize=(1.3 * columns, 1.5 * len(panels)), squeeze=False)
    for row, (image, words, weights) in zip(axes, panels):
        image = np.asarray(image)
        shown = words[:MAX_WORDS]
        _show(row[0], image)
        row[0].set_title("image" + (f" ({len(words)} words, cut)" if len(shown) < len(words) else ""), fontsize=7)
        maps = upsample(np.asarray(weights)[: len(shown)], image.shape[0], image.shape[1])
        for ax, word, heat in zip(row[1:], shown, maps):
            _show(ax, image)
            ax.imshow(heat, cmap="inferno", alpha=ALPHA, vmin=0, vmax=max(float(heat.max()), 1e-12))
            ax.set_title(word, fontsize=8)
        for ax in row[1 + len(shown) :]:
            ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_png(fig, path)


def plot_caption_grid(
    items: list[tuple[np.ndarray, str, str | None]], path: Path, columns: int = 6, title: str = ""
) -> None:
    """A grid of ``(image, generated caption, reference or None)``: each image with its caption
    under it (wrapped) and the reference, if given, in grey below that.

    Raises:
        ValueError: ``path`` does not end in ``.png``, no items, or ``columns < 1``.
    """
    path = png_path(path)
    if not items:
        raise ValueError("no images to draw")
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    columns = min(columns, len(items))
    rows = math.ceil(len(items) / columns)
    texts = [(textwrap.wrap(c, WRAP) or [""], textwrap.wrap(r, WRAP) if r else []) for _, c, r in items]
    lines = max(len(c) + len(r) for c, r in texts)  # text lines under the busiest image
    text_h = 0.14 * lines + 0.1
    top = 0.4 if title else 0.1  # inches above the first row
    fig_h = (1.8 + text_h) * rows + top
    plt = pyplot()
    fig, axes = plt.subplots(rows, columns, figsize=(2.0 * columns, fig_h), squeeze=False)
    fig.subplots_adjust(
        left=0.01, right=0.99, bottom=text_h / fig_h, top=1 - top / fig_h, wspace=0.1, hspace=text_h / 1.8 + 0.05
    )
    for ax, (image, _, _), (caption, reference) in zip(axes.flat, items, texts):
        _show(ax, image)
        ax.text(0.5, -0.04, "\n".join(caption), transform=ax.transAxes, ha="center", va="top", fontsize=7)
        if reference:
            below = "\n" * len(caption) + "\n".join(reference)
            ax.text(0.5, -0.04, below, transform=ax.transAxes, ha="center", va="top", fontsize=7, color="grey")
    for ax in axes.flat[len(items) :]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    save_png(fig, path)
