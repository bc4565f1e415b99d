"""Networks over trees: cells that compute a node from its children (:data:`TREE_CELLS`), and the
level-batched and node-by-node ways to run them (:mod:`rnnlab.trees.base`). A new tree cell is
one file here and one line in :data:`TREE_CELLS`."""

from __future__ import annotations

from collections.abc import Callable

from rnnlab.trees.base import TreeCell, run_levels, run_nodes
from rnnlab.trees.batch import TreeBatch
from rnnlab.trees.childsum import ChildSumTreeLSTM
from rnnlab.trees.nary import NaryTreeLSTM
from rnnlab.trees.recursive import RecursiveCell

#: name -> factory ``(input_size, hidden_size) -> TreeCell``
TREE_CELLS: dict[str, Callable[..., TreeCell]] = {
    "tree-rnn": RecursiveCell,
    "tree-lstm": ChildSumTreeLSTM,
    "binary-tree-lstm": NaryTreeLSTM,
}

__all__ = ["TREE_CELLS", "TreeBatch", "TreeCell", "run_levels", "run_nodes"]
