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


def save_png(fig, path: str | Path, dpi: int = 100) -> None:
    """Save ``fig`` as a PNG at ``path`` atomically (never a half-written file) and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    pyplot().close(fig)
    atomic_write_bytes(path, buffer.getvalue())
