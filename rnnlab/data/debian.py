"""Data files carried inside Debian packages, read from the package archive itself.

Some real data sets come only as a Debian package. :func:`fetch` puts the package archive (the
``.deb``), exactly as the archive serves it, into ``$RNNLAB_CACHE/debian`` (``~/.cache/rnnlab/debian``
when ``$RNNLAB_CACHE`` is unset), and :func:`deb_files` reads files out of it in pure Python.

The archive is fetched with ``apt-get download NAME=VERSION``, which needs no root and uses the
machine's own apt sources and proxies. Nothing is installed, unpacked to disk or run: no ``dpkg``,
no maintainer scripts. Every archive is checked against the SHA-256 pinned in :data:`PINS`, right
after the download and each time it is found in the cache, and nothing is read from one that fails.

Format facts used here (``deb(5)`` and ``ar(5)`` of the Debian manual pages): a ``.deb`` is an
``ar`` archive, i.e. the magic ``!<arch>\\n`` followed by members, each a 60-byte ASCII header (name 16,
mtime 12, owner 6, group 6, mode 8, decimal size 10, then the two bytes `````\\n``) and the member's
bytes padded to an even length. Its members are ``debian-binary``, ``control.tar.*`` and
``data.tar.*``, the latter compressed with xz, gzip or zstd (or not at all) and holding the
package's files under ``./``.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

from rnnlab.data.archives import fetch_checked, one_line, run_tool
from rnnlab.data.corpora import DataError
from rnnlab.data.packages import cache_root, verify

#: (package, version) -> (archive file name, SHA-256 of the archive)
PINS: dict[tuple[str, str], tuple[str, str]] = {
    ("sword-text-kjv", "14.3-1"): (
        "sword-text-kjv_14.3-1_all.deb",
        "9f463f28ce665f6f528fc723179722bced880a4c5485f7a41bf742838315de57",
    ),
    ("sword-text-sparv", "2.60-1"): (
        "sword-text-sparv_2.60-1_all.deb",
        "5c87f9b2bc97457e8a872f5bae7ea7ce59cb3de1dcee73e4d4740451863694cf",
    ),
    # linux-source: mirrors drop older versions after a security update, so two are pinned (newest first)
    ("linux-source-6.1", "6.1.176-1"): (
        "linux-source-6.1_6.1.176-1_all.deb",
        "9305d1a151b8e83dcb88aa11361e7b9513f0c252bdf7f5647e4542762d99c094",
    ),
    ("linux-source-6.1", "6.1.170-3"): (
        "linux-source-6.1_6.1.170-3_all.deb",
        "0543813917cb88087d40385c0ac2581eac5cf61911e5a53258ff7997fa621478",
    ),
    ("pari-doc", "2.15.2-1"): (
        "pari-doc_2.15.2-1_all.deb",
        "6806e4ab123811d7234dd3330941a0ab777562708109ccbce7fc8907226deddc",
    ),
    ("texlive-science-doc", "2022.20230122-4"): (
        "texlive-science-doc_2022.20230122-4_all.deb",
        "0e0fcc74646b916402124e8394a7a8d896e1c959cd9b184b0d7a61e08c6e72db",
    ),
}

TIMEOUT = 600  # seconds for one apt-get download (up to 140 MB; a dead mirror should not hang a run forever)

#: fetches the archive of (package, version) into the given empty folder, or raises DataError
Downloader = Callable[[str, str, Path], None]

_AR_MAGIC = b"!<arch>\n"
_AR_HEADER = 60
# How each data.tar.* suffix is opened by tarfile; zstd only where the standard library has it.
_TAR_MODES = {"xz": "r:xz", "gz": "r:gz", "bz2": "r:bz2", "": "r:"}
if "zst" in getattr(tarfile.TarFile, "OPEN_METH", {}):
    _TAR_MODES["zst"] = "r:zst"


def cache_dir() -> Path:
    """Where fetched Debian archives are kept."""
    return cache_root() / "debian"


def _pin(package: str, version: str) -> tuple[str, str]:
    if (package, version) not in PINS:
        raise DataError(
            f"data: no pinned SHA-256 for the Debian package {package}={version}; only pinned archives are read"
        )
    return PINS[package, version]


def apt_get_download(package: str, version: str, folder: Path) -> None:
    """Run ``apt-get download PACKAGE=VERSION`` in ``folder`` (no shell, with a timeout).

    Raises:
        DataError: there is no ``apt-get``, it failed (no network, unknown package) or timed out;
            the reason is apt-get's last ``E:`` line.
    """
    what = f"apt-get download {package}={version}"
    run_tool("apt-get", ["download", f"{package}={version}"], folder, TIMEOUT, what, error_prefixes=("E:",))


def fetch(package: str, version: str, downloader: Downloader | None = None, hint: str = "") -> Path:
    """The checked archive of ``package=version`` in the cache, downloaded on first use.

    The download goes to a temporary folder inside the cache folder and is renamed into place
    only once its SHA-256 is found right (:func:`rnnlab.data.archives.fetch_checked`).

    Args:
        package: Debian package name, e.g. ``"sword-text-kjv"``.
        version: its version, e.g. ``"14.3-1"``; (package, version) must be in :data:`PINS`.
        downloader: stands in for :func:`apt_get_download` (tests inject one).
        hint: added to the message when the download fails, e.g. another way to give the data.

    Returns:
        The path of the archive in :func:`cache_dir`.

    Raises:
        DataError: no pin, the download failed (one line saying how to get the file by hand), or
            the archive, downloaded or cached, does not have the pinned SHA-256.
    """
    name, expected = _pin(package, version)
    folder = cache_dir()
    get = downloader or apt_get_download
    by_hand = f"on a Debian machine run `apt-get download {package}={version}` and put {name} into {folder}"
    return fetch_checked(
        folder,
        name,
        expected,
        lambda work: get(package, version, work),
        f"apt-get download {package}={version}",
        by_hand + (f", {hint}" if hint else ""),
    )


def fetch_newest(
    package: str, versions: tuple[str, ...], downloader: Downloader | None = None, hint: str = ""
) -> tuple[str, Path]:
    """The checked archive of the newest of ``versions`` that is cached or can be downloaded.

    Debian mirrors drop a package's older versions once a newer one is out (linux-source after a
    security update), so several versions are pinned. An archive already in the cache is taken
    first (newest first), with no network; else each version is downloaded in turn, newest first,
    and the next is tried only when the download itself fails. A cached archive or a download
    that does not have its pinned SHA-256 is an error at once: that is damage to be seen, not a
    version to skip.

    Args:
        package: Debian package name.
        versions: its pinned versions (all in :data:`PINS`), newest first.
        downloader: stands in for :func:`apt_get_download` (tests inject one).
        hint: passed to :func:`fetch`.

    Returns:
        ``(version, path of its archive in the cache)``.

    Raises:
        DataError: one line: the newest version's failure, saying that the others failed too.
    """
    for version in versions:
        if (cache_dir() / _pin(package, version)[0]).is_file():
            return version, fetch(package, version, downloader, hint)
    get = downloader or apt_get_download
    missing: list[str] = []  # versions whose download failed (not on the mirror, no network)

    def attempt(package: str, version: str, folder: Path) -> None:
        try:
            get(package, version, folder)
        except DataError:
            missing.append(version)
            raise

    failures: list[DataError] = []
    for version in versions:
        try:
            return version, fetch(package, version, attempt, hint)
        except DataError as e:
            if version not in missing:
                raise  # the download came but is not the pinned archive
            failures.append(e)
    others = ", ".join(versions[1:])
    raise DataError(f"{failures[0]}" + (f" (the older pinned {others} could not be fetched either)" if others else ""))


def ar_members(data: bytes, where: str = "archive") -> dict[str, bytes]:
    """The members of an ``ar`` archive (the outer layer of a ``.deb``), by name.

    Args:
        data: the archive's bytes.
        where: names the archive in error messages.

    Returns:
        Member name (without the trailing ``/`` of GNU ar) -> the member's bytes.

    Raises:
        DataError: the bytes are not an ``ar`` archive or are cut short.
    """
    if not data.startswith(_AR_MAGIC):
        raise DataError(f"data: {where} is not an ar archive (a .deb starts with !<arch>)")
    members: dict[str, bytes] = {}
    position = len(_AR_MAGIC)
    while position < len(data):
        header = data[position : position + _AR_HEADER]
        if len(header) < _AR_HEADER or header[58:60] != b"`\n":
            raise DataError(f"data: {where} has a damaged ar member header at byte {position}")
        try:
            size = int(header[48:58].decode("ascii"))
        except ValueError as e:
            raise DataError(f"data: {where} has a bad ar member size at byte {position}") from e
        start = position + _AR_HEADER
        if start + size > len(data):
            raise DataError(f"data: {where} is cut short (an ar member runs past its end)")
        name = header[:16].decode("ascii", errors="replace").rstrip(" ").rstrip("/")
        members[name] = data[start : start + size]
        position = start + size + (size & 1)  # members start on even offsets
    return members


def data_files(deb: bytes, prefix: str = "", where: str = "archive") -> dict[str, bytes]:
    """The regular files of a ``.deb``'s ``data.tar.*`` whose path starts with ``prefix``.

    Files are read into memory, never written to disk, so no path in the archive can reach
    outside it.

    Args:
        deb: the ``.deb``'s bytes.
        prefix: keeps files whose path (without the leading ``./``) starts with it, e.g. ``"usr/share/sword/"``.
        where: names the archive in error messages.

    Returns:
        Path (e.g. ``"usr/share/sword/mods.d/x.conf"``) -> bytes.

    Raises:
        DataError: no ``data.tar``, a compression this Python cannot read, or a damaged tar.
    """
    members = ar_members(deb, where)
    tars = [name for name in members if name == "data.tar" or name.startswith("data.tar.")]
    if not tars:
        raise DataError(f"data: {where} has no data.tar member (members: {', '.join(members) or 'none'})")
    suffix = tars[0].removeprefix("data.tar").removeprefix(".")
    if suffix not in _TAR_MODES:
        need = " (zstd needs Python 3.14 or later)" if suffix == "zst" else ""
        raise DataError(f"data: {where} holds {tars[0]}, which this Python cannot decompress{need}")
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(members[tars[0]]), mode=_TAR_MODES[suffix]) as tar:
            for info in tar:
                path = info.name.removeprefix("./")
                if info.isfile() and path.startswith(prefix):
                    handle = tar.extractfile(info)
                    if handle is not None:
                        files[path] = handle.read()
    except (OSError, EOFError, tarfile.TarError) as e:
        raise DataError(f"data: {tars[0]} of {where} cannot be read ({one_line(str(e))})") from e
    return files


def deb_files(
    package: str, version: str, prefix: str = "", downloader: Downloader | None = None, hint: str = ""
) -> dict[str, bytes]:
    """The files under ``prefix`` of the pinned Debian package ``package=version``.

    The archive is fetched on first use (:func:`fetch`) and checked against its pinned SHA-256
    each time it is read; the bytes read are the bytes checked.

    Args:
        package: Debian package name.
        version: its version (pinned in :data:`PINS`).
        prefix: keeps the files whose path starts with it.
        downloader: passed to :func:`fetch`.
        hint: passed to :func:`fetch`.

    Returns:
        Path inside the package (no leading ``/``) -> bytes.

    Raises:
        DataError: see :func:`fetch` and :func:`data_files`.
    """
    name, expected = _pin(package, version)
    path = cache_dir() / name
    if not path.is_file():
        fetch(package, version, downloader, hint)
    return data_files(verify(path, expected), prefix, where=name)
