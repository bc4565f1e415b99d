"""Source-code corpora for character models, read from Debian packages: ``linux`` and ``latex``.

``linux``: the C sources (``.c`` and ``.h`` files) of the Linux kernel 6.1 from the package
``linux-source-6.1``, by default those under ``kernel/`` (about 500 files, 11.6 M characters);
``linux:SUBDIR`` takes those under another folder of the tree (``linux:mm``, ``linux:fs/ext4``)
and ``linux:all`` every one of them (about 55,000 files, 1.2 G characters; a few characters
outside Unicode's first plane make Python hold that text at 4 bytes a character, 4.7 GB). A kernel
tree of one's own is read as any folder is (``--data /path/to/linux``).

``latex``: mathematical TeX, the 18 ``.tex`` files of the PARI/GP manuals (package ``pari-doc``,
under ``usr/share/pari/doc``) followed by the ``.tex`` and ``.tex.gz`` files of the TeX Live
science collection's documentation (package ``texlive-science-doc``, under
``usr/share/doc/texlive-doc``). ``latex:pari`` and ``latex:texlive`` take one of the two.

Files are taken in the order of their paths and concatenated, each ending with a newline, as a
folder is read (:func:`rnnlab.data.corpora.concatenate`). A file is decoded as UTF-8; a ``.tex``
file that is not UTF-8 is decoded with the encoding it declares to LaTeX
(``\\usepackage[latin1]{inputenc}``, ``latin9``, ``ansinew``/``cp1252``) and left out, with a note
on stderr, when it declares none of these (guessing would put wrong letters into the vocabulary).

The packages are fetched and checked against their pinned SHA-256 by :mod:`rnnlab.data.debian`.
Reading one takes from seconds to half a minute (the kernel's tarball decompresses to 1.4 GB), so
the text read is kept in ``$RNNLAB_CACHE/corpora/v1/``, one file per package version and selection
(e.g. ``linux-6.1.176-1-kernel.txt``), written atomically: a run cut short leaves no file, or a
whole one, never a half one. The ``v1`` changes when the reading rules change. Beside them,
``linux-VERSION-folders.txt`` lists the folders of the tree that hold C files, so that a folder
with none (a typing slip) is refused at once, not after reading the package again.

Format facts used here: ``linux-source-6.1`` installs the tree as one tarball,
``usr/src/linux-source-6.1.tar.xz``, whose members are named ``linux-source-6.1/PATH``. It is read
as a stream (``tarfile`` mode ``r|``: a tar archive is a sequence of 512-byte headers each followed
by the member's data, so members can be read in order without seeking) and only the wanted members
are kept. An xz file ends with a stream footer (the xz file format, section 2.1.2), so one cut
short is found when the footer is missing. A ``.tex.gz`` is gzip data (RFC 1952), decompressed in
memory.
"""

from __future__ import annotations

import gzip
import io
import lzma
import re
import sys
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from rnnlab.data import debian
from rnnlab.data.archives import one_line
from rnnlab.data.corpora import DataError, concatenate, decode_text
from rnnlab.data.packages import cache_root, verify
from rnnlab.fileio import atomic_write_bytes

LINUX_PACKAGE = "linux-source-6.1"
#: pinned versions of the kernel source package, newest first (mirrors drop superseded ones)
LINUX_VERSIONS = ("6.1.176-1", "6.1.170-3")
LINUX_TARBALL = "usr/src/linux-source-6.1.tar.xz"
LINUX_ROOT = "linux-source-6.1"
DEFAULT_SUBTREE = "kernel"
ALL = "all"  # linux:all: the whole tree
LINUX_HINT = "or pass a kernel source tree as a folder instead (--data /path/to/linux)"
LATEX_HINT = "or pass a folder of .tex files instead (--data /path/to/tex)"
FORMAT = 1  # version of the kept texts; bump when the reading rules change


@dataclass(frozen=True)
class TexPackage:
    """A Debian package whose ``.tex`` files under ``folder`` make one part of ``latex``."""

    package: str
    version: str
    folder: str


#: the parts of ``latex``, in the order they are concatenated
LATEX_PARTS: dict[str, TexPackage] = {
    "pari": TexPackage("pari-doc", "2.15.2-1", "usr/share/pari/doc/"),
    "texlive": TexPackage("texlive-science-doc", "2022.20230122-4", "usr/share/doc/texlive-doc/"),
}

# A folder of the kernel tree as the user writes it: relative, plain names, no "." or "..".
_SUBTREE = re.compile(r"[\w+,-][\w.+,-]*(/[\w+,-][\w.+,-]*)*")
# The input encodings LaTeX's inputenc names, that a file not in UTF-8 may declare, as Python codecs.
_INPUTENC = re.compile(rb"\\usepackage\[(\w+)\]\{inputenc\}")
_CODECS = {b"latin1": "latin-1", b"latin9": "iso8859-15", b"ansinew": "cp1252", b"cp1252": "cp1252"}


def kept_file(name: str) -> Path:
    """Where the text ``name`` (e.g. ``"linux-6.1.176-1-kernel.txt"``) read from a package is kept."""
    return cache_root() / "corpora" / f"v{FORMAT}" / name


def read_kept(path: Path) -> str | None:
    """The text kept at ``path``, or None when there is none (or it cannot be read: it is redone)."""
    try:
        return path.read_bytes().decode("utf-8")  # as written: no newline translation
    except (OSError, UnicodeDecodeError):
        return None


def keep(path: Path, text: str) -> None:
    """Keep ``text`` at ``path``: written to a temporary file in the same folder, synced, renamed.

    A text that cannot be kept (a full disk: linux:all takes 1.2 GB) is noted on stderr and the run
    goes on with it; the next run reads the package again.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as e:
        print(
            f"note: could not keep the text read at {path} ({e.strerror or e}); it is read again next time",
            file=sys.stderr,
        )


def kept_or_read(path: Path, read: Callable[[], str]) -> str:
    """The text kept at ``path``, else ``read()``, which is then kept there."""
    text = read_kept(path)
    if text is None:
        text = read()
        keep(path, text)
    return text


def join_files(files: dict[str, str | None], name: str) -> str:
    """The texts of ``files`` (path -> text, None for a file left out) in path order, concatenated."""
    texts = [files[path] for path in sorted(files)]
    return concatenate((t for t in texts if t is not None), sum(t is None for t in texts), name)


def subtree_of(arg: str) -> str:
    """The folder of the kernel tree named by ``linux:ARG`` (``ALL`` for the whole tree).

    Raises:
        DataError: not a relative folder made of plain names.
    """
    subtree = arg.strip("/")
    if not _SUBTREE.fullmatch(subtree) or any(part in {".", ".."} for part in subtree.split("/")):
        raise DataError(f"data: linux:{arg}: give a folder of the kernel tree (linux:mm, linux:fs/ext4) or linux:{ALL}")
    return subtree


def _no_sources(subtree: str) -> DataError:
    return DataError(f"data: linux:{subtree}: no .c or .h file under {LINUX_ROOT}/{subtree}")


def kernel_sources(deb: bytes, subtree: str, where: str, folders: set[str] | None = None) -> str:
    """The ``.c`` and ``.h`` files under ``subtree`` of the kernel tarball in a ``linux-source`` .deb.

    Args:
        deb: the package's bytes (checked against its pin by the caller).
        subtree: a folder of the tree, e.g. ``"kernel"`` or ``"fs/ext4"``, or :data:`ALL`.
        where: names the package in messages.
        folders: filled, once the whole tarball is read, with every folder of the tree (e.g.
            ``"fs"``, ``"fs/ext4"``) that holds a ``.c`` or ``.h`` file, at any depth.

    Returns:
        Their texts in path order, concatenated.

    Raises:
        DataError: no tarball in the package, a damaged tarball, or no ``.c``/``.h`` file there.
    """
    tarball = debian.data_files(deb, LINUX_TARBALL, where).get(LINUX_TARBALL)
    if tarball is None:
        raise DataError(f"data: {where} holds no {LINUX_TARBALL}")
    folder = f"{LINUX_ROOT}/" if subtree == ALL else f"{LINUX_ROOT}/{subtree}/"
    files: dict[str, str | None] = {}
    seen: set[str] = set()
    try:
        # A stream: members are read in order and the whole tar is never held in memory. LZMAFile
        # decompresses, rather than tarfile's "r|xz", as it raises EOFError on an xz stream cut short
        # (tarfile would end quietly at a member boundary, giving part of the tree).
        with lzma.LZMAFile(io.BytesIO(tarball)) as xz, tarfile.open(fileobj=xz, mode="r|") as tar:
            for info in tar:
                path = info.name.removeprefix("./")
                if not (info.isfile() and path.endswith((".c", ".h"))):
                    continue
                seen.add(path.removeprefix(f"{LINUX_ROOT}/").rpartition("/")[0])
                if path.startswith(folder):
                    handle = tar.extractfile(info)
                    files[path] = _utf8_or_none(handle.read() if handle else b"", path)
    except (OSError, EOFError, tarfile.TarError, lzma.LZMAError) as e:
        raise DataError(f"data: {LINUX_TARBALL} in {where} cannot be read ({one_line(str(e))})") from e
    if folders is not None:  # only for a tarball read to its end: a cut one would name too few
        parts = [folder.split("/") for folder in seen if folder]
        folders.update("/".join(names[:depth]) for names in parts for depth in range(1, len(names) + 1))
    if not files:
        raise _no_sources(subtree)
    return join_files(files, f"linux:{subtree}")


def _utf8_or_none(data: bytes, path: str) -> str | None:
    try:
        return decode_text(data, path)
    except DataError:
        return None


def linux_text(arg: str = DEFAULT_SUBTREE, downloader: debian.Downloader | None = None) -> str:
    """The ``linux`` corpus: kernel C sources under the folder ``arg`` (see the module docstring).

    The text kept from an earlier read is used when there is one for any pinned version (newest
    first); else the newest pinned package that is cached or can be downloaded is read and kept.
    Each read of the package also keeps the list of the tree's folders that hold C files, so that a
    folder without any is refused at once the next time, without reading the package.

    Args:
        arg: a folder of the tree (``"kernel"``, ``"mm"``, ``"fs/ext4"``) or ``"all"``.
        downloader: passed to :func:`rnnlab.data.debian.fetch_newest` (tests inject one).

    Returns:
        The ``.c`` and ``.h`` files under that folder, in path order, concatenated.

    Raises:
        DataError: a bad folder name, no package could be fetched (the message says how to get it
            by hand or pass a folder instead), a damaged package, or no C file under the folder.
    """
    subtree = subtree_of(arg)
    names = {version: f"linux-{version}-{quote(subtree, safe='')}.txt" for version in LINUX_VERSIONS}
    for version in LINUX_VERSIONS:
        text = read_kept(kept_file(names[version]))
        if text is not None:
            return text
    for version in LINUX_VERSIONS:
        known = read_kept(kept_file(f"linux-{version}-folders.txt"))
        if known is not None:
            if subtree != ALL and subtree not in known.splitlines():
                raise _no_sources(subtree)
            break
    version, path = debian.fetch_newest(LINUX_PACKAGE, LINUX_VERSIONS, downloader, LINUX_HINT)
    folders: set[str] = set()
    try:
        text = kernel_sources(verify(path, debian.PINS[LINUX_PACKAGE, version][1]), subtree, path.name, folders)
    finally:
        if folders:  # kept even when the folder asked for holds no C file: that is what it is for
            keep(kept_file(f"linux-{version}-folders.txt"), "".join(f"{folder}\n" for folder in sorted(folders)))
    keep(kept_file(names[version]), text)
    return text


def decode_tex(data: bytes, path: str) -> str | None:
    """The text of a ``.tex`` file: UTF-8, else the encoding it declares to inputenc, else None."""
    text = _utf8_or_none(data, path)
    declared = _INPUTENC.search(data)
    if text is None and b"\x00" not in data and declared and declared[1].lower() in _CODECS:
        text = data.decode(_CODECS[declared[1].lower()])  # these single-byte codecs decode any byte
    return text


def tex_sources(files: dict[str, bytes], name: str, where: str) -> str:
    """The ``.tex`` and ``.tex.gz`` files among a package's files, in path order, concatenated.

    Args:
        files: path inside the package -> bytes.
        name: names the selection in messages, e.g. ``"latex:pari"``.
        where: names the package in messages.

    Raises:
        DataError: a ``.tex.gz`` that is not gzip data, or no ``.tex`` file at all.
    """
    texts: dict[str, str | None] = {}
    for path, data in files.items():
        if path.endswith(".tex.gz"):
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as e:
                raise DataError(f"data: {path} in {where} cannot be decompressed ({one_line(str(e))})") from e
        elif not path.endswith(".tex"):
            continue
        texts[path.removesuffix(".gz")] = decode_tex(data, path)
    if not texts:
        raise DataError(f"data: {name}: no .tex or .tex.gz file in {where}")
    return join_files(texts, name)


def latex_part(part: str, downloader: debian.Downloader | None = None) -> str:
    """One part of ``latex`` (``"pari"`` or ``"texlive"``), read from its package or kept text.

    Raises:
        DataError: see :func:`rnnlab.data.debian.deb_files` and :func:`tex_sources`.
    """
    source = LATEX_PARTS[part]

    def read() -> str:
        files = debian.deb_files(source.package, source.version, source.folder, downloader, LATEX_HINT)
        return tex_sources(files, f"latex:{part}", debian.PINS[source.package, source.version][0])

    return kept_or_read(kept_file(f"{source.package}-{source.version}.txt"), read)


def latex_text(arg: str = "", downloader: debian.Downloader | None = None) -> str:
    """The ``latex`` corpus: both parts (PARI first) or the one named by ``arg``.

    Args:
        arg: ``""`` for both parts, else ``"pari"`` or ``"texlive"``.
        downloader: passed to :func:`rnnlab.data.debian.deb_files` (tests inject one).

    Returns:
        The ``.tex`` files of the part(s), in path order, concatenated.

    Raises:
        DataError: an unknown part, or see :func:`latex_part`.
    """
    if arg and arg not in LATEX_PARTS:
        known = ", ".join(f"latex:{part}" for part in LATEX_PARTS)
        raise DataError(f"data: latex:{arg}: no such part (latex is {known}, in that order)")
    return "".join(latex_part(part, downloader) for part in ([arg] if arg else LATEX_PARTS))
