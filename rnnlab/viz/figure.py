"""The one way figures are made and saved: matplotlib imported lazily, headless, written atomically."""

from __future__ import annotations

import io
from pathlib import Path

from rnnlab.fileio import atomic_write_bytes


def pyplot():
    """``matplotlib.pyplot`` on the headless Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def png_path(path: str | Path) -> Path:
    """``path`` as a :class:`~pathlib.Path`, checked to name a PNG.

    Raises:
        ValueError: ``path`` does not end in ``.png``.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"a figure is written as PNG: the path must end in .png, got {str(path)!r}")
    return path


def save_png(fig, path: str | Path, dpi: int = 100) -> None:
    """Save ``fig`` as a PNG at ``path`` atomically (never a half-written file) and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    pyplot().close(fig)
    atomic_write_bytes(path, buffer.getvalue())
