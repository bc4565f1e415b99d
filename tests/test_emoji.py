"""emoji: pinned npm tarballs (npm pack), the drawings over white, the fixed split.

The fast tests build a small npm tarball here and fake ``npm`` on ``$PATH``; no network. The slow
test fetches the real package with npm.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rnnlab.data import emoji, npm
from rnnlab.data.corpora import DataError

NAME, VERSION = emoji.PACKAGE
TGZ = f"{NAME}-{VERSION}.tgz"


def _png(rgba: tuple[int, int, int, int], side: int = 4) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (side, side), rgba).save(out, format="PNG")
    return out.getvalue()


def _tgz(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


ENTRIES = [
    {"name": "GRINNING FACE", "short_name": "grinning", "image": "1f600.png", "has_img_google": True},
    {"name": "RED APPLE", "short_name": "apple", "image": "1f34e.png", "has_img_google": True},
    {"name": None, "short_name": "ghost_story", "image": "1f47b.png", "has_img_google": True},
    {"name": "NO DRAWING", "short_name": "none", "image": "0000.png", "has_img_google": False},
]
COLOURS = {"1f600.png": (255, 0, 0, 255), "1f34e.png": (0, 0, 255, 0), "1f47b.png": (0, 0, 0, 128)}


def _package() -> bytes:
    files = {"package/package.json": b"{}", "package/emoji.json": json.dumps(ENTRIES).encode()}
    files |= {f"package/img/google/64/{image}": _png(colour) for image, colour in COLOURS.items()}
    return _tgz(files)


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pinned fake tarball and an ``npm`` on $PATH that packs it where told; returns its call log."""
    data = _package()
    monkeypatch.setitem(npm.PINS, emoji.PACKAGE, (TGZ, hashlib.sha256(data).hexdigest()))
    (tmp_path / "source.tgz").write_bytes(data)
    _npm_script(
        tmp_path,
        monkeypatch,
        f'echo "$@" >> "{tmp_path}/calls"\n'
        f'test "$1 $2 $3" = "pack {NAME}@{VERSION} --pack-destination" || exit 3\n'
        f'cp "{tmp_path}/source.tgz" "$4/{TGZ}"\n',
    )
    return tmp_path / "calls"


def _npm_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "npm").write_text("#!/bin/sh\n" + script)
    (folder / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def _all(sets: dict[str, list[tuple[np.ndarray, str]]]) -> dict[str, np.ndarray]:
    return {caption: image for split in sets.values() for image, caption in split}


def test_reads_drawings_over_white_with_lower_case_names(fake_npm: Path, _cache: Path) -> None:
    sets = emoji.load_emoji()
    assert set(sets) == {"train", "valid", "test"}
    images = _all(sets)
    assert set(images) == {"grinning face", "red apple", "ghost story"}  # no google image: left out
    for image in images.values():
        assert image.dtype == np.uint8 and image.shape == (4, 4, 3)
    assert (images["grinning face"] == [255, 0, 0]).all()  # opaque: as drawn
    assert (images["red apple"] == 255).all()  # transparent: white
    assert np.abs(images["ghost story"].astype(int) - 127).max() <= 1  # half black over white
    assert (_cache / "npm" / TGZ).is_file()
    call = fake_npm.read_text().split()
    assert call[:3] == ["pack", f"{NAME}@{VERSION}", "--pack-destination"] and call[4:] == ["--ignore-scripts"]
    assert Path(call[3]).parent == _cache / "npm"  # a temporary folder inside the cache folder


def test_the_decoded_set_is_cached_and_read_back_the_same(fake_npm: Path, _cache: Path) -> None:
    first = emoji.load_emoji(size=2)
    (_cache / "npm" / TGZ).unlink()  # the decoded cache alone serves the second call
    second = emoji.load_emoji(size=2)
    assert len(fake_npm.read_text().splitlines()) == 1
    for split in first:
        assert [c for _, c in first[split]] == [c for _, c in second[split]]
        for (a, _), (b, _) in zip(first[split], second[split], strict=True):
            assert a.shape == (2, 2, 3) and (a == b).all()
    names = sorted(p.name for p in (_cache / "emoji").iterdir())
    assert names == [f"{NAME}-{VERSION}-2px.json", f"{NAME}-{VERSION}-2px.npz"]


def test_the_split_is_fixed_disjoint_and_about_ten_percent(fake_npm: Path) -> None:
    sets = emoji.load_emoji()
    for image, split in (("1f600.png", "grinning face"), ("1f34e.png", "red apple"), ("1f47b.png", "ghost story")):
        assert split in [c for _, c in sets[emoji.split_of(image)]]
    names = [f"{k:x}.png" for k in range(0x1F000, 0x1F000 + 2000)]
    splits = [emoji.split_of(n) for n in names]
    assert splits == [emoji.split_of(n) for n in names]  # no seed, no state
    assert 150 < splits.count("test") < 250 and 150 < splits.count("valid") < 250
    assert emoji.split_of("1f604.png") == emoji.split_of("1f604.png")


def test_a_wrong_sha256_is_refused(fake_npm: Path, monkeypatch: pytest.MonkeyPatch, _cache: Path) -> None:
    monkeypatch.setitem(npm.PINS, emoji.PACKAGE, (TGZ, "0" * 64))
    with pytest.raises(DataError, match=r"gave .*\.tgz with SHA-256 .*not the pinned 0000000000000000\.\.\.; nothing"):
        emoji.load_emoji()
    assert not (_cache / "npm" / TGZ).exists() and os.listdir(_cache / "npm") == []
    (_cache / "npm" / TGZ).write_bytes(b"tampered")
    with pytest.raises(DataError, match=r"has SHA-256 .*not the pinned .*delete it") as error:
        emoji.load_emoji()
    assert "\n" not in str(error.value)


def test_no_npm_is_one_line_saying_how_to_get_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _cache: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(DataError) as error:
        emoji.load_emoji()
    message = str(error.value)
    assert "\n" not in message and "there is no npm on this machine" in message
    assert f"`npm pack {NAME}@{VERSION}` and put {TGZ} into {_cache / 'npm'}" in message


def test_npm_failure_names_the_reason_not_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = (
        'echo "npm error code E404" >&2\necho "npm error 404 Not Found - GET https://x/y" >&2\n'
        'echo "npm error A complete log of this run can be found in: /root/.npm/_logs/1.log" >&2\nexit 1\n'
    )
    _npm_script(tmp_path, monkeypatch, script)
    with pytest.raises(DataError, match=r"npm pack .* failed: npm error 404 Not Found - GET https://x/y; where npm"):
        npm.fetch(NAME, VERSION)


def test_unpinned_packages_and_bad_sizes_are_refused() -> None:
    with pytest.raises(DataError, match="no pinned SHA-256 for the npm package left-pad@1.0.0"):
        npm.fetch("left-pad", "1.0.0")
    with pytest.raises(DataError, match="whole number of pixels"):
        emoji.load_emoji(size=0)


@pytest.mark.slow
def test_the_real_package(tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.skip("needs npm to fetch emoji-datasource-google@16.0.0")
    try:
        sets = emoji.load_emoji()
    except DataError as e:
        if "failed" in str(e) or "took more than" in str(e):
            pytest.skip(f"npm could not fetch the package: {e}")
        raise
    counts = {split: len(examples) for split, examples in sets.items()}
    assert counts == {"train": 1532, "valid": 206, "test": 173}
    images = _all(sets)
    assert "grinning face with smiling eyes" in images
    assert all(image.shape == (64, 64, 3) and image.dtype == np.uint8 for image in images.values())
    assert (images["grinning face with smiling eyes"][0, 0] == 255).all()  # a transparent corner: white
