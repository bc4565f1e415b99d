"""Text classifier, many to one: embedding -> Recurrent -> one vector per text -> linear -> classes.

The seed notes read the class from the last hidden state; ``pooling`` offers that (``last``: the
output after each text's last token, and with ``bidirectional`` also the backward cell's output
after the first token), the mean over time, or the maximum over time of every feature (Collobert et al.
2011; Conneau et al. 2017). Dropout acts on the embeddings and on the pooled vector.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.cells import NAMES_HELP, check_cell
from rnnlab.cells.named import ResolvesCell
from rnnlab.configs import check_fields
from rnnlab.layers import Recurrent

POOLINGS = ("last", "mean", "max")


@dataclass
class ClassifierConfig(ResolvesCell):
    """Architecture of a text classifier; saved in the run's ``config.json`` with the weights."""

    vocab_size: int = 0
    num_classes: int = 0
    cell: str = field(default="lstm", metadata={"help": "recurrent cell: " + NAMES_HELP})
    cell_options: dict = field(default_factory=dict, metadata={"help": "cell options as JSON, e.g. '{\"scale\": 0.9}'"})
    hidden_size: int = field(default=128, metadata={"help": "units per layer and direction"})
    num_layers: int = field(default=1, metadata={"help": "stacked recurrent layers"})
    embedding_size: int = field(default=128, metadata={"help": "embedding width"})
    bidirectional: bool = field(default=True, metadata={"help": "read each text both ways"})
    pooling: str = field(default="last", metadata={"help": "one vector per text: " + ", ".join(POOLINGS)})
    dropout: float = field(
        default=0.5, metadata={"help": "dropout on embeddings, between layers, on the pooled vector"}
    )

    def validate(self) -> None:
        check_fields(self)
        checks.positive_int("vocab_size", self.vocab_size)
        if self.num_classes < 2:
            checks.fail("num_classes", "at least 2 classes", self.num_classes)
        checks.positive_int("hidden_size", self.hidden_size)
        checks.positive_int("num_layers", self.num_layers)
        checks.positive_int("embedding_size", self.embedding_size)
        checks.probability("dropout", self.dropout)
        check_cell("cell", self.cell, self.cell_options)
        if self.pooling not in POOLINGS:
            checks.fail("pooling", "one of " + ", ".join(POOLINGS), self.pooling)
        checks.fits_in_memory(self.min_parameters())

    def min_parameters(self) -> int:
        """A lower bound on the parameter count (exact but for the cells' extra gates)."""
        V, E, H, C = self.vocab_size, self.embedding_size, self.hidden_size, self.num_classes
        directions = 2 if self.bidirectional else 1
        return V * E + checks.recurrent_parameters(E, H, self.num_layers, directions) + C * (directions * H + 1)


def pool(outputs: Tensor, lengths: Tensor, how: str, directions: int) -> Tensor:
    """One vector ``(B, D)`` per sequence.

    Args:
        outputs: the last layer's outputs ``(T, B, D)``, zero past each sequence's end; with two
            directions the forward cell's come first in ``D``.
        lengths: valid steps ``(B,)``.
        how: ``"last"`` (the forward output at each sequence's last step, and the backward output
            at its first), ``"mean"`` or ``"max"`` over the valid steps.
        directions: 1 or 2.
    """
    lengths = lengths.to(outputs.device)
    if how == "last":
        forward = outputs[lengths - 1, torch.arange(outputs.shape[1], device=outputs.device)]  # (B, D)
        if directions == 1:
            return forward
        half = outputs.shape[2] // 2
        return torch.cat([forward[:, :half], outputs[0, :, half:]], dim=-1)
    if how == "mean":
        return outputs.sum(0) / lengths.to(outputs.dtype).unsqueeze(1)
    valid = torch.arange(outputs.shape[0], device=outputs.device).unsqueeze(1) < lengths  # (T, B)
    return outputs.masked_fill(~valid.unsqueeze(2), float("-inf")).amax(0)


class TextClassifier(nn.Module):
    """Logits ``(B, num_classes)`` for padded ids ``(T, B)`` and their lengths ``(B,)``."""

    @checks.refuse_allocation_failure
    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=0)
        self.rnn = Recurrent(
            config.cell,
            config.embedding_size,
            config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            **config.cell_options,
        )
        self.drop = nn.Dropout(config.dropout)
        self.readout = nn.Linear(self.rnn.output_size, config.num_classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        out, _ = self.rnn(self.drop(self.embedding(ids)), lengths=lengths)  # (T, B, D)
        pooled = pool(out, lengths, self.config.pooling, self.rnn.num_directions)
        return self.readout(self.drop(pooled))
