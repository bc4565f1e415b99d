"""The contract of a tree cell, and the two ways to run one over trees.

A tree cell computes a node's state from its input vector ``x`` (a word's embedding; zeros where a
node reads none) and its children's states. Its :meth:`TreeCell.forward` takes many nodes at
once: ``x`` ``(n, E)``, each entry of the children's state ``(n, K, H)`` and a ``mask`` ``(n, K)``
of the children that exist, and returns each entry of the nodes' state ``(n, H)``. It is
:meth:`TreeCell.step` after :meth:`TreeCell.project`: the part that reads ``x`` alone (the input
matrices and biases) is split off so that :func:`run_levels` computes it for every node of the
batch in one matrix product, and each level only adds its children. ``state_size``
says how many entries a state has (``h``; an LSTM's ``(h, c)``); ``max_children`` how many
children a node may have (``None``: any number).

:func:`run_levels` runs a cell over a :class:`~rnnlab.trees.batch.TreeBatch` one level at a time;
:func:`run_nodes` one node at a time, in the same order: the reference the tests hold the fast
path to (the same outputs and gradients).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.trees.batch import TreeBatch


class TreeCell(nn.Module):
    """Base class: sizes, the child limit, and the checks every cell shares."""

    state_size: int = 1
    max_children: int | None = None

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size = checks.positive_int("input_size", input_size)
        self.hidden_size = checks.positive_int("hidden_size", hidden_size)

    def project(self, x: Tensor) -> Tensor:
        """What the nodes' inputs ``x`` ``(n, E)`` alone contribute, ``(n, G)``."""
        raise NotImplementedError

    def step(self, projected: Tensor, children: tuple[Tensor, ...], mask: Tensor) -> tuple[Tensor, ...]:
        """The nodes' state from :meth:`project` of their inputs and their children's state."""
        raise NotImplementedError

    def forward(self, x: Tensor, children: tuple[Tensor, ...], mask: Tensor) -> tuple[Tensor, ...]:
        return self.step(self.project(x), children, mask)


def _check(cell: TreeCell, inputs: Tensor, batch: TreeBatch) -> None:
    if inputs.shape != (batch.num_nodes, cell.input_size):
        checks.fail("inputs", f"({batch.num_nodes}, {cell.input_size}): a vector per node", tuple(inputs.shape))
    most = int((batch.children >= 0).sum(dim=1).max()) if batch.num_nodes else 0
    if cell.max_children is not None and most > cell.max_children:
        k = int((batch.children >= 0).sum(dim=1).argmax())
        checks.fail("tree", f"at most {cell.max_children} children a node", f"{most} under {batch.labels[k]!r}")


#: how many times the children a level reads its padded width may hold before the level is split
WASTE = 4


def run_levels(cell: TreeCell, inputs: Tensor, batch: TreeBatch) -> tuple[Tensor, ...]:
    """Every node's state (each entry ``(N, H)``), one call of ``cell`` per level, or two where a few
    nodes of many children would pad the level's many others to their width (a dependency
    parse's wide nodes): those of up to two children, then the rest (:func:`_groups`)."""
    _check(cell, inputs, batch)
    N, H = batch.num_nodes, cell.hidden_size
    projected = cell.project(inputs)  # every node's input part at once
    # every node's state, written a level at a time (reading a level's children saves only their
    # numbers for the backward pass, so writing the next level in place is safe); the row past
    # the nodes stands for a missing child: zeros, never written
    states = [inputs.new_zeros(N + 1, H) for _ in range(cell.state_size)]
    for start, end in batch.levels:
        kids = batch.children[start:end]  # (n, K)
        counts = (kids >= 0).sum(dim=1)
        groups = _groups(counts)
        outs: list[tuple[Tensor, ...]] = []
        for rows, width in groups:
            part = kids[:, :width] if rows is None else kids[rows, :width]
            mask = part >= 0
            index = part.masked_fill(~mask, N)
            gathered = tuple(s[index] for s in states)  # (n, K, H)
            outs.append(cell.step(projected[start:end] if rows is None else projected[start + rows], gathered, mask))
        if len(outs) == 1:
            new = outs[0]
        else:  # back to the level's node order
            order = torch.cat([rows for rows, _ in groups])  # type: ignore[misc]
            inverse = torch.empty_like(order)
            inverse[order] = torch.arange(len(order))
            new = tuple(torch.cat([o[e] for o in outs])[inverse] for e in range(cell.state_size))
        for s, n in zip(states, new):
            s[start:end] = n
    return tuple(s[:N] for s in states)


def _groups(counts: Tensor) -> list[tuple[Tensor | None, int]]:
    """A level's nodes grouped by their number of children (``None``: all of them together) and
    the width each group needs. A level is split only where padding every node to the widest
    would more than quadruple the children read: a call per group costs more than a little
    padding (measured on dependency parses of tweets, hidden size 150)."""
    most = int(counts.max()) if len(counts) else 0
    if most <= 2 or len(counts) * most <= WASTE * int(counts.sum()):
        return [(None, max(most, 1))]
    few = counts <= 2
    return [(rows, max(int(counts[rows].max()), 1)) for rows in (few.nonzero().squeeze(1), (~few).nonzero().squeeze(1))]


def run_nodes(cell: TreeCell, inputs: Tensor, batch: TreeBatch) -> tuple[Tensor, ...]:
    """The same as :func:`run_levels`, one node at a time (the reference; slow)."""
    _check(cell, inputs, batch)
    rows: list[tuple[Tensor, ...]] = []
    for k in range(batch.num_nodes):
        kids = [int(c) for c in batch.children[k] if c >= 0]
        width = max(len(kids), 1)
        gathered = tuple(
            torch.stack([rows[c][e] for c in kids]).unsqueeze(0)
            if kids
            else inputs.new_zeros(1, width, cell.hidden_size)
            for e in range(cell.state_size)
        )
        mask = torch.tensor([[bool(kids)] * width])
        rows.append(tuple(s[0] for s in cell(inputs[k : k + 1], gathered, mask)))
    return tuple(torch.stack([r[e] for r in rows]) for e in range(cell.state_size))
