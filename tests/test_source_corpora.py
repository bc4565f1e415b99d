"""linux and latex: corpora read from Debian packages, on small packages built here (no network)."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from rnnlab.data import debian, sources
from rnnlab.data.corpora import DataError, load_corpus
from tests.test_bible import _deb

NEW, OLD = (sources.LINUX_PACKAGE, "6.1.176-1"), (sources.LINUX_PACKAGE, "6.1.170-3")
PARI, TEXLIVE = ("pari-doc", "2.15.2-1"), ("texlive-science-doc", "2022.20230122-4")

KERNEL = {
    "kernel/fork.c": "int fork(void);\n",
    "kernel/sched/core.c": "void schedule(void) {}",  # no newline at the end: one is added
    "kernel/sched/sched.h": "#define X 1\n",
    "kernel/Makefile": "obj-y += fork.o\n",  # not C: left out
    "kernel/entry.S": "ret\n",
    "kernelx/other.c": "int other;\n",  # a folder that only starts like kernel/
    "mm/slab.c": "void *kmalloc(int);\n",
    "fs/ext4/inode.c": "int ext4;\n",
}


def _tarball(files: dict[str, str], symlink: str = "") -> bytes:
    """The kernel tree as linux-source ships it: linux-source-6.1.tar.xz, members under linux-source-6.1/."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:xz") as tar:
        for path, text in files.items():
            info = tarfile.TarInfo(f"{sources.LINUX_ROOT}/{path}")
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
        if symlink:  # a link is no file of its own
            info = tarfile.TarInfo(f"{sources.LINUX_ROOT}/{symlink}")
            info.type, info.linkname = tarfile.SYMTYPE, "fork.c"
            tar.addfile(info)
    return out.getvalue()


def _linux_deb(tarball: bytes) -> bytes:
    return _deb({sources.LINUX_TARBALL: tarball, "usr/share/doc/linux-source-6.1/copyright": b"GPL-2\n"})


class Mirror:
    """Stands in for apt-get download: serves some archives, fails (as apt-get does) for the rest."""

    def __init__(self, debs: dict[tuple[str, str], bytes]) -> None:
        self.debs = debs
        self.asked: list[str] = []

    def __call__(self, package: str, version: str, folder: Path) -> None:
        self.asked.append(version)
        if (package, version) not in self.debs:
            raise DataError(f"apt-get download {package}={version} failed: E: Can't find a source to download")
        (folder / debian.PINS[package, version][0]).write_bytes(self.debs[package, version])


def _pin(monkeypatch: pytest.MonkeyPatch, key: tuple[str, str], deb: bytes) -> None:
    monkeypatch.setitem(debian.PINS, key, (debian.PINS[key][0], hashlib.sha256(deb).hexdigest()))


def _cached(key: tuple[str, str], deb: bytes) -> None:
    """Put ``deb`` into the cache as the archive of ``key``, as a download would."""
    debian.cache_dir().mkdir(parents=True, exist_ok=True)
    (debian.cache_dir() / debian.PINS[key][0]).write_bytes(deb)


def _kept() -> list[str]:
    folder = sources.kept_file("x").parent
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def linux_deb(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The newest pinned linux-source, pinned to a small package and put into the cache."""
    deb = _linux_deb(_tarball(KERNEL, symlink="kernel/link.c"))
    _pin(monkeypatch, NEW, deb)
    _cached(NEW, deb)
    return deb


# --- linux ---------------------------------------------------------------------------------------


def test_linux_reads_the_c_and_h_files_under_kernel_in_path_order(linux_deb: bytes) -> None:
    text = load_corpus("linux")
    assert text == "int fork(void);\n" + "void schedule(void) {}\n" + "#define X 1\n"
    assert _kept() == ["linux-6.1.176-1-folders.txt", "linux-6.1.176-1-kernel.txt"]
    assert load_corpus("linux:kernel/") == text


def test_linux_all_and_a_named_subtree(linux_deb: bytes) -> None:
    everything = load_corpus("linux:all")
    order = ["int ext4", "int fork", "void schedule", "#define X", "int other", "void *kmalloc"]
    assert [everything.index(s) for s in order] == sorted(everything.index(s) for s in order)
    assert "obj-y" not in everything and "ret\n" not in everything
    assert load_corpus("linux:mm") == "void *kmalloc(int);\n"
    assert load_corpus("linux:fs/ext4") == "int ext4;\n"
    assert "linux-6.1.176-1-fs%2Fext4.txt" in _kept()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("linux:xyz", "data: linux:xyz: no .c or .h file under linux-source-6.1/xyz"),
        ("linux:Documentation", "data: linux:Documentation: no .c or .h file under linux-source-6.1/Documentation"),
        ("linux:../etc", "data: linux:../etc: give a folder of the kernel tree"),
        ("linux:/kernel/./sched", "data: linux:/kernel/./sched: give a folder"),
        ("linux:", "data: linux:: nothing after the colon"),
    ],
)
def test_linux_refuses_an_empty_or_bad_subtree(linux_deb: bytes, spec: str, message: str) -> None:
    with pytest.raises(DataError) as e:
        load_corpus(spec)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
    assert [name for name in _kept() if not name.endswith("-folders.txt")] == []


def test_a_folder_without_c_files_is_refused_at_once_after_a_first_read(linux_deb: bytes) -> None:
    load_corpus("linux")
    assert sources.read_kept(sources.kept_file("linux-6.1.176-1-folders.txt")) == (
        "fs\nfs/ext4\nkernel\nkernel/sched\nkernelx\nmm\n"
    )
    (debian.cache_dir() / debian.PINS[NEW][0]).unlink()
    offline = Mirror({})
    with pytest.raises(DataError, match="linux:fs/ext5: no .c or .h file under linux-source-6.1/fs/ext5"):
        sources.linux_text("fs/ext5", downloader=offline)
    assert offline.asked == []
    with pytest.raises(DataError, match="could not be fetched either"):  # a folder that is there needs the package
        sources.linux_text("fs", downloader=offline)


@pytest.mark.parametrize("damage", [lambda t: t[: len(t) // 2], lambda t: t[:40] + bytes(64) + t[104:]])
def test_linux_names_a_damaged_kernel_tarball(monkeypatch: pytest.MonkeyPatch, damage) -> None:
    deb = _linux_deb(damage(_tarball({f"kernel/f{k}.c": f"int f{k};\n" * 50 for k in range(20)})))
    _pin(monkeypatch, NEW, deb)
    _cached(NEW, deb)
    with pytest.raises(DataError, match=r"linux-source-6\.1\.tar\.xz in linux-source-6\.1_6\.1\.176-1_all\.deb"):
        load_corpus("linux")
    assert _kept() == []  # no text, and no list of folders from a tarball read in part


def test_linux_names_a_package_without_the_tarball(monkeypatch: pytest.MonkeyPatch) -> None:
    deb = _deb({"usr/src/other.tar.xz": b"x"})
    _pin(monkeypatch, NEW, deb)
    _cached(NEW, deb)
    with pytest.raises(DataError, match="holds no usr/src/linux-source-6.1.tar.xz"):
        load_corpus("linux")


def test_linux_keeps_the_text_and_reads_no_archive_later(linux_deb: bytes) -> None:
    first = load_corpus("linux")
    (debian.cache_dir() / debian.PINS[NEW][0]).unlink()
    offline = Mirror({})
    assert sources.linux_text(downloader=offline) == first
    assert offline.asked == []
    with pytest.raises(DataError, match="could not be fetched either"):  # another subtree needs the archive
        sources.linux_text("mm", downloader=offline)
    assert offline.asked == ["6.1.176-1", "6.1.170-3"]


@pytest.mark.parametrize(("writes", "left"), [(0, []), (1, ["linux-6.1.176-1-folders.txt"])])
def test_an_interrupted_write_keeps_nothing_and_the_next_load_reads_again(
    linux_deb: bytes, monkeypatch: pytest.MonkeyPatch, writes: int, left: list[str]
) -> None:
    synced = []

    def cut(fd: int) -> None:  # the process is stopped after ``writes`` whole writes
        if len(synced) == writes:
            raise KeyboardInterrupt
        synced.append(fd)

    with monkeypatch.context() as patch:
        patch.setattr("rnnlab.fileio.os.fsync", cut)
        with pytest.raises(KeyboardInterrupt):
            load_corpus("linux")
    assert _kept() == left  # no text, no temporary file
    assert load_corpus("linux").startswith("int fork")
    assert _kept() == ["linux-6.1.176-1-folders.txt", "linux-6.1.176-1-kernel.txt"]


def test_a_text_that_cannot_be_kept_is_still_given(
    linux_deb: bytes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def full(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sources, "atomic_write_bytes", full)
    assert load_corpus("linux").startswith("int fork")
    assert "note: could not keep the text read at" in capsys.readouterr().err
    assert _kept() == []


def test_linux_falls_back_to_an_older_pinned_version(monkeypatch: pytest.MonkeyPatch) -> None:
    old = _linux_deb(_tarball({"kernel/old.c": "int old;\n"}))
    _pin(monkeypatch, NEW, _linux_deb(_tarball(KERNEL)))
    _pin(monkeypatch, OLD, old)
    mirror = Mirror({OLD: old})  # the newest is not served (yet, or any more)
    assert sources.linux_text(downloader=mirror) == "int old;\n"
    assert mirror.asked == ["6.1.176-1", "6.1.170-3"]
    assert _kept() == ["linux-6.1.170-3-folders.txt", "linux-6.1.170-3-kernel.txt"]
    assert sources.linux_text("kernel", downloader=Mirror({})) == "int old;\n"  # kept, no download


def test_a_cached_older_version_is_read_without_a_download(monkeypatch: pytest.MonkeyPatch) -> None:
    old = _linux_deb(_tarball({"mm/old.c": "int old;\n"}))
    _pin(monkeypatch, NEW, _linux_deb(_tarball(KERNEL)))
    _pin(monkeypatch, OLD, old)
    _cached(OLD, old)
    mirror = Mirror({})
    assert sources.linux_text("mm", downloader=mirror) == "int old;\n"
    assert mirror.asked == []


def test_no_version_to_fetch_is_one_line_that_says_how_to_give_the_data() -> None:
    mirror = Mirror({})
    with pytest.raises(DataError) as e:
        sources.linux_text(downloader=mirror)
    message = str(e.value)
    assert "\n" not in message and message.startswith("data: apt-get download linux-source-6.1=6.1.176-1 failed")
    assert "--data /path/to/linux" in message and "6.1.170-3 could not be fetched either" in message
    assert mirror.asked == ["6.1.176-1", "6.1.170-3"]


def test_a_download_that_is_not_the_pinned_archive_stops_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _pin(monkeypatch, NEW, b"the pinned bytes")
    mirror = Mirror({NEW: b"other bytes", OLD: b"x"})
    with pytest.raises(DataError, match="not the pinned"):
        sources.linux_text(downloader=mirror)
    assert mirror.asked == ["6.1.176-1"]
    assert not (debian.cache_dir() / debian.PINS[NEW][0]).exists()


def test_a_damaged_cached_archive_is_refused(linux_deb: bytes) -> None:
    path = debian.cache_dir() / debian.PINS[NEW][0]
    path.write_bytes(linux_deb[:-100])  # cut short
    with pytest.raises(DataError, match="not the pinned .*delete it"):
        load_corpus("linux")


# --- latex ---------------------------------------------------------------------------------------


def _latex_debs(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = "usr/share/doc/texlive-doc/latex/"
    pari = _deb(
        {
            "usr/share/pari/doc/users.tex": b"\\input usersch1\n",
            "usr/share/pari/doc/appb.tex": b"$x^2$",
            "usr/share/pari/doc/users.pdf": b"%PDF",
            "usr/share/doc/pari-doc/copyright": b"GPL-2+\n",
        }
    )
    texlive = _deb(
        {
            doc + "b/b.tex.gz": gzip.compress("\\section{Ä}\n".encode()),
            doc + "a/a.tex": b"\\begin{equation}\n",
            doc + "c/latin.tex": b"\\usepackage[latin1]{inputenc}\n% f\xfcr\n",
            doc + "c/unknown.tex": b"% undeclared \xe9\n",  # not UTF-8, no declared encoding: left out
            doc + "c/c.sty": b"\\def\\c{}\n",
        }
    )
    for key, deb in ((PARI, pari), (TEXLIVE, texlive)):
        _pin(monkeypatch, key, deb)
        _cached(key, deb)


def test_latex_is_pari_then_texlive(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    _latex_debs(monkeypatch)
    pari = load_corpus("latex:pari")
    assert pari == "$x^2$\n\\input usersch1\n"
    texlive = load_corpus("latex:texlive")
    assert texlive == "\\begin{equation}\n\\section{Ä}\n\\usepackage[latin1]{inputenc}\n% für\n"
    assert "note: skipped 1 file(s) under latex:texlive" in capsys.readouterr().err
    assert load_corpus("latex") == pari + texlive
    assert _kept() == ["pari-doc-2.15.2-1.txt", "texlive-science-doc-2022.20230122-4.txt"]


def test_latex_refuses_an_unknown_part_and_a_damaged_tex_gz(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError, match="latex:tex: no such part .*latex:pari, latex:texlive"):
        load_corpus("latex:tex")
    deb = _deb({"usr/share/doc/texlive-doc/latex/x/x.tex.gz": b"\x1f\x8b\x08\x00 not gzip"})
    _pin(monkeypatch, TEXLIVE, deb)
    _cached(TEXLIVE, deb)
    with pytest.raises(DataError, match="x.tex.gz in texlive-science-doc_2022.20230122-4_all.deb cannot be"):
        load_corpus("latex:texlive")
    assert _kept() == []


def test_unknown_names_list_the_corpora() -> None:
    with pytest.raises(DataError, match=r"named corpora: .*linux, latex, linux:SUBDIR\|all, latex:pari\|texlive"):
        load_corpus("no-such-corpus")


def test_default_run_folders_of_named_corpora_with_an_argument():
    from rnnlab.commands.train import run_name

    assert [run_name(s) for s in ("linux:fs/ext4", "linux:all", "latex", "/a/plays.txt")] == [
        "linux-fs-ext4",
        "linux-all",
        "latex",
        "plays",
    ]
