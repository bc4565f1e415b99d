"""Captioned images for image captioning: named sets and the user's images with a captions file.

A data spec (``data``, and likewise ``val_data`` and ``test_data``) is one of:

- a named set of :data:`CAPTION_SETS`, which comes with its own splits (``valid`` is called ``val``
  here), the same whatever the run's seed:

  - ``digit-scenes``: 64x64 canvases of 2 to 4 MNIST digits with one caption each, drawn with the
    fixed seed :data:`DATA_SEED` (:mod:`rnnlab.data.scenes`); the grey canvas is repeated into three
    channels, the scene's :class:`~rnnlab.data.scenes.Layout` is kept, and there is a fourth split,
    ``test_heldout``, of digit pairs never shown in training;
  - ``emoji``: Google's emoji drawings over white, one caption each, their Unicode names
    (:mod:`rnnlab.data.emoji`);

- a folder holding images and exactly one captions file (a ``.txt``, ``.csv`` or ``.json``), or a
  captions file itself. The images are those of an ``images`` or ``Images`` subfolder of the
  captions file's folder if it has one (the Kaggle copy of Flickr8k is ``Images/`` and
  ``captions.txt``), else of that folder itself. The formats, Flickr8k's CSV and token file
  (Hodosh et al. 2013) and COCO captions JSON (Chen et al. 2015), are read by
  :mod:`rnnlab.data.caption_files`. Every image named must exist and every
  image in the folder must have a caption, so that a typo or a stray file is not silently left out.

Images are read by :func:`rnnlab.data.images.read_image`: RGB ``uint8`` (size, size, 3), the shorter
side scaled to ``size`` and the longer one centre-cropped.

User data given as ``data`` alone is dealt into ``train``, ``val`` and ``test`` by image, never by
caption, so that all captions of an image are in one split: the image names, sorted, are shuffled by
``random.Random(f"{seed}:captions")``; the first ``round(n * val_fraction)`` go to ``val``, the next
``round(n * test_fraction)`` to ``test`` and the rest to ``train``. The same images and seed give the
same splits, whatever the order of the captions file. ``val_data`` or ``test_data`` name those
splits instead (for a named set too, replacing its own).
"""

from __future__ import annotations

import math
import os
import random
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from rnnlab import checks
from rnnlab.data.caption_files import FORMATS, read_caption_file
from rnnlab.data.corpora import DataError
from rnnlab.data.images import IMAGE_SUFFIXES, MIN_SIDE, fit, read_image
from rnnlab.data.scenes import Layout

__all__ = ["CAPTION_SETS", "Captioned", "deal_images", "find_caption_file", "load_captions", "read_caption_file"]

SPLITS = ("train", "val", "test")
#: the seed ``digit-scenes`` is drawn with, whatever the run's seed
DATA_SEED = 0
MAX_SIZE = 1024
CAPTION_SUFFIXES = (".txt", ".csv", ".json")
IMAGE_FOLDERS = ("images", "Images")


@dataclass
class Captioned:
    """One image and its captions.

    Attributes:
        name: the image's name: its file name relative to the images' folder, or ``<split>/<index>``
            in a named set.
        image: RGB ``uint8`` array (size, size, 3).
        captions: one or more captions, white space collapsed, case kept.
        layout: what a ``digit-scenes`` canvas shows; None for other images.
    """

    name: str
    image: np.ndarray
    captions: list[str] = field(default_factory=list)
    layout: Layout | None = None


Splits = dict[str, list[Captioned]]


def _split_name(split: str) -> str:
    return "val" if split == "valid" else split


def _grey_to_rgb(grey: np.ndarray, size: int) -> np.ndarray:
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    return rgb if grey.shape[:2] == (size, size) else np.asarray(fit(Image.fromarray(rgb), size))


# A run holds its images as uint8 arrays, and once more as one stacked tensor, which is made by way
# of a stacked copy: three times the pixels at the peak.
HELD_COPIES = 3
IMAGES_SMALLER = "use a smaller --image-size or fewer images"  # what a run that cannot hold them can do


def images_fit(count: int, size: int) -> None:
    """Refuse in one line (``ValueError``) ``count`` images of ``size`` pixels a side that this
    machine's memory cannot hold, before any is made."""
    need = HELD_COPIES * count * size * size * 3
    checks.fits_memory(need, f"{count:,} images of {size}x{size} pixels", IMAGES_SMALLER)


def _digit_scenes(size: int) -> Splits:
    from rnnlab.data import scenes

    made = scenes.make_scenes(DATA_SEED)
    images_fit(sum(map(len, made.values())), size)
    return {
        _split_name(split): [
            Captioned(f"{_split_name(split)}/{k}", _grey_to_rgb(s.image, size), [s.caption], s.layout)
            for k, s in enumerate(scenes_of_split)
        ]
        for split, scenes_of_split in made.items()
    }


def _emoji(size: int) -> Splits:
    from rnnlab.data.emoji import load_emoji

    return {
        _split_name(split): [
            Captioned(f"{_split_name(split)}/{k}", image, [caption]) for k, (image, caption) in enumerate(drawn)
        ]
        for split, drawn in load_emoji(size).items()
    }


#: name -> loader of a named set's splits at a size
CAPTION_SETS: dict[str, Callable[[int], Splits]] = {"digit-scenes": _digit_scenes, "emoji": _emoji}


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3:,} more" if len(names) > 3 else "")


def _image_folder(folder: Path) -> Path:
    return next((folder / name for name in IMAGE_FOLDERS if (folder / name).is_dir()), folder)


def find_caption_file(data: str | Path) -> tuple[Path, Path]:
    """The captions file and the images' folder of a user's data spec (see the module docstring).

    Raises:
        DataError: no such path, or a folder with no captions file or with several.
    """
    path = Path(data)
    if path.is_dir():
        candidates = sorted(
            p.name
            for p in path.iterdir()
            if p.suffix.lower() in CAPTION_SUFFIXES and not p.name.startswith(".") and p.is_file()
        )
        if not candidates:
            raise DataError(f"data: {path} holds no captions file (.txt, .csv or .json: {FORMATS})")
        if len(candidates) > 1:
            raise DataError(
                f"data: {path} holds {len(candidates)} possible captions files ({_some(candidates)}); "
                "name the one to use"
            )
        return path / candidates[0], _image_folder(path)
    if path.exists():
        return path, _image_folder(path.parent)
    raise DataError(f"data: {data}: no such file or folder (named sets: {', '.join(CAPTION_SETS)})")


def _image_files(folder: Path) -> set[str]:
    return {
        p.name
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    }


def _read_images(paths: list[Path], size: int) -> list[np.ndarray]:
    """The images at ``paths`` in order, decoded by a few threads (Pillow decodes without the GIL)."""
    pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
    try:
        return list(pool.map(lambda path: read_image(path, size), paths))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # after an error, do not decode the rest


def read_captioned(data: str | Path, size: int) -> list[Captioned]:
    """The images of a user's data spec and their captions, in the order of the captions file.

    Raises:
        DataError: one line: the captions file cannot be read (see
            :func:`~rnnlab.data.caption_files.read_caption_file`), the folder has no images, the file
            names images that are not there or the folder has images without a caption (giving the
            count and the first names), or an image cannot be read (naming it).
    """
    captions_path, folder = find_caption_file(data)
    captions = read_caption_file(captions_path)
    files = _image_files(folder)
    odd = [name for name in captions if Path(name).suffix.lower() not in IMAGE_SUFFIXES and name not in files]
    if odd:  # e.g. Flickr8k.token.txt's "2258277193_586949ec62.jpg.1", a name of no image
        print(
            f"note: {captions_path} names {len(odd):,} file(s) that are not images, left out: {_some(odd)}",
            file=sys.stderr,
        )
        captions = {name: texts for name, texts in captions.items() if name not in odd}
    missing = [name for name in captions if name not in files and not (folder / name).is_file()]
    if missing and not files:
        raise DataError(f"data: {folder} holds no images ({' '.join(IMAGE_SUFFIXES)})")
    if missing:
        raise DataError(
            f"data: {captions_path} names {len(missing):,} image(s) that are not in {folder}: {_some(missing)}"
        )
    uncaptioned = sorted(files - set(captions))
    if uncaptioned:
        raise DataError(
            f"data: {folder} holds {len(uncaptioned):,} image(s) with no caption in {captions_path}: "
            f"{_some(uncaptioned)}; caption them or move them out"
        )
    images_fit(len(captions), size)
    images = _read_images([folder / name for name in captions], size)
    return [Captioned(name, image, texts) for (name, texts), image in zip(captions.items(), images, strict=True)]


def _needed(share: float) -> int:
    """The fewest images of which ``round(n * share)`` is at least one."""
    n = max(1, math.ceil(0.5 / share) - 1)
    while int(n * share + 0.5) < 1:
        n += 1
    return n


def deal_images(items: list[Captioned], fractions: dict[str, float], seed: int, where: str) -> Splits:
    """Deal images (each with all its captions) into ``train`` and held-out splits (see the module docstring).

    Args:
        items: the images, in file order.
        fractions: held-out split -> its share, each in (0, 0.5).
        seed: seeds the shuffle.
        where: the data spec, named in messages.

    Returns:
        ``train`` and each held-out split, the images of each in the order of ``items``.

    Raises:
        DataError: a split would be empty, saying how many images there are and how many it needs.
    """
    n = len(items)
    counts = {name: int(n * share + 0.5) for name, share in fractions.items()}
    for name, count in counts.items():
        if not count:
            raise DataError(
                f"data: {where} has {n:,} image(s), too few to hold out a {name} share of {fractions[name]:g}: "
                f"that needs at least {_needed(fractions[name]):,} images; give more, or name the {name} data"
            )
    if n - sum(counts.values()) < 1:
        raise DataError(f"data: {where} has {n:,} image(s), all held out; training needs at least one more")
    order = sorted(range(n), key=lambda i: items[i].name)
    random.Random(f"{seed}:captions").shuffle(order)
    owner = ["train"] * n
    start = 0
    for name, count in counts.items():
        for i in order[start : start + count]:
            owner[i] = name
        start += count
    out: Splits = {"train": [], **{name: [] for name in fractions}}
    for item, name in zip(items, owner):
        out[name].append(item)
    return out


def _check_arguments(size: object, seed: object, fractions: dict[str, float]) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIDE <= size <= MAX_SIZE:
        raise DataError(
            f"data: the image size must be a whole number of pixels from {MIN_SIDE} to {MAX_SIZE}, not {size!r}"
        )
    checks.seed("seed", seed)
    for name, share in fractions.items():
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 0.5:
            raise ValueError(f"{name} fraction: expected a number between 0 and 0.5, got {share!r}")


def load_captions(
    data: str,
    size: int,
    seed: int,
    val_data: str = "",
    test_data: str = "",
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> Splits:
    """The training, validation and test images and their captions (see the module docstring).

    Args:
        data: a named set of :data:`CAPTION_SETS`, a folder of images with a captions file, or a
            captions file.
        size: pixels a side of every image (8 to 1024).
        seed: seeds the deal of user images into splits (a named set has its own splits).
        val_data: a folder or captions file of the validation images ('' = the named set's own, or
            dealt from ``data``).
        test_data: likewise for the test images.
        val_fraction: share of the images of ``data`` held out for validation when ``val_data`` is ''.
        test_fraction: share held out for testing when ``test_data`` is ''.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}`` of :class:`Captioned`, and
        ``"test_heldout"`` too for ``digit-scenes``.

    Raises:
        DataError: one line: a bad size, unreadable data (see :func:`read_captioned`), or too few
            images for the held-out shares.
        ValueError: a bad seed or a share outside (0, 0.5).
    """
    given_specs = {name: spec for name, spec in (("val", val_data), ("test", test_data)) if spec}
    shares = {k: v for k, v in (("val", val_fraction), ("test", test_fraction)) if k not in given_specs}
    _check_arguments(size, seed, shares)
    given = {name: read_captioned(spec, size) for name, spec in given_specs.items()}
    if data in CAPTION_SETS:
        splits = CAPTION_SETS[data](size)
    else:
        items = read_captioned(data, size)
        splits = deal_images(items, shares, seed, data) if shares else {"train": items}
    splits.update(given)
    return {name: splits[name] for name in (*SPLITS, *sorted(set(splits) - set(SPLITS)))}
