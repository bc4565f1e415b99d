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
        entries: list[tuple[int, int, int, Tree]] = []  # (height, tree, place in the tree, node)
        heights: dict[int, int] = {}
        for b, tree in enumerate(trees):
            order = list(tree.nodes())  # parents first, left to right
            for node in reversed(order):  # children before their parents
                heights[id(node)] = 1 + max((heights[id(c)] for c in node.children), default=-1)
            entries += [(heights[id(node)], b, k, node) for k, node in enumerate(order)]
        entries.sort(key=lambda e: e[0])  # stable: within a level, by tree, then left to right
        number = {id(node): k for k, (*_, node) in enumerate(entries)}
        width = max((len(node.children) for *_, node in entries), default=0)
        rows = [[number[id(c)] for c in node.children] for *_, node in entries]
        width = max(width, 1)
        children = torch.tensor([row + [-1] * (width - len(row)) for row in rows], dtype=torch.long)
        children = children.view(len(entries), width)
        levels, start = [], 0
        for k in range(1, len(entries) + 1):
            if k == len(entries) or entries[k][0] != entries[start][0]:
                levels.append((start, k))
                start = k
        roots = torch.tensor([number[id(tree)] for tree in trees], dtype=torch.long)
        tree_of = torch.tensor([e[1] for e in entries], dtype=torch.long)
        order = torch.tensor([e[2] for e in entries], dtype=torch.long)
        return cls([node.label for *_, node in entries], children, levels, roots, tree_of, order)
