"""Run directories: claiming one for a new run, and one training at a time in each.

A training holds an exclusive ``flock`` on ``OUT/.lock`` for its whole life: a second training
into the same folder is refused at once instead of interleaving its records with the first's and
overwriting its weights. The kernel releases the lock when the holder exits, however it exits
(Ctrl-C, ``kill -9``, a crash), so a lock never outlives its run. Under the lock, the temporary
files of atomic writes that a killed run left behind (``.NAME.*.tmp``) are removed.

``--force`` replaces a run, never files rnnlab did not write: a folder is a run when its
``config.json`` names an rnnlab format.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

LOCK = ".lock"
_held: dict[Path, int] = {}  # run directory -> descriptor holding its lock, in this process


def lock_run_dir(out: Path, files: tuple[str, ...] = ()) -> None:
    """Take the run directory ``out`` (created if missing) for this process until :func:`release_run_dir`
    or exit; taking it again in the same process is a no-op. The temporary files that a killed
    write of one of the run's ``files`` left (``.NAME.*.tmp``) are removed.

    Raises:
        ValueError: another process is training in ``out``, or it cannot be locked.
    """
    key = Path(os.path.abspath(out))
    if key in _held:
        return
    out.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ValueError(f"--out: cannot lock {out} ({e.strerror})") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as e:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise ValueError(
            f"--out: another rnnlab process (pid {holder}) is training in {out}; wait for it or pick another --out"
        ) from e
    except OSError as e:  # a file system without locks
        os.close(fd)
        raise ValueError(f"--out: cannot lock {out} ({e.strerror})") from e
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[key] = fd
    for name in files:  # left by a write that a kill cut short; no training writes them now
        for tmp in out.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)


def release_run_dir(out: Path) -> None:
    """Let other processes train in ``out`` again."""
    fd = _held.pop(Path(os.path.abspath(out)), None)
    if fd is not None:
        os.close(fd)


@contextlib.contextmanager
def releasing_on_error(out: Path) -> Iterator[None]:
    """Release ``out``'s lock if the block raises (a trainer that could not be set up holds no folder)."""
    try:
        yield
    except BaseException:
        release_run_dir(out)
        raise


def run_format(out: Path) -> str | None:
    """The ``format`` named in ``out/config.json`` (which command made the run), or ``None``."""
    try:
        found = json.loads((out / "config.json").read_text(encoding="utf-8")).get("format")
    except (OSError, ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def is_run(out: Path) -> bool:
    """Whether ``out/config.json`` was written by rnnlab (names an ``rnnlab-...`` format)."""
    return (run_format(out) or "").startswith("rnnlab-")


def claim_run_dir(out: Path, files: tuple[str, ...], force: bool, hint: str, clear: bool = True) -> None:
    """Make ``out`` ready for a new run: take its lock (:func:`lock_run_dir`) and remove the old run's
    files; with ``clear=False``, only check that it could be (nothing is created or locked).

    A file is refused; so is a folder holding any of a run's ``files``, unless ``force`` and it is
    an rnnlab run (``hint`` says what to do instead). An rnnlab run that saved no weights yet (one
    killed while it started) holds nothing to lose and is replaced without ``force``.

    Raises:
        ValueError: with one line saying why.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out} exists and is not a directory")
    existing = [n for n in files if (out / n).exists()]
    if existing and not is_run(out):
        raise ValueError(
            f"--out: {out} holds files rnnlab did not write ({', '.join(existing)}); --force replaces only "
            "an rnnlab run: pick another --out"
        )
    saved = any(n.endswith(".safetensors") for n in existing)
    if saved and not force:  # a run killed before it saved any weights holds nothing to lose
        raise ValueError(f"--out: {out} already holds a run; {hint}")
    if clear:
        lock_run_dir(out, files)
        for name in existing:
            (out / name).unlink()
