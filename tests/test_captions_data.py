"""Captioning data: the three captions formats, folders of images, the deal into splits, the named sets."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rnnlab.data import captions, scenes
from rnnlab.data.caption_files import read_caption_file
from rnnlab.data.captions import Captioned, deal_images, load_captions
from rnnlab.data.corpora import DataError

CSV = 'image,caption\na.jpg,A dog runs .\na.jpg,"A dog, brown, runs"\nb.png,A cat sits, then   sleeps\n'
TOKENS = "a.jpg#0\tA dog runs .\na.jpg#1\t  A  brown dog\nb.png#0\tA cat\n"
COCO = {
    "images": [{"id": 7, "file_name": "a.jpg"}, {"id": 9, "file_name": "b.png"}],
    "annotations": [
        {"image_id": 9, "caption": "A cat.\n"},
        {"image_id": 7, "caption": "A dog runs ."},
        {"image_id": 7, "caption": "A dog, brown"},
    ],
}


def _image(path: Path, colour: tuple[int, int, int] = (200, 0, 0), side: tuple[int, int] = (24, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", side, colour).save(path)
    return path


def _folder(root: Path, names: list[str], captions_file: str = "captions.txt", sub: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = ["image,caption"]
    for k, name in enumerate(names):
        _image(root / sub / name, (10 * k % 256, 0, 0))
        lines += [f"{name},image {k} seen once", f"{name},image {k}, seen again"]
    (root / captions_file).write_text("\n".join(lines) + "\n")
    return root


def test_the_three_formats_give_the_same_captions(tmp_path: Path) -> None:
    (tmp_path / "captions.txt").write_text(CSV)
    assert read_caption_file(tmp_path / "captions.txt") == {
        "a.jpg": ["A dog runs .", "A dog, brown, runs"],
        "b.png": ["A cat sits, then sleeps"],
    }
    (tmp_path / "Flickr8k.token.txt").write_text(TOKENS)
    assert read_caption_file(tmp_path / "Flickr8k.token.txt") == {
        "a.jpg": ["A dog runs .", "A brown dog"],
        "b.png": ["A cat"],
    }
    (tmp_path / "captions.json").write_text(json.dumps(COCO))
    assert read_caption_file(tmp_path / "captions.json") == {
        "b.png": ["A cat."],
        "a.jpg": ["A dog runs .", "A dog, brown"],
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty; expected captions"),
        ("  \n\n", "is empty; expected captions"),
        ("name,text\na.jpg,x\n", "is not a captions file of a known format"),
        ("image,caption\na.jpg,ok\nb.jpg,   \n", "line 3: empty caption"),
        ("image,caption\na.jpg\n", "line 2: expected image,caption"),
        ("image,caption\n", "holds no captions"),
        ("a.jpg#0\tok\na.jpg#1\t\n", "line 2: empty caption"),
        ("a.jpg#0\tok\nb.jpg caption\n", "line 2: expected name.jpg#0<TAB>caption"),
        ('{"images": [], "annotations": [', "is not JSON"),
        ('{"images": []}', "has no 'annotations'"),
        ('{"images": [], "annotations": [{"image_id": 1, "caption": "x"}]}', "annotation 0 names image_id 1"),
        ('{"images": [{"id": [1], "file_name": "a.jpg"}], "annotations": []}', "image 0: 'id' must be"),
        (
            '{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": [1], "caption": "x"}]}',
            r"annotation 0 names image_id \[1\]",
        ),
        (
            '{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1, "caption": " "}]}',
            r"annotation 0 \(a.jpg\): empty caption",
        ),
    ],
)
def test_bad_captions_files_are_one_line_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "captions.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=rf"^data: {path}:? .*{message}") as error:
        read_caption_file(path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("layout", ["flat", "images", "Images"])
def test_a_folder_or_its_captions_file_gives_images_and_all_their_captions(tmp_path: Path, layout: str) -> None:
    names = [f"{k}.png" for k in range(10)]
    root = _folder(tmp_path / "set", names, sub="" if layout == "flat" else layout)
    for spec in (root, root / "captions.txt"):
        splits = load_captions(str(spec), 8, seed=1)
        assert set(splits) == {"train", "val", "test"}
        assert [len(splits[k]) for k in ("train", "val", "test")] == [8, 1, 1]
        dealt = {item.name: item for split in splits.values() for item in split}
        assert sorted(dealt) == names
        item = dealt["3.png"]
        assert item.captions == ["image 3 seen once", "image 3, seen again"] and item.layout is None
        assert item.image.shape == (8, 8, 3) and item.image.dtype == np.uint8
        assert (item.image == [30, 0, 0]).all()


def test_the_deal_keeps_captions_together_is_seeded_and_ignores_file_order() -> None:
    items = [Captioned(f"{k:03d}.jpg", np.zeros((8, 8, 3), np.uint8), [f"c{k}", f"d{k}"]) for k in range(200)]
    shares = {"val": 0.1, "test": 0.15}
    first = deal_images(items, shares, 5, "x")
    assert [len(first[k]) for k in ("train", "val", "test")] == [150, 20, 30]
    assert all(item.captions == [f"c{int(item.name[:3])}", f"d{int(item.name[:3])}"] for item in first["val"])
    names = {k: [i.name for i in v] for k, v in first.items()}
    assert names == {k: [i.name for i in v] for k, v in deal_images(items, shares, 5, "x").items()}
    shuffled = {k: sorted(i.name for i in v) for k, v in deal_images(items[::-1], shares, 5, "x").items()}
    assert shuffled == {k: sorted(v) for k, v in names.items()}
    assert names != {k: [i.name for i in v] for k, v in deal_images(items, shares, 6, "x").items()}
    assert names["train"] == sorted(names["train"])  # each split keeps the file order


def test_given_val_and_test_data_replace_the_deal(tmp_path: Path) -> None:
    train = _folder(tmp_path / "train", ["a.png", "b.png"])
    val = _folder(tmp_path / "val", ["c.png"])
    test = _folder(tmp_path / "test", ["d.png"])
    splits = load_captions(str(train), 8, 0, val_data=str(val), test_data=str(test))
    assert {k: [i.name for i in v] for k, v in splits.items()} == {
        "train": ["a.png", "b.png"],
        "val": ["c.png"],
        "test": ["d.png"],
    }


def test_bad_folders_are_refused_in_one_line(tmp_path: Path) -> None:
    root = _folder(tmp_path / "set", [f"{k}.png" for k in range(10)])
    cases = []
    missing = tmp_path / "missing"
    _folder(missing, ["a.png", "b.png", "c.png"])
    (missing / "b.png").unlink()
    (missing / "c.png").unlink()
    cases.append((missing, rf"{missing / 'captions.txt'} names 2 image\(s\) that are not in {missing}: b.png, c.png"))
    stray = _folder(tmp_path / "stray", ["a.png"])
    _image(stray / "z.jpg")
    cases.append((stray, rf"{stray} holds 1 image\(s\) with no caption in .*captions.txt: z.jpg; caption them"))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "captions.txt").write_text("image,caption\na.png,x\n")
    cases.append((empty, rf"{empty} holds no images"))
    none = tmp_path / "none"
    _image(none / "a.png")
    cases.append((none, rf"{none} holds no captions file"))
    several = _folder(tmp_path / "several", ["a.png"])
    (several / "other.json").write_text("{}")
    cases.append((several, rf"{several} holds 2 possible captions files \(captions.txt, other.json\)"))
    broken = _folder(tmp_path / "broken", ["a.png", "b.jpg"])
    (broken / "b.jpg").write_bytes((broken / "a.png").read_bytes()[:-30])
    cases.append((broken, rf"{broken / 'b.jpg'} is truncated"))
    text = _folder(tmp_path / "text", ["a.png"])
    (text / "a.png").write_text("hello")
    cases.append((text, rf"{text / 'a.png'} is not an image"))
    cases.append((tmp_path / "nowhere", r".*nowhere: no such file or folder \(named sets: digit-scenes, emoji\)"))
    cases.append(
        (root, rf"{root} has 10 image\(s\), too few to hold out a val share of 0.04: that needs at least 13 images")
    )
    for spec, message in cases:
        with pytest.raises(DataError, match=rf"^data: {message}") as error:
            load_captions(str(spec), 8, 0, val_fraction=0.04)
        assert "\n" not in str(error.value)
    for bad in (4, 0, True, 2000):
        with pytest.raises(DataError, match="image size must be a whole number of pixels from 8 to 1024"):
            load_captions(str(root), bad, 0)
    with pytest.raises(ValueError, match="val fraction: expected a number between 0 and 0.5"):
        load_captions(str(root), 8, 0, val_fraction=0.5)


SMALL = {"train": 12, "valid": 4, "test": 4, "test_heldout": 4}


def test_digit_scenes_are_rgb_with_their_layouts_and_heldout_split(monkeypatch: pytest.MonkeyPatch) -> None:
    make = scenes.make_scenes
    monkeypatch.setattr(scenes, "make_scenes", lambda seed, sizes=None: make(seed, SMALL))
    splits = load_captions("digit-scenes", 64, seed=3)
    assert {k: len(v) for k, v in splits.items()} == {"train": 12, "val": 4, "test": 4, "test_heldout": 4}
    expected = make(captions.DATA_SEED, SMALL)["test_heldout"]
    for item, scene in zip(splits["test_heldout"], expected, strict=True):
        assert item.image.shape == (64, 64, 3) and item.image.dtype == np.uint8
        assert (item.image == scene.image[:, :, None]).all()
        assert item.captions == [scene.caption] and item.layout == scene.layout
    small = load_captions("digit-scenes", 32, seed=3)["train"][0]
    assert small.image.shape == (32, 32, 3) and (small.image[..., 0] == small.image[..., 2]).all()


def test_emoji_through_load_captions_from_a_cached_fake_tarball(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rnnlab.data import emoji, npm
    from tests.test_emoji import TGZ, _package

    data = _package()
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(npm.PINS, emoji.PACKAGE, (TGZ, hashlib.sha256(data).hexdigest()))
    (tmp_path / "cache" / "npm").mkdir(parents=True)
    (tmp_path / "cache" / "npm" / TGZ).write_bytes(data)  # already fetched: no npm, no network
    splits = load_captions("emoji", 8, seed=0)
    assert set(splits) == {"train", "val", "test"}
    items = {item.captions[0]: item for split in splits.values() for item in split}
    assert set(items) == {"grinning face", "red apple", "ghost story"}
    assert all(item.image.shape == (8, 8, 3) and item.layout is None for item in items.values())
    assert (items["red apple"].image == 255).all()  # transparent: white
    for image, caption in (("1f600.png", "grinning face"), ("1f34e.png", "red apple")):
        split = {"valid": "val"}.get(emoji.split_of(image), emoji.split_of(image))  # the emoji's own split
        assert caption in [item.captions[0] for item in splits[split]]


def test_names_of_no_image_in_a_token_file_are_left_out_with_a_note(tmp_path: Path, capsys) -> None:
    # Flickr8k.token.txt lists "2258277193_586949ec62.jpg.1", a name of no image file
    (tmp_path / "Images").mkdir()
    _image(tmp_path / "Images" / "a.jpg")
    (tmp_path / "Flickr8k.token.txt").write_text("a.jpg#0\tA dog\nx.jpg.1#0\tA cat\n")
    found = captions.read_captioned(tmp_path, 16)
    assert [(c.name, c.captions) for c in found] == [("a.jpg", ["A dog"])]
    err = capsys.readouterr().err
    assert "x.jpg.1" in err and "not images" in err and len(err.splitlines()) == 1
    (tmp_path / "Flickr8k.token.txt").write_text("a.jpg#0\tA dog\nmissing.jpg#0\tA cat\n")
    with pytest.raises(DataError, match="missing.jpg"):  # an image name that is not there is still an error
        captions.read_captioned(tmp_path, 16)


def test_images_the_memory_cannot_hold_are_refused_before_any_is_read(tmp_path: Path, monkeypatch) -> None:
    folder = _folder(tmp_path, ["a.png", "b.png", "c.png"])
    read = []
    monkeypatch.setattr(captions, "_read_images", lambda paths, size: read.append(paths) or [])
    monkeypatch.setattr(captions.checks, "total_memory", lambda: 5_000_000)  # 5 MB
    with pytest.raises(ValueError, match=r"3 images of 512x512 pixels need 7\.1 MB .* use a smaller --image-size"):
        captions.read_captioned(str(folder), 512)  # 3 copies of 3 x 512 x 512 x 3 bytes
    with pytest.raises(ValueError, match=r"23,000 images of 1024x1024 pixels need 217\.1 GB"):
        load_captions("digit-scenes", 1024, 0)
    assert read == []
