"""Tree figures: the layout (parents over their children, leaves in order, a word at its position)
and the PNGs (notes, values, dependency trees, a lone leaf; bad lengths and paths refused)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from PIL import Image

from rnnlab.data.listops import generate, value
from rnnlab.data.trees import Tree, parse_tree
from rnnlab.viz.trees import layout, plot_tree

LISTOPS = "(MAX 2 9 (MIN 4 7 (SM 1 (MED 3 8 5)) 0) (SM 6 6))"


def _dependency() -> Tree:
    """``the cat sat on the mat``: ``sat`` the root, every node a word at its position."""
    words = "the cat sat on the mat".split()

    def word(i: int, *children: Tree) -> Tree:
        return Tree(words[i], list(children), index=i)

    return word(2, word(1, word(0)), word(5, word(3), word(4)))


def _opens(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        image.load()
        return image.size


def _check_layout(tree: Tree) -> None:
    nodes = list(tree.nodes())
    points = layout(tree)
    assert len(points) == len(nodes)
    position = {id(node): point for node, point in zip(nodes, points)}
    leaves = [position[id(node)][0] for node in nodes if node.is_leaf]
    assert leaves == sorted(leaves) and len(set(leaves)) == len(leaves)
    for node in nodes:
        x, y = position[id(node)]
        for child in node.children:
            assert position[id(child)][1] == y + 1
        if node.children:
            xs = [position[id(c)][0] for c in node.children]
            assert min(xs) <= x <= max(xs)
    assert points[0][1] == 0


def test_layout_puts_parents_over_children_and_leaves_in_order() -> None:
    _check_layout(parse_tree(LISTOPS))
    _check_layout(generate(random.Random(3), max_depth=10))
    tree = parse_tree("(A (B x) y)")
    assert layout(tree) == [(0.5, 0.0), (0.0, 1.0), (0.0, 2.0), (1.0, 1.0)]
    assert layout(Tree("x")) == [(0.0, 0.0)]


def test_indexed_trees_put_every_word_at_its_position() -> None:
    tree = _dependency()
    points = layout(tree)
    assert [x for x, _ in points] == [float(node.index) for node in tree.nodes()]
    assert [y for _, y in points] == [0, 1, 2, 1, 2, 2]


def test_deep_trees_lay_out_without_recursion() -> None:
    tree = Tree("x")
    for i in range(3000):
        tree = Tree(f"n{i}", [tree])
    points = layout(tree)
    assert points[-1] == (0.0, 3000.0) and all(x == 0.0 for x, _ in points)


def test_listops_tree_with_notes_and_values(tmp_path: Path) -> None:
    tree = generate(random.Random(4), max_depth=10)
    nodes = list(tree.nodes())
    notes = [f"{value(node)} (0.9{i % 10})" for i, node in enumerate(nodes)]
    values = [math.sin(i) for i in range(len(nodes))]
    values[1] = float("nan")
    plot_tree(tree, tmp_path / "notes.png", notes=notes, title="ListOps")
    plot_tree(tree, tmp_path / "values.png", notes=notes, values=values, value_name="unit 3")
    for name in ("notes.png", "values.png"):
        width, height = _opens(tmp_path / name)
        assert 300 < width <= 4500 and 150 < height <= 3500


def test_dependency_and_single_leaf_trees(tmp_path: Path) -> None:
    tree = _dependency()
    plot_tree(tree, tmp_path / "dep.png", notes=[None, "NOUN", "", "", "", "NOUN"], title="a parse")
    width, height = _opens(tmp_path / "dep.png")
    assert width > height > 100
    plot_tree(Tree("7"), tmp_path / "leaf.png", notes=["7 (1.00)"], values=[0.5], value_name="h")
    width, height = _opens(tmp_path / "leaf.png")
    assert 100 <= width <= 400 and 50 <= height <= 300


def test_big_trees_stay_within_the_cap(tmp_path: Path) -> None:
    rng = random.Random(0)
    root = Tree("S")
    nodes = [root]
    while len(nodes) < 300:
        child = Tree(rng.choice(["NP", "VP", "international"]))
        rng.choice(nodes).children.append(child)
        nodes.append(child)
    plot_tree(root, tmp_path / "big.png", values=[rng.uniform(-1, 1) for _ in nodes])
    chain = Tree("x")
    for i in range(300):
        chain = Tree(f"n{i}", [chain])
    plot_tree(chain, tmp_path / "deep.png")
    for name in ("big.png", "deep.png"):
        width, height = _opens(tmp_path / name)
        assert width <= 4500 and height <= 3500


def test_bad_lengths_and_paths_write_nothing(tmp_path: Path) -> None:
    tree = parse_tree(LISTOPS)
    count = len(list(tree.nodes()))
    with pytest.raises(ValueError, match=f"notes: expected one per node \\({count} nodes\\), got 2"):
        plot_tree(tree, tmp_path / "a.png", notes=["x", "y"])
    with pytest.raises(ValueError, match="values: expected one per node"):
        plot_tree(tree, tmp_path / "b.png", values=[0.0] * (count + 1))
    with pytest.raises(ValueError, match="must end in .png"):
        plot_tree(tree, tmp_path / "c.jpg")
    with pytest.raises(ValueError, match="must end in .png"):
        plot_tree(tree, tmp_path / "d")
    assert list(tmp_path.iterdir()) == []
