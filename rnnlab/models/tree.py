"""Classifier over trees: every node reads its word, a tree cell builds the nodes bottom-up, and the
root's state (or every node's, for labels at every node) goes through a linear layer to classes.

``cell`` names a tree cell (:data:`rnnlab.trees.TREE_CELLS`): the nodes' states come from
:func:`rnnlab.trees.run_levels`, one matrix product per level of the batch. It may also name a
sequence cell (:data:`rnnlab.CELLS`): then the model is the text classifier of
:mod:`rnnlab.models.classifier` reading the example's tokens (a sentence's words, a bracketed
tree's text) and ignoring the tree, the baseline that shows what the structure is worth.

``leaf_encoder`` (a sequence cell, optional) first reads the tokens both ways; a node whose word
sits at position ``index`` of the tokens then reads that position's output beside its own
embedding (the BiLSTM-then-tree model); a node with no position reads zeros there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.cells import CELLS
from rnnlab.configs import check_fields
from rnnlab.layers import Recurrent
from rnnlab.models.classifier import POOLINGS, ClassifierConfig, TextClassifier
from rnnlab.trees import TREE_CELLS, TreeBatch, run_levels


@dataclass
class TreeModelConfig:
    """Architecture of a tree classifier; saved in the run's ``config.json`` with the weights."""

    vocab_size: int = 0
    num_classes: int = 0
    cell: str = field(
        default="tree-lstm",
        metadata={"help": "tree cell (" + ", ".join(TREE_CELLS) + ") or a sequence cell reading the tokens"},
    )
    hidden_size: int = field(default=128, metadata={"help": "units of the cell (per direction for a sequence cell)"})
    embedding_size: int = field(default=128, metadata={"help": "embedding width"})
    bidirectional: bool = field(default=True, metadata={"help": "a sequence cell reads the tokens both ways"})
    pooling: str = field(default="last", metadata={"help": "a sequence cell's vector: " + ", ".join(POOLINGS)})
    leaf_encoder: str = field(
        default="", metadata={"help": "a sequence cell over the tokens whose outputs the nodes also read ('' = none)"}
    )
    dropout: float = field(default=0.3, metadata={"help": "dropout on the embeddings and on the states read out"})

    @property
    def is_tree(self) -> bool:
        return self.cell in TREE_CELLS

    def validate(self) -> None:
        check_fields(self)
        checks.positive_int("vocab_size", self.vocab_size)
        if self.num_classes < 2:
            checks.fail("num_classes", "at least 2 classes", self.num_classes)
        checks.positive_int("hidden_size", self.hidden_size)
        checks.positive_int("embedding_size", self.embedding_size)
        checks.probability("dropout", self.dropout)
        if self.cell not in TREE_CELLS and self.cell not in CELLS:
            checks.fail("cell", "a tree cell (" + ", ".join(TREE_CELLS) + ") or a sequence cell", self.cell)
        if self.pooling not in POOLINGS:
            checks.fail("pooling", "one of " + ", ".join(POOLINGS), self.pooling)
        if self.leaf_encoder:
            if self.leaf_encoder not in CELLS:
                checks.fail("leaf_encoder", "'' or a sequence cell: " + ", ".join(sorted(CELLS)), self.leaf_encoder)
            if not self.is_tree:
                checks.fail("leaf_encoder", "'' with a sequence --cell (it feeds a tree cell)", self.leaf_encoder)
        checks.fits_in_memory(self.vocab_size * self.embedding_size + 8 * self.hidden_size**2)

    def sequence_config(self) -> ClassifierConfig:
        """The text classifier a sequence ``cell`` stands for."""
        return ClassifierConfig(
            vocab_size=self.vocab_size,
            num_classes=self.num_classes,
            cell=self.cell,
            hidden_size=self.hidden_size,
            embedding_size=self.embedding_size,
            bidirectional=self.bidirectional,
            pooling=self.pooling,
            dropout=self.dropout,
        )


@dataclass
class TreeInputs:
    """A batch as the model reads it.

    Attributes:
        batch: the trees numbered by level (:class:`~rnnlab.trees.TreeBatch`).
        node_ids: ``(N,)`` each node's word id, in the batch's node order.
        tokens: ``(T, B)`` the padded token ids, with ``lengths`` ``(B,)``.
        positions: ``(N,)`` each node's position in its tree's tokens, ``-1`` for none.
    """

    batch: TreeBatch
    node_ids: Tensor
    tokens: Tensor
    lengths: Tensor
    positions: Tensor


class TreeClassifier(nn.Module):
    """Logits at every node ``(N, C)`` (:meth:`nodes`) or at the roots ``(B, C)`` (:meth:`forward`)."""

    @checks.refuse_allocation_failure
    def __init__(self, config: TreeModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        if not config.is_tree:
            self.sequence = TextClassifier(config.sequence_config())
            return
        E, H = config.embedding_size, config.hidden_size
        self.embedding = nn.Embedding(config.vocab_size, E, padding_idx=0)
        width = E
        if config.leaf_encoder:
            self.leaf_encoder = Recurrent(config.leaf_encoder, E, H, bidirectional=True)
            width += self.leaf_encoder.output_size
        self.cell = TREE_CELLS[config.cell](width, H)
        self.drop = nn.Dropout(config.dropout)
        self.readout = nn.Linear(H, config.num_classes)

    def states(self, inputs: TreeInputs) -> tuple[Tensor, ...]:
        """Every node's state (each entry ``(N, H)``) in the batch's node order."""
        x = self.drop(self.embedding(inputs.node_ids))
        if self.config.leaf_encoder:
            words = self.drop(self.embedding(inputs.tokens))
            out, _ = self.leaf_encoder(words, lengths=inputs.lengths)  # (T, B, D)
            read = out[inputs.positions.clamp_min(0), inputs.batch.tree_of]  # (N, D)
            x = torch.cat([x, read * (inputs.positions >= 0).unsqueeze(1).to(read.dtype)], dim=1)
        return run_levels(self.cell, x, inputs.batch)

    def nodes(self, inputs: TreeInputs) -> Tensor:
        """Logits ``(N, C)`` at every node (tree cells only)."""
        if not self.config.is_tree:
            raise ValueError(f"--cell {self.config.cell} reads the tokens, not the tree: it has no node predictions")
        return self.readout(self.drop(self.states(inputs)[0]))

    def forward(self, inputs: TreeInputs) -> Tensor:
        """Logits ``(B, C)`` at each tree's root."""
        if not self.config.is_tree:
            return self.sequence(inputs.tokens, inputs.lengths)
        h = self.states(inputs)[0][inputs.batch.roots]
        return self.readout(self.drop(h))
