"""emoji: Google's emoji drawings with their Unicode names, for image captioning (one to many).

The data is the npm package ``emoji-datasource-google`` 16.0.0, fetched as a pinned tarball by
:mod:`rnnlab.data.npm` (``npm pack``; nothing is installed or run). ``package/emoji.json`` lists the
emoji; each one with ``has_img_google`` has a 64x64 RGBA PNG ``package/img/google/64/<image>``.
Skin-tone variations are not used, so there is one drawing per emoji: 1,911 in this version.

Each example is ``(image, caption)``: the drawing composited over a white background as an RGB
``uint8`` array of shape (H, W, 3) (64x64, or ``size`` x ``size`` when resized) and the emoji's
Unicode name in lower case, e.g. ``"grinning face with smiling eyes"``.

The split does not depend on any seed: an emoji goes to ``test`` when the first byte of the SHA-256
of its image file name (e.g. ``"1f604.png"``) modulo 10 is 0, to ``valid`` when it is 1, else to
``train`` (about 10 %, 10 %, 80 %); see :func:`split_of`.

The decoded set is cached in ``$RNNLAB_CACHE/emoji`` as an ``.npz`` of the images (no pickled
objects) and a JSON file of the captions, both written atomically; the JSON, written last, records
the tarball's SHA-256 and the counts, and a cache that does not match them is decoded again.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from rnnlab.data import npm
from rnnlab.data.corpora import DataError
from rnnlab.data.images import decode_image
from rnnlab.data.packages import cache_root
from rnnlab.fileio import atomic_write_bytes, atomic_write_json

PACKAGE = ("emoji-datasource-google", "16.0.0")
SPLITS = ("train", "valid", "test")
NATIVE = 64  # pixels a side of the drawings read
_IMAGES = "package/img/google/64/"
_INDEX = "package/emoji.json"
_FORMAT = 1  # bumped when the cached files change


def cache_dir() -> Path:
    """Where the decoded sets are kept."""
    return cache_root() / "emoji"


def split_of(image: str) -> str:
    """``"train"``, ``"valid"`` or ``"test"`` for the emoji whose image file name is ``image``."""
    bucket = hashlib.sha256(image.encode("utf-8")).digest()[0] % 10
    return "test" if bucket == 0 else "valid" if bucket == 1 else "train"


def caption_of(entry: dict) -> str:
    """The emoji's readable name: its Unicode ``name`` in lower case (``short_name`` with spaces if it has none)."""
    name = entry.get("name") or str(entry.get("short_name") or "").replace("_", " ")
    return " ".join(str(name).lower().split())


def decode(png: bytes, size: int | None = None, where: str = "image") -> np.ndarray:
    """A PNG composited over white, as an RGB ``uint8`` array (H, W, 3), resized to ``size`` squared if given.

    Raises:
        DataError: the bytes are not an image Pillow can read (see :func:`rnnlab.data.images.decode_image`).
    """
    return decode_image(png, size, where, min_side=1)


def _read(size: int | None, downloader: npm.Downloader | None) -> dict[str, list[tuple[np.ndarray, str]]]:
    files = npm.npm_files(*PACKAGE, prefix="package/", downloader=downloader)
    name = npm.PINS[PACKAGE][0]
    if _INDEX not in files:
        raise DataError(f"data: {name} has no {_INDEX}")
    try:
        entries = json.loads(files[_INDEX])
    except ValueError as e:
        raise DataError(f"data: {_INDEX} of {name} is not JSON ({' '.join(str(e).split())})") from e
    if not isinstance(entries, list):
        raise DataError(f"data: {_INDEX} of {name} is not a list of emoji")
    sets: dict[str, list[tuple[np.ndarray, str]]] = {split: [] for split in SPLITS}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("has_img_google") or not entry.get("image"):
            continue
        path = _IMAGES + str(entry["image"])
        if path not in files:
            raise DataError(f"data: {name} has no {path}, though emoji.json says it has a google image")
        image = decode(files[path], size, where=f"{path} of {name}")
        sets[split_of(str(entry["image"]))].append((image, caption_of(entry)))
    if not any(sets.values()):
        raise DataError(f"data: {name} has no emoji with a google image")
    return sets


def _paths(size: int | None) -> tuple[Path, Path]:
    stem = f"{PACKAGE[0]}-{PACKAGE[1]}-{size or NATIVE}px"
    return cache_dir() / f"{stem}.npz", cache_dir() / f"{stem}.json"


def _load_cached(size: int | None) -> dict[str, list[tuple[np.ndarray, str]]] | None:
    """The cached set, or None when there is none or it is not the one this version writes."""
    arrays, captions = _paths(size)
    try:
        meta = json.loads(captions.read_text(encoding="utf-8"))
        if meta.get("format") != _FORMAT or meta.get("sha256") != npm.PINS[PACKAGE][1]:
            return None
        sets = {}
        with np.load(arrays, allow_pickle=False) as stored:
            for split in SPLITS:
                images, names = stored[split], meta["captions"][split]
                if images.dtype != np.uint8 or images.ndim != 4 or len(images) != len(names):
                    return None
                sets[split] = [(image, str(caption)) for image, caption in zip(images, names, strict=True)]
        return sets
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile):
        return None


def _store(size: int | None, sets: dict[str, list[tuple[np.ndarray, str]]]) -> None:
    arrays, captions = _paths(size)
    side = size or NATIVE
    cache_dir().mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    stacked = {
        split: np.stack([image for image, _ in sets[split]]) if sets[split] else np.zeros((0, side, side, 3), np.uint8)
        for split in SPLITS
    }
    np.savez(buffer, **stacked)
    atomic_write_bytes(arrays, buffer.getvalue())
    meta = {
        "format": _FORMAT,
        "package": f"{PACKAGE[0]}@{PACKAGE[1]}",
        "sha256": npm.PINS[PACKAGE][1],
        "counts": {split: len(sets[split]) for split in SPLITS},
        "captions": {split: [caption for _, caption in sets[split]] for split in SPLITS},
    }
    atomic_write_json(captions, meta)


def load_emoji(
    size: int | None = None, downloader: npm.Downloader | None = None
) -> dict[str, list[tuple[np.ndarray, str]]]:
    """The emoji drawings and their names, split into ``"train"``, ``"valid"`` and ``"test"``.

    Args:
        size: pixels a side of the images (resized with Lanczos filtering); None keeps the 64x64 drawings.
        downloader: passed to :func:`rnnlab.data.npm.fetch` (tests inject one).

    Returns:
        Split -> list of ``(image, caption)``: an RGB ``uint8`` array (H, W, 3), the drawing over a
        white background, and the emoji's lower-case Unicode name. Order: that of ``emoji.json``.

    Raises:
        DataError: one line: ``size`` is not a positive whole number, the tarball cannot be fetched
            (saying how to get it by hand) or is not the pinned one, or it cannot be read.
    """
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1024):
        raise DataError(f"data: the emoji size must be a whole number of pixels from 1 to 1024, not {size!r}")
    cached = _load_cached(size)
    if cached is not None:
        return cached
    sets = _read(size, downloader)
    _store(size, sets)
    return sets
