"""Bracketed trees and the ListOps data."""

from __future__ import annotations

import random
import re
import statistics

import pytest

from rnnlab.data.corpora import DataError
from rnnlab.data.listops import OPERATORS, apply, generate, make_listops, node_values, value
from rnnlab.data.trees import Tree, parse_tree, to_text


def test_listops_and_penn_trees_parse_and_round_trip():
    tree = parse_tree("(MAX 2 9 (MIN 4 7) 0)")
    assert tree.label == "MAX" and [c.label for c in tree.children] == ["2", "9", "MIN", "0"]
    assert tree.leaves() == ["2", "9", "4", "7", "0"] and tree.height() == 2
    assert to_text(tree) == "(MAX 2 9 (MIN 4 7) 0)"
    penn = "(S (NP (DT the) (NN cat)) (VP (VBD sat)))"
    parsed = parse_tree("  (S(NP (DT the)\n (NN cat))   (VP (VBD sat)))  ")  # any spacing
    assert to_text(parsed) == penn and parsed.leaves() == ["the", "cat", "sat"] and parsed.height() == 3
    assert parse_tree("word") == Tree("word")
    deep = "(SM " * 3000 + "1" + ")" * 3000  # far deeper than Python's recursion limit
    assert parse_tree(deep).height() == 3000 and to_text(parse_tree(deep)) == deep.replace(" 1", " 1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty tree"),
        ("   ", "empty tree"),
        ("(MAX 2 9))", "')' at character 9 closes nothing"),
        ("(MAX 2 (MIN 4 7) 0", "'(' at character 0 is never closed"),
        ("((MAX 2) 9)", "opened at character 0 has no label"),
        ("(MAX 2 ())", "opened at character 7 has no label"),
        ("(MAX 2 9) 4", "text after the tree at character 10"),
        (")", "')' at character 0 closes nothing"),
    ],
)
def test_bad_brackets_are_one_line_naming_the_character(text, message):
    with pytest.raises(DataError, match=re.escape(message)) as e:
        parse_tree(text, where="tree")
    assert "\n" not in str(e.value)


def _evaluate(text: str) -> int:
    """An evaluator independent of the library's: innermost lists first, by regular expressions."""
    ops = {
        "MAX": max,
        "MIN": min,
        "SM": lambda v: sum(v) % 10,
        "MED": lambda v: int(statistics.median(v)),  # as the paper's generator: int(numpy.median)
    }
    inner = re.compile(r"\((MAX|MIN|MED|SM)((?: \d)+)\)")
    while text.startswith("("):
        text = inner.sub(lambda m: str(ops[m.group(1)]([int(d) for d in m.group(2).split()])), text)
    return int(text)


def test_listops_values_equal_an_independent_evaluator():
    rng = random.Random(7)
    seen_ops, depths = set(), set()
    for _ in range(2000):
        tree = generate(rng)
        text = to_text(tree)
        assert value(parse_tree(text)) == value(tree) == _evaluate(text), text
        if len(seen_ops) < 4 or rng.random() < 0.1:  # the label of every node (--node-labels) too
            assert node_values(tree) == [_evaluate(to_text(n)) for n in tree.nodes()]
        seen_ops |= {n.label for n in tree.nodes() if not n.is_leaf}
        depths.add(tree.height())
    assert seen_ops == set(OPERATORS) and max(depths) >= 5
    assert apply("MED", [1, 2, 9, 8]) == 5 and apply("MED", [3, 1, 2]) == 2 and apply("SM", [9, 9, 3]) == 1
    with pytest.raises(DataError, match="neither a digit nor a list"):
        value(parse_tree("(MAX 2 x)"))
    with pytest.raises(DataError, match="unknown operator"):
        value(parse_tree("(AVG 2 3)"))


def test_listops_splits_are_seeded_distinct_and_bounded():
    sizes = {"train": 400, "valid": 50, "test": 50}
    a, b = make_listops(3, sizes), make_listops(3, sizes)
    assert [to_text(t) for t in a["test"]] == [to_text(t) for t in b["test"]]
    texts = [to_text(t) for split in a.values() for t in split]
    assert len(texts) == len(set(texts)) == 500
    assert all(t.height() <= 10 and all(len(n.children) <= 5 for n in t.nodes()) for s in a.values() for t in s)
    shallow = make_listops(1, {"train": 100}, max_depth=2)["train"]
    assert max(t.height() for t in shallow) <= 2
    labels = {value(t) for t in a["train"]}
    assert labels == set(range(10))
    with pytest.raises(DataError, match="unknown split"):
        make_listops(0, {"dev": 3})


def test_binarize_makes_left_branching_chains_and_says_what_each_node_stands_for():
    from rnnlab.data.listops import node_values
    from rnnlab.data.trees import binarize

    given = parse_tree("(MAX 2 9 (MIN 4 7 1) 0)")
    tree, origin = binarize(given)
    assert to_text(tree) == "(MAX (MAX (MAX 2 9) (MIN (MIN 4 7) 1)) 0)"
    assert max(len(n.children) for n in tree.nodes()) == 2
    old = list(given.nodes())
    for node, k in zip(tree.nodes(), origin):
        if k >= 0:  # a chain's top, a digit: the node it stands for, with its label
            assert node.label == old[k].label
    assert sorted(k for k in origin if k >= 0) == list(range(len(old)))
    assert node_values(given)[0] == 9 and binarize(parse_tree("(SM 1 2)"))[1] == [0, 1, 2]
