"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync and rename.

    The file gets the permissions a plain ``open`` would give it (``0o666`` less the umask), not
    the owner-only mode of the temporary file.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def strict_json(obj: Any) -> Any:
    """``obj`` with every non-finite float (which JSON cannot hold) replaced by ``None``."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented, strict JSON (non-finite numbers become ``null``), atomically."""
    atomic_write_bytes(path, (json.dumps(strict_json(obj), indent=2, allow_nan=False) + "\n").encode())


def claim_run_dir(out: Path, files: tuple[str, ...], force: bool, hint: str, clear: bool = True) -> None:
    """Make ``out`` ready for a new run: refuse a file, or a folder holding any of a run's ``files``
    unless ``force`` (``hint`` says what to do instead); then create it and, with ``clear``, remove
    the old run's files."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out} exists and is not a directory")
    existing = [n for n in files if (out / n).exists()]
    if existing and not force:
        raise ValueError(f"--out: {out} already holds a run; {hint}")
    if clear:
        out.mkdir(parents=True, exist_ok=True)
        for name in existing:
            (out / name).unlink()
