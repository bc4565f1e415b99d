"""Caption scores (BLEU-1..4 over several references, CIDEr-D, digit-scenes scores) and caption figures."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest

from rnnlab.data.scenes import _pair_caption, make_scenes, subject_first
from rnnlab.metrics.captions import caption_scores, cider_d, coco_tokens, reference_streams, scene_scores
from rnnlab.metrics.translation import _sacrebleu
from rnnlab.viz.captions import plot_caption_attention, plot_caption_grid, upsample

HAS_CIDER = importlib.util.find_spec("pycocoevalcap") is not None
HYPS = ["a dog runs across the green grass", "two cats sleep on a red sofa", "a man rides a bike down the street"]
REFS = [
    ["a dog runs across the grass", "a brown dog is running on green grass"],
    ["two cats are sleeping on a sofa"],
    ["a man rides his bike down a busy street", "a cyclist on the street", "a man on a bicycle"],
]


def test_identical_captions_score_100_and_disjoint_0() -> None:
    same = caption_scores(HYPS, [[h] for h in HYPS])
    assert [same[f"bleu{n}"] for n in (1, 2, 3, 4)] == pytest.approx([100.0] * 4)
    assert same["exact"] == 1.0 and same["images"] == 3
    other = caption_scores(["zebra giraffe elephant lion"] * 3, REFS)
    assert other["bleu4"] == 0.0 and other["bleu1"] == 0.0 and other["exact"] == 0.0


def test_more_references_raise_the_score_and_lower_orders_score_higher() -> None:
    one = caption_scores(HYPS, [refs[:1] for refs in REFS])
    every = caption_scores(HYPS, REFS)
    assert every["bleu4"] > one["bleu4"] and every["bleu1"] >= one["bleu1"]
    assert every["bleu1"] >= every["bleu2"] >= every["bleu3"] >= every["bleu4"] > 0


def test_variable_reference_counts_equal_repeating_the_last_reference() -> None:
    scores = caption_scores(HYPS, REFS)
    assert "nrefs:var" in scores["signature"] and "version:2.6.0" in scores["signature"]
    assert reference_streams(REFS)[2] == [None, None, "a man on a bicycle"]
    padded = [refs + [refs[-1]] * (3 - len(refs)) for refs in REFS]
    streams = [list(s) for s in zip(*padded)]
    for n in (1, 2, 3, 4):
        repeated = _sacrebleu().metrics.BLEU(max_ngram_order=n).corpus_score(HYPS, streams).score
        assert scores[f"bleu{n}"] == pytest.approx(repeated, abs=1e-9)


def test_exact_ignores_white_space_and_matches_any_reference() -> None:
    scores = caption_scores(["  a cyclist  on the\tstreet ", "two cats"], [REFS[2], REFS[1]])
    assert scores["exact"] == 0.5


@pytest.mark.parametrize(
    ("hyps", "refs", "message"),
    [
        (["a"], [["a"], ["b"]], "1 hypotheses for 2"),
        (["a", "b"], [["a"], []], "image 1 has no references"),
        (["a"], ["a"], "image 0 has no references"),
    ],
)
def test_bad_arguments_are_refused(hyps, refs, message) -> None:
    with pytest.raises(ValueError, match=message):
        caption_scores(hyps, refs)


def test_no_images_score_zero() -> None:
    assert caption_scores([], []) == {
        "bleu1": 0.0,
        "bleu2": 0.0,
        "bleu3": 0.0,
        "bleu4": 0.0,
        "exact": 0.0,
        "images": 0,
        "signature": "",
    }


def test_coco_tokens_lower_case_without_punctuation() -> None:
    assert coco_tokens("Three digits: a 4, a 9 and a 2.") == "three digits a 4 a 9 and a 2"
    assert coco_tokens('A "left-hand" man\'s (bike) -- ok!') == "a left-hand man's bike ok"


@pytest.mark.skipif(not HAS_CIDER, reason="pycocoevalcap is not installed")
def test_cider_orders_identical_partial_disjoint() -> None:
    refs = [[r] for r in ("a b c d e", "f g h i j", "k l m n o")]
    identical = cider_d(["a b c d e", "f g h i j", "k l m n o"], refs)
    partial = cider_d(["a b c x y", "f g h x y", "k l m x y"], refs)
    disjoint = cider_d(["x y z w v"] * 3, refs)
    assert identical > partial > disjoint == 0.0
    assert caption_scores(["A b c d e.", "f g h i j", "k l m n o"], refs)["cider"] == pytest.approx(identical)


@pytest.mark.skipif(not HAS_CIDER, reason="pycocoevalcap is not installed")
def test_cider_known_values() -> None:
    # Every n-gram belongs to one image of two, so its IDF is log(2/1) for all and each order's cosine
    # is 1 for a caption equal to its only reference: 10 * mean over 1..4-grams of 1 = 10. Two-word
    # captions have no 3- or 4-grams, so 10 * (1 + 1 + 0 + 0) / 4 = 5.
    assert cider_d(["a b c d", "e f g h"], [["a b c d"], ["e f g h"]]) == pytest.approx(10.0)
    assert cider_d(["a b", "c d"], [["a b"], ["c d"]]) == pytest.approx(5.0)
    # a single image: every n-gram's IDF is log(1/1) = 0, so CIDEr-D is 0 whatever the caption
    assert cider_d(["a b c d"], [["a b c d"]]) == 0.0


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(seed=0, sizes={"test": 40})["test"]


def test_scene_scores_of_the_references_are_perfect(scenes) -> None:
    scores = scene_scores([s.caption for s in scenes], [s.layout for s in scenes], [s.caption for s in scenes])
    assert scores == {"exact": 1.0, "correct": 1.0, "digits_named": 1.0, "digit_recall": 1.0, "scenes": 40}


def test_a_swapped_pair_is_correct_not_exact_and_a_missing_digit_is_caught(scenes) -> None:
    pair = next(s for s in scenes if len(s.layout.digits) == 2)
    swapped = _pair_caption(pair.layout, *reversed(subject_first(pair.layout)))
    scores = scene_scores([swapped], [pair.layout], [pair.caption])
    assert scores["exact"] == 0.0 and scores["correct"] == 1.0 and scores["digits_named"] == 1.0
    many = next(s for s in scenes if len(s.layout.digits) == 4)
    words = many.caption.split()
    cut = " ".join(words[:-2])  # "four digits: a 1, a 3, a 5 and" loses its last digit
    scores = scene_scores([cut, many.caption], [many.layout] * 2, [many.caption] * 2)
    assert scores["digits_named"] == 0.5 and scores["correct"] == 0.5
    assert scores["digit_recall"] == pytest.approx((0.75 + 1.0) / 2)


def test_scene_scores_refuse_length_mismatch(scenes) -> None:
    with pytest.raises(ValueError, match="1 hypotheses for 2 layouts"):
        scene_scores(["a"], [scenes[0].layout, scenes[1].layout], ["a"])


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _image(side: int = 32) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(side, side, 3), dtype=np.uint8)


def test_attention_figure_is_written(tmp_path: Path) -> None:
    words = ["a", "red", "heart", "</s>"]
    weights = np.random.default_rng(1).random((4, 8, 8))
    grey = np.zeros((40, 40), np.uint8)
    path = tmp_path / "attention.png"
    plot_caption_attention([(_image(), words, weights), (grey, words[:2], weights[:2])], path, title="t")
    width, height = _png_size(path)
    assert 400 < width < 1000 and 200 < height < 500
    assert not list(tmp_path.glob(".*.tmp"))


def test_attention_is_upsampled_smoothly() -> None:
    weights = np.zeros((1, 2, 2))
    weights[0, 0, 0] = 1.0
    big = upsample(weights, 8, 8)
    assert big.shape == (1, 8, 8) and big[0, 0, 0] == pytest.approx(1.0) and big[0, -1, -1] == pytest.approx(0.0)
    assert 0 < big[0, 3, 3] < 1  # in between, not blocks


def test_caption_grid_is_written(tmp_path: Path) -> None:
    items = [
        (_image(), f"a caption number {i} that is long enough to wrap", "the reference" if i % 2 else None)
        for i in range(7)
    ]
    path = tmp_path / "grid.png"
    plot_caption_grid(items, path, columns=3, title="emoji")
    width, height = _png_size(path)
    assert 400 < width < 1000 and 400 < height < 1200


def test_figures_refuse_other_paths_and_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must end in .png"):
        plot_caption_grid([(_image(), "a", None)], tmp_path / "grid.jpg")
    with pytest.raises(ValueError, match="must end in .png"):
        plot_caption_attention([(_image(), ["a"], np.ones((1, 2, 2)))], tmp_path / "att")
    with pytest.raises(ValueError, match="expected weights"):
        plot_caption_attention([(_image(), ["a", "b"], np.ones((1, 2, 2)))], tmp_path / "att.png")
    assert not list(tmp_path.iterdir())
