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


def _jsonl_line(record: dict) -> str:
    """``record`` as one line of strict JSON (non-finite numbers become ``null``)."""
    return json.dumps(strict_json(record), allow_nan=False) + "\n"


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append ``record`` as one line of strict JSON (non-finite numbers become ``null``)."""
    line = _jsonl_line(record)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The records of a JSON-lines file, ``[]`` if there is none.

    A last line without its newline that is not a whole JSON object is the torn end of an append
    cut short (a kill, a full disk) and is left out; any other line that is not a JSON object is
    an error.

    Raises:
        ValueError: naming the file and the line.
    """
    path = Path(path)
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    except OSError as e:
        raise ValueError(f"{path}: cannot be read ({e.strerror})") from e
    records = []
    for k, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            if k == len(lines) - 1:  # no newline after it: torn
                break
            raise ValueError(f"{path}: line {k + 1} is not a JSON object")
        records.append(record)
    return records


def write_jsonl(path: str | os.PathLike, records: list[dict]) -> None:
    """Replace a JSON-lines file with ``records``, atomically."""
    atomic_write_bytes(path, "".join(_jsonl_line(r) for r in records).encode())
