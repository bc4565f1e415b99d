"""Trees batched by level: every node of the same height, across all trees of a batch, at once.

A batch of trees becomes one table of nodes, numbered leaves first: all nodes of height 0, then of
height 1, and so on, so that every child is numbered before its parent. Level ``l`` is the range
of nodes of height ``l``; a tree cell runs once per level, one matrix product for all of that
level's nodes (the schedule of the DGL and DyNet Tree-LSTM examples), reading its children's
states by index from the levels below. A tree of height ``d`` thus costs ``d + 1`` steps whatever
the batch size, against one step a node for recursion.

Children are given by ``children`` ``(N, K)``: the node numbers of each node's children in order,
padded with ``-1``; ``K`` is the most children of any node in the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rnnlab.data.trees import Tree


@dataclass
class TreeBatch:
    """Trees numbered by level.

    Attributes:
        labels: each node's label (a word, a digit, an operator), in node order.
        children: ``(N, K)`` int64 child numbers, ``-1`` past a node's children.
        levels: ``(start, end)`` of each level's node numbers, lowest first.
        roots: ``(B,)`` the node number of each tree's root, in the trees' order.
        tree_of: ``(N,)`` the tree each node belongs to.
        order: ``(N,)`` each node's place in its tree's :meth:`~rnnlab.data.trees.Tree.nodes`
            (parents first, left to right), to find what the caller keeps per node.
    """

    labels: list[str]
    children: Tensor
    levels: list[tuple[int, int]]
    roots: Tensor
    tree_of: Tensor
    order: Tensor

    @property
    def num_nodes(self) -> int:
        return len(self.labels)

    @classmethod
    def of(cls, trees: list[Tree]) -> TreeBatch:
        """Number the nodes of ``trees`` by height (see the module docstring)."""
        return cls.join([TreeShape.of(tree) for tree in trees])

    @classmethod
    def join(cls, shapes: list[TreeShape]) -> TreeBatch:
        """The batch of trees of these shapes (each made once per tree by :meth:`TreeShape.of`)."""
        if not shapes:
            empty = torch.zeros(0, dtype=torch.long)
            return cls([], torch.full((0, 1), -1, dtype=torch.long), [], empty, empty, empty)
        sizes = torch.tensor([len(s.labels) for s in shapes])
        offsets = sizes.cumsum(0) - sizes
        width = max(s.children.shape[1] for s in shapes)
        kids = torch.full((int(sizes.sum()), width), -1, dtype=torch.long)
        row = 0
        for shape, offset in zip(shapes, offsets.tolist()):
            n, k = shape.children.shape
            kids[row : row + n, :k] = torch.where(shape.children >= 0, shape.children + offset, -1)
            row += n
        heights = torch.cat([s.heights for s in shapes])
        tree_of = torch.repeat_interleave(torch.arange(len(shapes)), sizes)
        order = torch.cat([torch.arange(len(s.labels)) for s in shapes])
        # stable: within a level, by tree, then parents first and left to right
        perm = torch.sort(heights, stable=True).indices
        number = torch.empty_like(perm)
        number[perm] = torch.arange(len(perm))
        kids = kids[perm]
        children = torch.where(kids >= 0, number[kids.clamp_min(0)], -1)
        counts = torch.bincount(heights).tolist()
        ends = torch.tensor(counts).cumsum(0).tolist()
        levels = [(end - c, end) for c, end in zip(counts, ends)]
        labels = [label for s in shapes for label in s.labels]
        return cls([labels[k] for k in perm.tolist()], children, levels, number[offsets], tree_of[perm], order[perm])


@dataclass
class TreeShape:
    """One tree's nodes in :meth:`~rnnlab.data.trees.Tree.nodes` order: their labels, heights
    ``(n,)`` and children ``(n, K)`` (positions in that order, ``-1`` past a node's children)."""

    labels: list[str]
    heights: Tensor
    children: Tensor

    @classmethod
    def of(cls, tree: Tree) -> TreeShape:
        order = list(tree.nodes())  # parents first, left to right
        place = {id(node): k for k, node in enumerate(order)}
        heights = [0] * len(order)
        for k in range(len(order) - 1, -1, -1):  # children before their parents
            kids = order[k].children
            heights[k] = 1 + max((heights[place[id(c)]] for c in kids), default=-1)
        width = max(1, max(len(node.children) for node in order))
        rows = [[place[id(c)] for c in node.children] + [-1] * (width - len(node.children)) for node in order]
        return cls([node.label for node in order], torch.tensor(heights), torch.tensor(rows).view(len(order), width))
