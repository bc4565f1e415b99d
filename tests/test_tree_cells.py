"""Tree cells: the level-batched path equals node-by-node recursion (outputs and gradients)."""

from __future__ import annotations

import random

import pytest
import torch

from rnnlab.data.listops import generate
from rnnlab.data.trees import Tree, parse_tree
from rnnlab.trees import TREE_CELLS, TreeBatch, run_levels, run_nodes

E, H = 5, 4


def binary_tree(rng: random.Random, depth: int) -> Tree:
    if depth == 0 or rng.random() < 0.3:
        return Tree(str(rng.randrange(10)))
    return Tree("N", [binary_tree(rng, depth - 1) for _ in range(rng.choice((1, 2)))])


def _trees(name: str, count: int, seed: int) -> list[Tree]:
    rng = random.Random(seed)
    if name == "tree-lstm":  # any number of children
        return [generate(rng, max_depth=4) for _ in range(count)]
    return [binary_tree(rng, 5) for _ in range(count)]


def _inputs(batch: TreeBatch, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch.num_nodes, E, generator=g, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("name", sorted(TREE_CELLS))
def test_levels_equal_nodes_outputs_and_gradients(name):
    torch.manual_seed(0)
    cell = TREE_CELLS[name](E, H).double()
    batch = TreeBatch.of(_trees(name, 6, 1))
    assert len(batch.levels) < batch.num_nodes  # there is batching to do
    x = _inputs(batch, 2)
    fast, slow = run_levels(cell, x, batch), run_nodes(cell, x, batch)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    weights = torch.randn(batch.num_nodes, H, dtype=torch.float64)
    grads_fast = torch.autograd.grad((fast[0] * weights).sum(), [x, *cell.parameters()])
    grads_slow = torch.autograd.grad((slow[0] * weights).sum(), [x, *cell.parameters()])
    for a, b in zip(grads_fast, grads_slow):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(TREE_CELLS))
def test_gradcheck_on_a_small_tree(name):
    torch.manual_seed(0)
    cell = TREE_CELLS[name](3, 2).double()
    batch = TreeBatch.of([parse_tree("(A (B 1 2) 3)")])
    x = torch.randn(batch.num_nodes, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: run_levels(cell, v, batch)[0][batch.roots], (x,))


@pytest.mark.parametrize("name", sorted(TREE_CELLS))
def test_a_tree_is_the_same_alone_and_in_a_batch(name):
    torch.manual_seed(0)
    cell = TREE_CELLS[name](E, H).double()
    trees = _trees(name, 5, 3)
    batch = TreeBatch.of(trees)
    x = _inputs(batch, 4).detach()
    roots = run_levels(cell, x, batch)[0][batch.roots]
    for b, tree in enumerate(trees):
        alone = TreeBatch.of([tree])
        mine = x[batch.tree_of == b]  # the tree's nodes keep their relative order
        torch.testing.assert_close(run_levels(cell, mine, alone)[0][alone.roots[0]], roots[b])


def test_child_sum_does_not_depend_on_the_order_of_children():
    torch.manual_seed(0)
    cell = TREE_CELLS["tree-lstm"](E, H).double()
    a, b = TreeBatch.of([parse_tree("(P x y z)")]), TreeBatch.of([parse_tree("(P z x y)")])
    vectors = {label: torch.randn(E, dtype=torch.float64) for label in "Pxyz"}
    root = [run_levels(cell, torch.stack([vectors[w] for w in t.labels]), t)[0][t.roots[0]] for t in (a, b)]
    torch.testing.assert_close(root[0], root[1])


def test_level_numbering():
    batch = TreeBatch.of([parse_tree("(MAX 2 (MIN 4 7))"), parse_tree("5")])
    assert batch.labels == ["2", "4", "7", "5", "MIN", "MAX"]
    assert batch.levels == [(0, 4), (4, 5), (5, 6)] and batch.roots.tolist() == [5, 3]
    assert batch.children[5].tolist() == [0, 4] and batch.tree_of.tolist() == [0, 0, 0, 1, 0, 0]


@pytest.mark.parametrize("name", ["tree-rnn", "binary-tree-lstm"])
def test_too_many_children_for_a_binary_cell_is_one_line(name):
    cell = TREE_CELLS[name](E, H)
    batch = TreeBatch.of([parse_tree("(MAX 1 2 3)")])
    with pytest.raises(ValueError, match="at most 2 children") as e:
        run_levels(cell, torch.zeros(batch.num_nodes, E), batch)
    assert "MAX" in str(e.value) and "\n" not in str(e.value)


def test_a_level_of_nodes_with_many_and_few_children_is_grouped_and_still_equal():
    """A level of many nodes of one or two children and a few of many runs in two groups: the same as recursion."""
    from rnnlab.trees.base import _groups

    torch.manual_seed(0)
    cell = TREE_CELLS["tree-lstm"](E, H).double()
    text = "(R (A 1) (B 1 2) (A 3) (A 4) (B 5 6) (A 7) (A 8) (C 1 2 3 4 5 6 7 8 9) (A 4) (E 4 5 6))"
    batch = TreeBatch.of([parse_tree(text), parse_tree("(F 1 2)")])
    counts = (batch.children[batch.levels[1][0] : batch.levels[1][1]] >= 0).sum(1)
    assert sorted(counts.tolist()) == [1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 9]
    groups = _groups(counts)
    assert [width for _, width in groups] == [2, 9] and sum(len(rows) for rows, _ in groups) == len(counts)
    x = _inputs(batch, 3)
    fast, slow = run_levels(cell, x, batch), run_nodes(cell, x, batch)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    grads_fast = torch.autograd.grad(fast[0].sum() + fast[1].sum(), [x, *cell.parameters()])
    grads_slow = torch.autograd.grad(slow[0].sum() + slow[1].sum(), [x, *cell.parameters()])
    for a, b in zip(grads_fast, grads_slow):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
