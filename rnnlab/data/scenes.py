"""``digit-scenes``: canvases of real MNIST digits with captions from a small grammar (a captioning task).

A scene is a ``64x64`` grey canvas (``uint8``, 0 = black background, 255 = ink; :func:`scene_pixels`
gives float32 in [0, 1]) holding 2 to 4 of the 5,000 MNIST digits of :mod:`rnnlab.data.digits`. Each
digit is drawn at one of two sizes, ``"large"`` (28 px, the MNIST image as it is) or ``"small"``
(16 px, the 28x28 image shrunk by area averaging, ``torch.nn.functional.interpolate(mode="area")``).
The square boxes of a scene's digits never overlap (they may touch). The number of digits is uniform
over 2..4 and each size is equally likely, except that a draw whose boxes cannot be placed (50 random
tries per box) is drawn again with new sizes, so crowded scenes (four large digits) are rarer.

Captions (lowercase words separated by single spaces; digits written as the numerals ``0``..``9``,
counts as words; the article is ``an`` before ``8`` and ``a`` otherwise):

- 2 digits: ``a 3 to the left of a 7``, ``an 8 above a 1``. The subject is the large digit when
  the sizes differ, else the left one (by centre x; on a tie the upper one), so the caption is a
  function of the image (:func:`subject_first`).
  The relation compares the box centres along the axis where they differ more (``|dx| >= |dy|``
  picks left/right): ``to the left of``, ``to the right of``, ``above``, ``below``. When the two sizes
  differ, each digit carries its size: ``a large 5 below a small 1``.
- 3 or 4 digits: the count, then the digits from left to right by centre (ties: top first):
  ``three digits: a 4, a 9 and a 2``; ``four digits: a 1, a 1, an 8 and a 0``. No sizes.

Splits. The 5,000 MNIST images are first split 80/10/10 per class (a fixed seed, :data:`SOURCE_SEED`)
into train/valid/test pools; each scene split draws its digits only from its pool, so test scenes
show handwriting never seen in training. Scenes that contain both digits of a pair in
:data:`HELD_OUT_PAIRS` (a 3 with an 8, or a 2 with a 7) are *never* made for train, valid or test:
they form ``test_heldout`` (digits from the test pool), which needs generalisation to unseen
combinations. Each split has its own random stream, so changing one split's size leaves the others.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from rnnlab.data.corpora import DataError
from rnnlab.data.digits import load_images, stratified_split

CANVAS = 64  # side of the square canvas, px
SIZES = {"large": 28, "small": 16}  # side of a digit's square box, px
HELD_OUT_PAIRS: tuple[tuple[int, int], ...] = ((3, 8), (2, 7))
SPLITS = ("train", "valid", "test", "test_heldout")
DEFAULT_SIZES = {"train": 20_000, "valid": 1_000, "test": 1_000, "test_heldout": 1_000}
SOURCE_SEED = 0  # seed of the 80/10/10 split of the MNIST images, the same for every scene seed
COUNT_WORDS = {3: "three", 4: "four"}
RELATIONS = ("to the left of", "to the right of", "above", "below")


@dataclass(frozen=True)
class Layout:
    """What a scene shows, in drawing order.

    Attributes:
        digits: the class of each digit, ``0``..``9``.
        boxes: ``(top, left, side)`` of each digit's square box on the canvas, px.
        sizes: ``"large"`` or ``"small"`` per digit.
        sources: the index of each digit's image among the 5,000 MNIST images.
    """

    digits: tuple[int, ...]
    boxes: tuple[tuple[int, int, int], ...]
    sizes: tuple[str, ...]
    sources: tuple[int, ...]

    def centre(self, i: int) -> tuple[float, float]:
        """``(x, y)`` of box ``i``'s centre (x to the right, y downwards)."""
        top, left, side = self.boxes[i]
        return left + side / 2, top + side / 2


@dataclass(frozen=True)
class Scene:
    """One captioned scene: ``image (CANVAS, CANVAS)`` uint8, its ``caption`` and its ``layout``."""

    image: np.ndarray
    caption: str
    layout: Layout


def _article(word: str) -> str:
    return "an" if word == "8" else "a"


def _noun(digit: int, size: str | None) -> str:
    words = [str(digit)] if size is None else [size, str(digit)]
    return f"{_article(words[0])} {' '.join(words)}"


def relation(layout: Layout, i: int = 0, j: int = 1) -> str:
    """Where digit ``i`` is relative to digit ``j``: one of :data:`RELATIONS`, by the box centres."""
    (xi, yi), (xj, yj) = layout.centre(i), layout.centre(j)
    dx, dy = xi - xj, yi - yj
    if abs(dx) >= abs(dy):
        return RELATIONS[0] if dx < 0 else RELATIONS[1]
    return RELATIONS[2] if dy < 0 else RELATIONS[3]


def left_to_right(layout: Layout) -> list[int]:
    """Indices of the layout's digits ordered by centre x, then centre y, then drawing order."""
    return sorted(range(len(layout.digits)), key=lambda i: (*layout.centre(i), i))


def subject_first(layout: Layout) -> list[int]:
    """The two digits of a pair, the caption's subject first: the large one if the sizes differ,
    else the left one (:func:`left_to_right`)."""
    order = left_to_right(layout)
    if layout.sizes[0] != layout.sizes[1]:
        order.sort(key=lambda i: layout.sizes[i] != "large")
    return order


def _pair_caption(layout: Layout, i: int, j: int) -> str:
    same = layout.sizes[i] == layout.sizes[j]
    a, b = (_noun(layout.digits[k], None if same else layout.sizes[k]) for k in (i, j))
    return f"{a} {relation(layout, i, j)} {b}"


def describe(layout: Layout) -> str:
    """The caption of ``layout`` under the grammar of the module docstring (deterministic)."""
    n = len(layout.digits)
    if n == 2:
        return _pair_caption(layout, *subject_first(layout))
    if n not in COUNT_WORDS:
        raise ValueError(f"scene: expected 2 to 4 digits, got {n}")
    nouns = [_noun(layout.digits[i], None) for i in left_to_right(layout)]
    return f"{COUNT_WORDS[n]} digits: {', '.join(nouns[:-1])} and {nouns[-1]}"


def caption_agrees(caption: str, layout: Layout) -> bool:
    """Whether ``caption`` is a grammatical, true description of ``layout``.

    For 2 digits either digit may come first (``a 7 to the right of a 3`` is as true as
    ``a 3 to the left of a 7``); otherwise the caption must equal :func:`describe`. Use it to score
    generated captions beyond exact match.
    """
    if len(layout.digits) == 2:
        return caption in (_pair_caption(layout, 0, 1), _pair_caption(layout, 1, 0))
    return caption == describe(layout)


def digit_recall(caption: str, layout: Layout) -> float:
    """The share of the scene's digits named in ``caption`` (as numerals), counting repeats, order-free."""
    named = Counter(re.findall(r"\b\d\b", caption))
    wanted = Counter(str(d) for d in layout.digits)
    return sum(min(k, named[d]) for d, k in wanted.items()) / sum(wanted.values())


def digits_named(caption: str, layout: Layout) -> bool:
    """Whether every digit of the scene (with repeats) is named in ``caption``, in any order."""
    return digit_recall(caption, layout) == 1.0


def scene_pixels(scenes: list[Scene]) -> np.ndarray:
    """The images of ``scenes`` as one float32 array ``(N, CANVAS, CANVAS)`` in [0, 1]."""
    return np.stack([s.image for s in scenes]).astype(np.float32) / 255.0


def _source_pools() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The MNIST images at both sizes as uint8, and the per-split pools of image indices by class."""
    images = load_images("mnist")
    large = torch.tensor(images.pixels)[:, None]  # (5000, 1, 28, 28)
    small = torch.nn.functional.interpolate(large, size=(SIZES["small"],) * 2, mode="area")  # (5000, 1, 16, 16)
    drawn = {name: (t[:, 0].numpy() * 255).round().astype(np.uint8) for name, t in (("large", large), ("small", small))}
    labels = np.asarray(images.labels)
    train, rest = stratified_split(labels, 0.2, SOURCE_SEED)
    valid, test = (rest[part] for part in stratified_split(labels[rest], 0.5, SOURCE_SEED))
    pools = {"train": train, "valid": valid, "test": test, "test_heldout": test}
    return drawn, pools


def _classes(rng: np.random.Generator, n: int, heldout: bool) -> list[int]:
    if heldout:  # a held-out pair plus any other digits, in random drawing order
        pair = HELD_OUT_PAIRS[rng.integers(len(HELD_OUT_PAIRS))]
        digits = [*pair, *rng.integers(10, size=n - 2).tolist()]
        return [digits[k] for k in rng.permutation(n)]
    while True:
        digits = rng.integers(10, size=n).tolist()
        if not any(a in digits and b in digits for a, b in HELD_OUT_PAIRS):
            return digits


def _boxes(rng: np.random.Generator, sides: list[int]) -> list[tuple[int, int, int]] | None:
    """Random non-overlapping boxes of the given sides, or ``None`` if placement got stuck."""
    boxes: list[tuple[int, int, int]] = []
    for side in sides:
        tops, lefts = rng.integers(CANVAS - side + 1, size=(2, 50))  # 50 candidate corners at once
        free = np.ones(50, bool)
        for t, c, s in boxes:  # a candidate is free if it is clear of every placed box along some axis
            free &= (tops + side <= t) | (t + s <= tops) | (lefts + side <= c) | (c + s <= lefts)
        if not free.any():
            return None
        k = int(np.argmax(free))
        boxes.append((int(tops[k]), int(lefts[k]), side))
    return boxes


def _scene(rng: np.random.Generator, drawn: dict[str, np.ndarray], pool: dict[int, np.ndarray], heldout: bool):
    n = int(rng.integers(2, 5))
    while True:  # crowded draws (four large digits rarely fit) are drawn again with new sizes
        sizes = [("large", "small")[k] for k in rng.integers(2, size=n)]
        boxes = _boxes(rng, [SIZES[s] for s in sizes])
        if boxes is not None:
            break
    digits = _classes(rng, n, heldout)
    sources = [int(pool[d][rng.integers(len(pool[d]))]) for d in digits]
    image = np.zeros((CANVAS, CANVAS), np.uint8)
    for (top, left, side), size, src in zip(boxes, sizes, sources):
        image[top : top + side, left : left + side] = drawn[size][src]
    layout = Layout(tuple(digits), tuple(boxes), tuple(sizes), tuple(sources))
    return Scene(image, describe(layout), layout)


def make_scenes(seed: int = 0, sizes: dict[str, int] | None = None) -> dict[str, list[Scene]]:
    """Generate the ``digit-scenes`` splits.

    Args:
        seed: seed of the scenes (layouts, classes, which image of a class); the same seed gives the
            same scenes. The MNIST pools do not depend on it (:data:`SOURCE_SEED`).
        sizes: number of scenes per split, keys among :data:`SPLITS` (missing keys get 0);
            default :data:`DEFAULT_SIZES`.

    Returns:
        ``{split: [Scene, ...]}`` for every split of :data:`SPLITS`.
    """
    sizes = dict(DEFAULT_SIZES if sizes is None else sizes)
    unknown = sorted(set(sizes) - set(SPLITS))
    if unknown:
        raise DataError(f"digit-scenes: unknown split {unknown[0]!r}; expected some of {', '.join(SPLITS)}")
    for name, k in sizes.items():
        if not isinstance(k, int) or isinstance(k, bool) or k < 0:
            raise DataError(f"digit-scenes: the size of {name} must be a whole number >= 0, got {k!r}")
    drawn, pools = _source_pools()
    labels = np.asarray(load_images("mnist").labels)
    out = {}
    for index, name in enumerate(SPLITS):
        by_class = {d: pools[name][labels[pools[name]] == d] for d in range(10)}
        rng = np.random.default_rng([seed, index])
        out[name] = [_scene(rng, drawn, by_class, name == "test_heldout") for _ in range(sizes.get(name, 0))]
    return out
