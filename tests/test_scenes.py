"""The digit-scenes captioning data: captions true to their layouts, held-out pairs, disjoint handwriting."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from rnnlab.data.corpora import DataError
from rnnlab.data.digits import load_images
from rnnlab.data.scenes import (
    CANVAS,
    HELD_OUT_PAIRS,
    SIZES,
    Layout,
    caption_agrees,
    describe,
    digit_recall,
    digits_named,
    make_scenes,
    scene_pixels,
)

SMALL = {"train": 300, "valid": 60, "test": 60, "test_heldout": 80}
COUNTS = {"three": 3, "four": 4}


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(seed=0, sizes=SMALL)


def _all(scenes):
    return [s for split in scenes.values() for s in split]


def _centre(box):
    top, left, side = box
    return left + side / 2, top + side / 2


def _check_caption(caption: str, layout: Layout) -> None:
    """Parse ``caption`` independently of the library and check it against the boxes."""
    digits, boxes, sizes = layout.digits, layout.boxes, layout.sizes
    if len(digits) == 2:
        m = re.fullmatch(
            r"an? (?:(large|small) )?(\d) (to the left of|to the right of|above|below) an? (?:(\w+) )?(\d)", caption
        )
        assert m, caption
        size_a, a, rel, size_b, b = m.groups()
        # the subject: the large digit if the sizes differ, else the left one (then the upper one)
        first = sorted((0, 1), key=lambda i: (sizes[i] != "large" and sizes[0] != sizes[1], *_centre(boxes[i])))
        assert (int(a), int(b)) == tuple(digits[i] for i in first)
        if sizes[0] == sizes[1]:
            assert size_a is None and size_b is None, caption
        else:
            assert (size_a, size_b) == ("large", "small"), caption
        (xa, ya), (xb, yb) = _centre(boxes[first[0]]), _centre(boxes[first[1]])
        expected = {
            "to the left of": xa < xb and abs(xa - xb) >= abs(ya - yb),
            "to the right of": xa > xb and abs(xa - xb) >= abs(ya - yb),
            "above": ya < yb and abs(ya - yb) > abs(xa - xb),
            "below": ya > yb and abs(ya - yb) > abs(xa - xb),
        }
        assert expected[rel], (caption, boxes)
    else:
        count, rest = caption.split(" digits: ")
        assert COUNTS[count] == len(digits)
        named = [int(d) for d in re.findall(r"\d", rest)]
        assert sorted(named) == sorted(digits)
        ordered = sorted(range(len(digits)), key=lambda i: _centre(boxes[i]))
        assert named == [digits[i] for i in ordered], (caption, boxes)
    for article, word in re.findall(r"\b(an?) (\w+)", caption):
        assert article == ("an" if word == "8" else "a"), caption


def test_captions_agree_with_layouts(scenes):
    seen_relations = set()
    for scene in _all(scenes):
        _check_caption(scene.caption, scene.layout)
        assert scene.caption == describe(scene.layout) and caption_agrees(scene.caption, scene.layout)
        assert scene.caption == scene.caption.lower() and "  " not in scene.caption
        if len(scene.layout.digits) == 2:
            seen_relations.add(re.search(r"left|right|above|below", scene.caption).group())
    assert seen_relations == {"left", "right", "above", "below"}
    assert {len(s.layout.digits) for s in scenes["train"]} == {2, 3, 4}


def test_grammar_examples_and_wrong_captions():
    # an 8 (large, top-left) above-right of a small 1 placed lower and further right: vertical gap wins
    layout = Layout((8, 1), ((0, 10, 28), (40, 20, 16)), ("large", "small"), (0, 1))
    assert describe(layout) == "a large 8 above a small 1"
    assert caption_agrees("a small 1 below a large 8", layout)
    for wrong in (
        "a large 8 below a small 1",
        "a small 8 above a large 1",
        "an 8 above a 1",
        "a large 8 above a small 7",
    ):
        assert not caption_agrees(wrong, layout), wrong
    same = Layout((3, 7), ((10, 0, 16), (12, 40, 16)), ("small", "small"), (0, 1))
    assert describe(same) == "a 3 to the left of a 7"
    assert caption_agrees("a 7 to the right of a 3", same)
    three = Layout((4, 9, 2), ((0, 30, 16), (40, 0, 16), (20, 45, 16)), ("small",) * 3, (0, 1, 2))
    assert describe(three) == "three digits: a 9, a 4 and a 2"
    assert not caption_agrees("three digits: a 4, a 9 and a 2", three)


def test_images_match_layouts_without_overlap(scenes):
    mnist = load_images("mnist")
    for scene in _all(scenes)[:200]:
        image, layout = scene.image, scene.layout
        assert image.shape == (CANVAS, CANVAS) and image.dtype == np.uint8
        inside = np.zeros_like(image, dtype=bool)
        for (top, left, side), size, src, digit in zip(layout.boxes, layout.sizes, layout.sources, layout.digits):
            assert side == SIZES[size] and 0 <= top <= CANVAS - side and 0 <= left <= CANVAS - side
            assert not inside[top : top + side, left : left + side].any(), "boxes overlap"
            inside[top : top + side, left : left + side] = True
            assert mnist.labels[src] == digit
            patch = image[top : top + side, left : left + side].astype(np.float32) / 255
            if size == "large":
                np.testing.assert_allclose(patch, mnist.pixels[src], atol=1 / 255)
            else:  # area averaging keeps the mean intensity
                assert abs(patch.mean() - mnist.pixels[src].mean()) < 0.02
        assert not image[~inside].any(), "ink outside the boxes"
    pixels = scene_pixels(scenes["valid"])
    assert pixels.shape == (SMALL["valid"], CANVAS, CANVAS) and pixels.dtype == np.float32 and pixels.max() <= 1


def _has_heldout_pair(digits):
    return any(a in digits and b in digits for a, b in HELD_OUT_PAIRS)


def test_held_out_pairs_only_in_test_heldout(scenes):
    for split in ("train", "valid", "test"):
        assert not any(_has_heldout_pair(s.layout.digits) for s in scenes[split]), split
    assert all(_has_heldout_pair(s.layout.digits) for s in scenes["test_heldout"])
    assert {tuple(sorted(p)) for p in HELD_OUT_PAIRS} == {(3, 8), (2, 7)}
    # the seen splits still show both digits of every held-out pair, just never together
    train_digits = {d for s in scenes["train"] for d in s.layout.digits}
    assert train_digits == set(range(10))


def test_mnist_images_disjoint_across_splits(scenes):
    used = {name: {src for s in split for src in s.layout.sources} for name, split in scenes.items()}
    for a, b in itertools.combinations(("train", "valid", "test"), 2):
        assert not used[a] & used[b], (a, b)
    assert not used["test_heldout"] & (used["train"] | used["valid"])


def test_same_seed_same_scenes_and_splits_independent(scenes):
    again = make_scenes(seed=0, sizes={**SMALL, "train": 20})
    assert [s.caption for s in again["test"]] == [s.caption for s in scenes["test"]]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(again["test"], scenes["test"]))
    assert [s.layout for s in again["train"]] == [s.layout for s in scenes["train"][:20]]
    other = make_scenes(seed=1, sizes={"test": 60})
    assert [s.caption for s in other["test"]] != [s.caption for s in scenes["test"]]
    assert other["train"] == [] and other["test_heldout"] == []


def test_digit_recall():
    layout = Layout((3, 3, 5), ((0, 0, 16), (0, 20, 16), (0, 40, 16)), ("small",) * 3, (0, 1, 2))
    assert digits_named("three digits: a 3, a 3 and a 5", layout)
    assert digits_named("a 5 and a 3 and a 3 and a 9", layout)  # order-free; extra digits do not hurt recall
    assert not digits_named("three digits: a 3, a 5 and a 5", layout)  # the second 3 is missing
    assert digit_recall("three digits: a 3, a 5 and a 5", layout) == pytest.approx(2 / 3)
    assert digit_recall("three digits", layout) == 0.0
    assert digit_recall("a 35", layout) == 0.0  # a number is not a digit


def test_bad_sizes_are_one_line_errors():
    with pytest.raises(DataError, match="unknown split 'tests'"):
        make_scenes(sizes={"tests": 3})
    with pytest.raises(DataError, match="whole number"):
        make_scenes(sizes={"train": -1})
