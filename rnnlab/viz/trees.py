"""A tree as a PNG: a box per node with its label (and, under it, a note such as the model's
prediction there), edges from parents to children, boxes coloured by a value per node if given.

Layout (:func:`layout`): the root at the top, a node's ``y`` its depth. Where every node carries
the position of its word (``index``, a dependency tree), a node's ``x`` is that position, so the
sentence reads left to right along the figure. Otherwise the leaves sit at ``x = 0, 1, 2, ...`` in
order and a parent is centred over its first and last child. Nothing recurses: trees hundreds of
levels deep are drawn the same way. The figure grows with the number of columns and levels up to
:data:`MAX_WIDTH` x :data:`MAX_HEIGHT` inches; past that the text shrinks (down to
:data:`MIN_FONT` points) instead.
"""

from __future__ import annotations

import math
from pathlib import Path

from rnnlab.data.trees import Tree
from rnnlab.viz.figure import png_path, pyplot, save_png

#: the largest figure drawn, in inches (at 100 dpi); bigger trees get smaller text instead
MAX_WIDTH = 40.0
MAX_HEIGHT = 30.0
#: text size in points for a tree with room to spare, and the smallest it shrinks to
FONT = 9.0
MIN_FONT = 3.0
#: the diverging colour map for per-node values (0 in the middle), and the fill of a non-finite value
CMAP = "RdBu_r"
NAN_COLOUR = "#bdbdbd"
#: inches kept around the drawing, and for the colour bar where there is one
MARGIN = 0.3
BAR = 0.9


def _walk(tree: Tree) -> tuple[list[Tree], list[int], list[list[int]]]:
    """The nodes in :meth:`Tree.nodes` order, each one's depth, and each one's children by position."""
    nodes = list(tree.nodes())
    place = {id(node): k for k, node in enumerate(nodes)}
    return nodes, tree.depths(), [[place[id(c)] for c in node.children] for node in nodes]


def layout(tree: Tree) -> list[tuple[float, float]]:
    """``(x, y)`` of every node in :meth:`Tree.nodes` order: ``y`` the depth (0 at the root), ``x``
    the node's ``index`` if every node has one, else leaves at successive ``x`` from 0 and each
    parent midway between its first and last child (see the module docstring)."""
    nodes, depths, children = _walk(tree)
    if all(node.index is not None for node in nodes):
        return [(float(node.index), float(depth)) for node, depth in zip(nodes, depths)]
    xs = [0.0] * len(nodes)
    leaf = 0
    for i, kids in enumerate(children):  # pre-order meets the leaves left to right
        if not kids:
            xs[i] = float(leaf)
            leaf += 1
    for i in reversed(range(len(nodes))):  # children before their parents
        if children[i]:
            xs[i] = (xs[children[i][0]] + xs[children[i][-1]]) / 2
    return [(x, float(depth)) for x, depth in zip(xs, depths)]


def _check(name: str, given: list | None, count: int) -> None:
    if given is not None and len(given) != count:
        raise ValueError(f"{name}: expected one per node ({count} nodes), got {len(given)}")


def _texts(nodes: list[Tree], notes: list[str | None] | None) -> list[str]:
    """Each node's label, with its note (if any) on the line under it."""
    notes = notes if notes is not None else [None] * len(nodes)
    return [node.label + (f"\n{note}" if note else "") for node, note in zip(nodes, notes)]


def _size(columns: float, levels: int, texts: list[str]) -> tuple[float, float, float]:
    """Figure width and height in inches for the drawing (margins and colour bar not included), and
    the font size that fits the widest text in a column and the tallest in a level."""
    widest = max(len(line) for text in texts for line in text.split("\n"))
    lines = max(text.count("\n") + 1 for text in texts)
    em = FONT / 72  # inches per line of text at full size; a character is about 0.6 of that wide
    column = max(0.4, 0.55 * em * widest + 0.2)
    level = 1.35 * em * lines + 0.45
    width, height = min(MAX_WIDTH, column * columns), min(MAX_HEIGHT, level * levels)
    shrink = min(1.0, width / (column * columns), height / (level * levels))
    return width, height, max(MIN_FONT, FONT * shrink)


def _edges(points: list[tuple[float, float]], children: list[list[int]]) -> list[list[tuple[float, float]]]:
    """Elbow edges: down from a parent to halfway to its children, across their span, down to each
    child. A line between levels never runs through a box, and where subtrees cover separate
    stretches of ``x`` (the leaf layout; a projective dependency tree) no two lines overlap."""
    segments = []
    for i, kids in enumerate(children):
        if not kids:
            continue
        x, y = points[i]
        middle = y + 0.5
        span = [x] + [points[j][0] for j in kids]
        segments += [[(x, y), (x, middle)], [(min(span), middle), (max(span), middle)]]
        segments += [[(points[j][0], middle), points[j]] for j in kids]
    return segments


def _colours(values: list[float] | None, count: int):
    """Each node's box colour, and the colour bar's mappable (``None`` without values)."""
    if values is None:
        return ["white"] * count, None
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    finite = [abs(float(v)) for v in values if math.isfinite(float(v))]
    top = max(finite, default=0.0) or 1.0
    mappable = ScalarMappable(Normalize(-top, top), colormaps[CMAP])
    colours = [mappable.to_rgba(float(v)) if math.isfinite(float(v)) else NAN_COLOUR for v in values]
    return colours, mappable


def _ink(colour) -> str:
    """Black or white text, whichever reads better on ``colour``."""
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(colour)
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.45 else "black"


def plot_tree(
    tree: Tree,
    path: str | Path,
    notes: list[str | None] | None = None,
    values: list[float] | None = None,
    title: str = "",
    value_name: str = "",
) -> None:
    """Draw ``tree`` as a PNG at ``path`` (laid out by :func:`layout`, root at the top).

    ``notes``, one per node in :meth:`Tree.nodes` order (``None`` or ``""`` for none), are written
    under the labels, e.g. the model's prediction at each node ``"9 (0.98)"``. ``values``, one
    float per node in the same order (e.g. a hidden unit's activation), colour the boxes on a
    diverging scale centred on 0 with a colour bar labelled ``value_name``; a non-finite value is
    drawn grey. Without values the boxes are white.

    Raises:
        ValueError: ``path`` does not end in ``.png``, or ``notes`` or ``values`` do not hold one
            entry per node. Nothing is written then, and a figure is never left half-written.
    """
    path = png_path(path)
    nodes, _, children = _walk(tree)
    _check("notes", notes, len(nodes))
    _check("values", values, len(nodes))
    points = layout(tree)
    texts = _texts(nodes, notes)
    colours, mappable = _colours(values, len(nodes))
    xs = [x for x, _ in points]
    levels = 1 + int(max(y for _, y in points))
    columns = max(xs) - min(xs) + 1
    width, height, font = _size(columns, levels, texts)
    width = max(width, 1.5, 0.075 * len(title))  # room for a lone node, or for the title
    right = MARGIN + (BAR if mappable is not None else 0.0)
    top = MARGIN + (0.35 if title else 0.0)
    fig_w, fig_h = width + MARGIN + right, height + MARGIN + top

    from matplotlib.collections import LineCollection

    plt = pyplot()
    fig = plt.figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes((MARGIN / fig_w, MARGIN / fig_h, width / fig_w, height / fig_h))
    ax.set_xlim(min(xs) - 0.5, max(xs) + 0.5)
    ax.set_ylim(levels - 0.5, -0.5)  # depth grows downwards
    ax.axis("off")
    lines = LineCollection(_edges(points, children), colors="#888888", linewidths=max(0.4, font / 9), zorder=1)
    ax.add_collection(lines)
    for (x, y), text, colour in zip(points, texts, colours):
        box = {"boxstyle": "round,pad=0.25", "facecolor": colour, "edgecolor": "#555555", "linewidth": 0.5}
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=font,
            color=_ink(colour),
            bbox=box,
            zorder=2,
            parse_math=False,
        )
    if mappable is not None:
        bar = fig.add_axes(((MARGIN + width + 0.25) / fig_w, MARGIN / fig_h, 0.15 / fig_w, height / fig_h))
        fig.colorbar(mappable, cax=bar).set_label(value_name, fontsize=8)
        bar.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.12 / fig_h, va="top", parse_math=False)
    save_png(fig, path)
