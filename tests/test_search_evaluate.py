"""One evaluation of the cell search: a cell trained briefly through the one trainer on each kind of
task, scored the same wherever it runs."""

import math

import pytest

from rnnlab.cells.named import load_spec
from rnnlab.search.evaluate import PTB, directions, evaluate_cell, search_tasks

TINY = {"steps": 4, "hidden_size": 16, "seed": 0}


def test_a_sequence_task_scores_the_same_twice():
    first = evaluate_cell(load_spec("gru"), "xml", TINY)
    again = evaluate_cell(load_spec("gru"), "xml", TINY)
    assert first["metric"] == "test_accuracy"  # on the closing tags
    assert 0 <= first["value"] <= 1
    assert again["value"] == first["value"]
    assert {"arithmetic", "xml", PTB} <= set(search_tasks())
    assert directions(["arithmetic", PTB]) == {"arithmetic": True, PTB: False}


def test_a_cell_that_adds_x_trains_where_the_input_is_narrower_than_the_state():
    # MUT1's tanh(x) with one-hot characters (D = the task's alphabet) reads a projection of x
    result = evaluate_cell(load_spec("mut1"), "arithmetic", TINY)
    assert result["metric"] == "test_char_accuracy" and math.isfinite(result["value"])


@pytest.mark.slow
def test_the_word_language_model_is_scored_by_its_validation_perplexity(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = evaluate_cell(load_spec("gru"), PTB, {"steps": 2, "hidden_size": 16, "seed": 0})
    assert result["metric"] == "val_perplexity"
    # two steps from a uniform start: about as perplexed as a uniform guess over the 10,000 words
    assert 1000 < result["value"] < 20_000
    assert list(tmp_path.iterdir()) == []  # the training's run folder was temporary
