"""bible-en-es: Debian archives (ar + data.tar), SWORD zText modules, the aligned and split pairs.

The fast tests build small zText modules and .deb archives here; no network. The slow test
fetches the real packages with apt-get.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import tarfile
import threading
import zlib
from pathlib import Path

import pytest

from rnnlab.data import bible, debian, sword
from rnnlab.data.corpora import DataError

KJV = ("sword-text-kjv", "14.3-1")
SPARV = ("sword-text-sparv", "2.60-1")


def _ztext(entries: list[str], per_block: int = 3) -> dict[str, bytes]:
    """A testament's .bzs/.bzv/.bzz holding ``entries``, ``per_block`` entries a zlib block."""
    bzs, bzv, bzz = io.BytesIO(), io.BytesIO(), io.BytesIO()
    for first in range(0, len(entries), per_block):
        block = b""
        for text in entries[first : first + per_block]:
            data = text.encode("utf-8")
            bzv.write(struct.pack("<IIH", first // per_block, len(block) if data else 0, len(data)))
            block += data
        packed = zlib.compress(block)
        bzs.write(struct.pack("<III", bzz.tell(), len(packed), len(block)))
        bzz.write(packed)
    return {"bzs": bzs.getvalue(), "bzv": bzv.getvalue(), "bzz": bzz.getvalue()}


def _testament(book: str, chapters: list[list[str]]) -> list[str]:
    """Entries laid out as SWORD does: empty entry, testament heading, book heading, chapters."""
    entries = [
        "",
        '<milestone type="x-importer"/>',
        f'<div osisID="{book}" sID="b" type="book"/> <title>{book}</title>',
    ]
    for number, verses in enumerate(chapters, 1):
        entries.append(f'<chapter n="{number}" osisID="{book}.{number}" sID="{book}.{number}"/>')
        entries += verses
    return entries


def _package(module: str, ot: list[str], nt: list[str]) -> dict[str, bytes]:
    """The files a SWORD module package installs, by path."""
    conf = f"[{module}]\nDataPath=./modules/texts/ztext/{module.lower()}/\nModDrv=zText\nEncoding=UTF-8\n"
    files = {f"usr/share/sword/mods.d/{module.lower()}.conf": conf.encode()}
    for testament, entries in (("ot", ot), ("nt", nt)):
        for kind, data in _ztext(entries).items():
            files[f"usr/share/sword/modules/texts/ztext/{module.lower()}/{testament}.{kind}"] = data
    return files


def _ar(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, data in members.items():
        out.write(f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode())
        out.write(data + (b"\n" if len(data) % 2 else b""))
    return out.getvalue()


def _deb(files: dict[str, bytes], compression: str = "xz") -> bytes:
    """A .deb: ar archive of debian-binary, control.tar.xz and data.tar.<compression>."""
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode=f"w:{compression}") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo("./" + path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return _ar({"debian-binary": b"2.0\n", "control.tar.xz": b"", f"data.tar.{compression}": tarred.getvalue()})


class FakeApt:
    """Stands in for apt-get download: writes the given archives, counts its calls."""

    def __init__(self, debs: dict[tuple[str, str], bytes]) -> None:
        self.debs = debs
        self.calls = 0

    def __call__(self, package: str, version: str, folder: Path) -> None:
        self.calls += 1
        (folder / debian.PINS[package, version][0]).write_bytes(self.debs[package, version])


def _pin(monkeypatch: pytest.MonkeyPatch, key: tuple[str, str], deb: bytes) -> None:
    monkeypatch.setitem(debian.PINS, key, (f"{key[0]}_{key[1]}_all.deb", hashlib.sha256(deb).hexdigest()))


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# --- sword ---------------------------------------------------------------------------------------


def test_read_testament_returns_every_entry_across_blocks() -> None:
    entries = ["", "a", "bé", "", "ccc", "d" * 300, "", "e"]
    files = _ztext(entries, per_block=3)
    assert len(files["bzv"]) == 10 * len(entries) and len(files["bzs"]) == 12 * 3
    assert sword.read_testament(files["bzs"], files["bzv"], files["bzz"]) == entries


def test_read_testament_refuses_damaged_files() -> None:
    files = _ztext(["a", "b", "c"])
    with pytest.raises(DataError, match="not a whole number"):
        sword.read_testament(files["bzs"], files["bzv"][:-1], files["bzz"])
    with pytest.raises(DataError, match="past the end"):
        sword.read_testament(files["bzs"], files["bzv"], files["bzz"][:-2])
    bad_entry = struct.pack("<IIH", 0, 2, 5)  # 5 bytes from offset 2 of a 3-byte block
    with pytest.raises(DataError, match="entry 0 .* outside its block"):
        sword.read_testament(files["bzs"], bad_entry, files["bzz"])


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ('In the <w lemma="strong:H7225">beginning</w> <w lemma="x">God</w> created.', "In the beginning God created."),
        ('darkness.<note placement="foot"><reference>1.4 </reference>Heb. between</note> ', "darkness."),
        ('<title level="1" type="main">Genesis</title> <div sID="g" type="x-p"/>', ""),
        (
            '<title canonical="true" type="psalm">A Psalm of <w>David</w>.</title> <l sID="x"/>'
            "<divineName>LORD</divineName>, how",
            "A Psalm of David. LORD, how",
        ),
        ("<title><foreign>א ALEPH.</foreign></title> Blessed", "Blessed"),
        ('<q marker="" who="Jesus">¶ <w>For</w> God so</q>', "For God so"),
        ("the \\nd <w>LORD</w></divineName> hath", "the LORD hath"),
        ("Tom &amp; Jerry &lt;3", "Tom & Jerry <3"),
        (
            '<w>y engendró</w><transChange type="added">un hijo</transChange><w>á su</w>, y',
            "y engendró un hijo á su, y",
        ),
        ("<w>shall be give</w>n.", "shall be given."),
        ('preguntándo<transChange type="added">le</transChange>, y', "preguntándole, y"),
        ("one<lb/>two\n  three", "one two three"),
    ],
)
def test_plain_text(markup: str, text: str) -> None:
    assert sword.plain_text(markup) == text


def test_read_module_marks_headings_and_numbers_verses() -> None:
    ot = _testament("Gen", [["<w>In</w> the beginning.", "And the earth."], ["Thus the heavens."]])
    nt = _testament("John", [["In the beginning was the Word."]])
    files = {f"{t}.{k}": v for t, entries in (("ot", ot), ("nt", nt)) for k, v in _ztext(entries).items()}
    verses = sword.read_module(files)
    assert [v.ref for v in verses] == [
        *("ot:0", "ot:1", "ot:2", "ot:3", "Gen.1.1", "Gen.1.2", "ot:6", "Gen.2.1"),
        *("nt:0", "nt:1", "nt:2", "nt:3", "John.1.1"),
    ]
    assert verses[4].index == 4 and verses[4].text == "In the beginning."
    assert [v.text for v in verses if not v.verse] == [""] * 9  # headings hold only markup
    del files["nt.bzz"]
    with pytest.raises(DataError, match="lacks nt.bzz"):
        sword.read_module(files)


def test_read_conf() -> None:
    conf = sword.read_conf(b"# c\n[engKJV]\nDataPath=./a/\nGlobalOptionFilter=A\nGlobalOptionFilter=B\nAbout=x=y\n")
    assert conf == {"Name": "engKJV", "DataPath": "./a/", "GlobalOptionFilter": "A", "About": "x=y"}


# --- debian --------------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["xz", "gz"])
def test_data_files_reads_the_data_tar(compression: str) -> None:
    deb = _deb({"usr/share/a/x.txt": b"odd", "usr/share/b.txt": b"no"}, compression)
    assert debian.ar_members(deb)["debian-binary"] == b"2.0\n"
    assert debian.data_files(deb, "usr/share/a/") == {"usr/share/a/x.txt": b"odd"}


def test_data_files_refuses_what_it_cannot_read() -> None:
    with pytest.raises(DataError, match="not an ar archive"):
        debian.data_files(b"PK\x03\x04")
    with pytest.raises(DataError, match="cut short"):
        debian.data_files(_deb({"a": b"x"})[:-10])
    with pytest.raises(DataError, match="no data.tar"):
        debian.data_files(_ar({"debian-binary": b"2.0\n"}))
    with pytest.raises(DataError, match=r"data\.tar\.zst"):
        debian.data_files(_ar({"data.tar.zst": b"not zstd at all"}))


def test_fetch_downloads_checks_and_caches(monkeypatch: pytest.MonkeyPatch, _cache: Path) -> None:
    deb = _deb({"usr/share/x": b"1"})
    _pin(monkeypatch, KJV, deb)
    apt = FakeApt({KJV: deb})
    path = debian.fetch(*KJV, downloader=apt)
    assert path == _cache / "debian" / "sword-text-kjv_14.3-1_all.deb" and path.read_bytes() == deb
    assert debian.fetch(*KJV, downloader=apt) == path and apt.calls == 1
    assert debian.deb_files(*KJV, "usr/", downloader=apt) == {"usr/share/x": b"1"} and apt.calls == 1
    assert os.listdir(path.parent) == [path.name]  # no temporary folder left behind


def test_a_wrong_digest_is_refused_with_file_and_both_digests(monkeypatch: pytest.MonkeyPatch, _cache: Path) -> None:
    deb = _deb({"usr/share/x": b"1"})
    _pin(monkeypatch, KJV, deb)
    tampered = deb + b"\0\0"
    found, expected = hashlib.sha256(tampered).hexdigest(), hashlib.sha256(deb).hexdigest()
    with pytest.raises(DataError) as error:
        debian.fetch(*KJV, downloader=FakeApt({KJV: tampered}))
    message = str(error.value)
    assert "sword-text-kjv_14.3-1_all.deb" in message and found[:16] in message and expected[:16] in message
    assert "nothing was kept" in message and "\n" not in message
    assert os.listdir(_cache / "debian") == []
    cached = _cache / "debian" / "sword-text-kjv_14.3-1_all.deb"
    cached.write_bytes(tampered)  # a cached archive is checked each time it is read
    with pytest.raises(DataError, match=f"{cached}.*{found[:16]}.*{expected[:16]}"):
        debian.deb_files(*KJV, downloader=FakeApt({KJV: deb}))
    assert cached.read_bytes() == tampered  # left for the user to look at


def test_no_apt_get_is_one_line_saying_how_to_get_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _cache: Path
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(DataError) as error:
        debian.fetch(*KJV, hint="or pass a TSV with --data")
    message = str(error.value)
    assert "\n" not in message and "no apt-get" in message
    assert (
        f"apt-get download sword-text-kjv=14.3-1` and put sword-text-kjv_14.3-1_all.deb into {_cache / 'debian'}"
        in (message)
    )
    assert message.endswith("or pass a TSV with --data")


def _fake_apt_get(folder: Path, script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder.mkdir()
    (folder / "apt-get").write_text("#!/bin/sh\n" + script)
    (folder / "apt-get").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def test_apt_get_failure_names_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = 'echo "W: something" >&2\necho "E: Unable to locate package $2" >&2\nexit 100\n'
    _fake_apt_get(tmp_path / "bin", script, monkeypatch)
    with pytest.raises(DataError, match=r"failed: E: Unable to locate package sword-text-kjv=14\.3-1; on a Debian"):
        debian.fetch(*KJV)


def test_apt_get_download_runs_in_the_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deb = _deb({"usr/share/x": b"1"})
    _pin(monkeypatch, KJV, deb)
    (tmp_path / "source.deb").write_bytes(deb)
    _fake_apt_get(
        tmp_path / "bin",
        f'test "$1 $2" = "download sword-text-kjv=14.3-1" || exit 3\n'
        f'cp "{tmp_path}/source.deb" sword-text-kjv_14.3-1_all.deb\n',
        monkeypatch,
    )
    assert debian.fetch(*KJV).read_bytes() == deb


def test_two_fetches_at_once_leave_one_whole_archive(monkeypatch: pytest.MonkeyPatch, _cache: Path) -> None:
    deb = _deb({"usr/share/x": os.urandom(50_000)})
    _pin(monkeypatch, KJV, deb)
    both_started = threading.Barrier(2)

    def slow(package: str, version: str, folder: Path) -> None:
        both_started.wait(timeout=10)  # both are downloading before either renames
        (folder / debian.PINS[package, version][0]).write_bytes(deb)

    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(debian.fetch(*KJV, downloader=slow))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] == results[1] and results[0].read_bytes() == deb
    assert os.listdir(_cache / "debian") == [results[0].name]


# --- bible-en-es ---------------------------------------------------------------------------------


def _bibles(n: int = 150) -> tuple[bytes, bytes]:
    """A KJV-like and an RV1909-like package: two chapters of ``n`` verses in each testament."""
    en_ot = _testament("Gen", [[f"<w>English</w> {c}.{v}." for v in range(1, n + 1)] for c in (1, 2)])
    es_ot = _testament("Gen", [[f"<w>ESPAÑOL</w> {c}.{v}." for v in range(1, n + 1)] for c in (1, 2)])
    es_ot[5] = ""  # Gen 1:2 lacking in Spanish
    es_ot[7] = '<chapter eID="Gen.1"/>'  # Gen 1:4: only markup
    en_ot[8] = "<note>only a note</note>"  # Gen 1:5: nothing in English
    en_nt = _testament("John", [[f"Word {v}." for v in range(1, n + 1)]])
    es_nt = _testament("John", [[f"Verbo {v}." for v in range(1, n + 1)]])
    return (
        _deb(_package("engKJV2006eb", en_ot, en_nt)),
        _deb(_package("spaRV1909eb", es_ot, es_nt)),
    )


@pytest.fixture
def fake_bible(monkeypatch: pytest.MonkeyPatch) -> FakeApt:
    english, spanish = _bibles()
    _pin(monkeypatch, KJV, english)
    _pin(monkeypatch, SPARV, spanish)
    return FakeApt({KJV: english, SPARV: spanish})


def test_pairs_are_aligned_by_position_without_empty_verses(fake_bible: FakeApt) -> None:
    pairs = bible.load_bible_en_es(downloader=fake_bible)
    every = [pair for split in bible.SPLITS for pair in pairs[split]]
    assert len(every) == 3 * 150 - 3 and len(set(every)) == len(every)
    for en, es in every:
        assert en.split()[-1] == es.split()[-1]  # same chapter and verse on both sides
    english = {en for en, _ in every}
    assert "English 1.2." not in english and "English 1.4." not in english and "English 1.5." not in english
    assert ("English 1.1.", "Español 1.1.") in every  # the capitalised first word of a chapter
    assert ("English 1.3.", "ESPAÑOL 1.3.") in every  # only the first verse's
    assert all("Genesis" not in en for en in english)  # book headings are not pairs


def test_split_is_fixed_and_disjoint(fake_bible: FakeApt) -> None:
    pairs = bible.load_bible_en_es(downloader=fake_bible)
    assert all(pairs[split] for split in bible.SPLITS)
    assert not set(pairs["train"]) & set(pairs["valid"]) and not set(pairs["train"]) & set(pairs["test"])
    assert not set(pairs["valid"]) & set(pairs["test"])
    # pinned: the split is a function of the position alone, the same on every machine
    assert [bible.split_of("ot", i) for i in (4, 5, 6)] == ["train", "train", "train"]
    held = {split: [i for i in range(400) if bible.split_of("ot", i) == split] for split in ("valid", "test")}
    assert held == {
        "valid": [88, 101, 102, 220, 233, 235, 262, 270, 284, 297, 308, 316, 318],
        "test": [3, 116, 117, 122, 192, 199, 281],
    }
    share = [bible.split_of("nt", i) for i in range(31_000)]
    assert 0.015 < share.count("test") / len(share) < 0.025 and 0.015 < share.count("valid") / len(share) < 0.025


def test_second_load_reads_the_cache(fake_bible: FakeApt, _cache: Path) -> None:
    first = bible.load_bible_en_es(downloader=fake_bible)
    assert fake_bible.calls == 2 and bible.cache_file().is_file()
    shutil.rmtree(_cache / "debian")  # the pairs alone are enough now
    assert bible.load_bible_en_es(downloader=fake_bible) == first and fake_bible.calls == 2
    bible.cache_file().write_text('{"format": 1, "pins": {}, "pairs": []}')  # other packages: decoded again
    assert bible.load_bible_en_es(downloader=fake_bible) == first and fake_bible.calls == 4
    assert json.loads(bible.cache_file().read_text())["pins"] == bible._pins()


def test_modules_of_different_versifications_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    english, _ = _bibles()
    _, spanish = _bibles(n=149)
    _pin(monkeypatch, KJV, english)
    _pin(monkeypatch, SPARV, spanish)
    with pytest.raises(DataError, match="verse indexes .* differ"):
        bible.load_bible_en_es(downloader=FakeApt({KJV: english, SPARV: spanish}))


def test_a_failed_fetch_says_the_data_can_be_given_as_a_tsv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(DataError, match=r"no apt-get.*apt-get download sword-text-kjv=14\.3-1.*TSV with --data$"):
        bible.load_bible_en_es()


@pytest.mark.slow
def test_the_real_packages() -> None:
    if shutil.which("apt-get") is None:
        pytest.skip("needs apt-get to download sword-text-kjv and sword-text-sparv")
    try:
        pairs = bible.load_bible_en_es()
    except DataError as e:
        if "failed" in str(e) or "no apt-get" in str(e):
            pytest.skip(f"the Debian archive cannot be reached: {e}")
        raise
    counts = {split: len(pairs[split]) for split in bible.SPLITS}
    assert counts == {"train": 29859, "valid": 616, "test": 609}
    assert pairs["train"][0] == (
        "In the beginning God created the heaven and the earth.",
        "En el principio crió Dios los cielos y la tierra.",
    )
    every = [pair for split in bible.SPLITS for pair in pairs[split]]
    assert (
        "For God so loved the world, that he gave his only begotten Son, that whosoever believeth in him should "
        "not perish, but have everlasting life.",
        "Porque de tal manera amó Dios al mundo, que ha dado á su Hijo unigénito, para que todo aquel que en él "
        "cree, no se pierda, mas tenga vida eterna.",
    ) in every
    assert not any("<" in en + es or "\\" in en + es or "¶" in en for en, es in every)
