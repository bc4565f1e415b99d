"""Character (or token) language model: embedding -> Recurrent -> linear readout.

The seed notes' ``s_t = f(U x_t + W s_{t-1})``, ``o_t = softmax(V s_t)``: ``U`` is the embedding
followed by the cells' input weights, ``W`` the recurrent weights, ``V`` the readout. Dropout
(Zaremba et al. 2014) acts on the embedding, between layers and before the readout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from rnnlab import checks
from rnnlab.cells import NAMES_HELP, check_cell
from rnnlab.cells.base import State
from rnnlab.cells.named import ResolvesCell
from rnnlab.configs import check_fields
from rnnlab.dropout import Dropout
from rnnlab.layers import Recurrent


@dataclass
class ModelConfig(ResolvesCell):
    """Architecture of a language model; saved in the run's ``config.json`` with the weights."""

    vocab_size: int = 0
    cell: str = field(default="lstm", metadata={"help": "recurrent cell: " + NAMES_HELP})
    hidden_size: int = field(default=256, metadata={"help": "units per layer"})
    num_layers: int = field(default=1, metadata={"help": "stacked recurrent layers"})
    embedding_size: int = field(default=64, metadata={"help": "embedding width; 0 = one-hot input as char-rnn"})
    dropout: float = field(default=0.0, metadata={"help": "dropout on embeddings, between layers, before readout"})
    cell_options: dict = field(default_factory=dict, metadata={"help": "cell options as JSON, e.g. '{\"scale\": 0.9}'"})
    init_range: float = field(
        default=0.0,
        metadata={
            "help": "every parameter, biases included, starts uniform in [-r, r], replacing the cells' own "
            "initialisation (forget bias, identity matrices) as Zaremba et al. 2014 (0.1) do; 0 = off"
        },
    )
    tie_weights: bool = field(
        default=False, metadata={"help": "share the embedding with the readout (Press & Wolf 2017; Inan et al. 2017)"}
    )

    def validate(self) -> None:
        check_fields(self)
        checks.positive_int("vocab_size", self.vocab_size)
        checks.positive_int("hidden_size", self.hidden_size)
        checks.positive_int("num_layers", self.num_layers)
        checks.non_negative_int("embedding_size", self.embedding_size)
        checks.probability("dropout", self.dropout)
        checks.non_negative("init_range", self.init_range)
        check_cell("cell", self.cell, self.cell_options)
        if self.tie_weights and self.embedding_size == 0:
            checks.fail("tie_weights", "an embedding to tie (embedding_size > 0)", "one-hot input")
        checks.fits_in_memory(self.min_parameters())

    def min_parameters(self) -> int:
        """A lower bound on the parameter count (exact but for the cells' extra gates)."""
        V, E, H = self.vocab_size, self.embedding_size, self.hidden_size
        readout = V * (H + 1) - (V * E if self.tie_weights else 0)
        return V * E + checks.recurrent_parameters(E or V, H, self.num_layers) + readout


class LanguageModel(nn.Module):
    """Predicts the next token at every step.

    Args:
        config: the architecture.
    """

    @checks.refuse_allocation_failure
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        V, E = config.vocab_size, config.embedding_size
        self.embedding = nn.Embedding(V, E) if E else None
        self.rnn = Recurrent(
            config.cell,
            E or V,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            **config.cell_options,
        )
        self.drop = Dropout(config.dropout)  # per stream when the trainer draws so (rnnlab.dropout)
        if config.tie_weights and self.rnn.output_size != E:
            checks.fail("tie_weights", f"embedding_size equal to the last layer's output ({self.rnn.output_size})", E)
        self.readout = nn.Linear(self.rnn.output_size, V)
        if config.tie_weights:
            self.readout.weight = self.embedding.weight  # (V, E): one matrix reads words in and out
        if config.init_range:
            for p in self.parameters():
                nn.init.uniform_(p, -config.init_range, config.init_range)

    def embed(self, ids: Tensor) -> Tensor:
        """Input vectors ``(T, B, E)`` for ids ``(T, B)``."""
        if self.embedding is None:
            return nn.functional.one_hot(ids, self.config.vocab_size).to(self.readout.weight.dtype)
        return self.embedding(ids)

    def forward(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Logits ``(T, B, V)`` for ids ``(T, B)``, and the state after the last step."""
        out, state = self.rnn(self.drop(self.embed(ids)), state)  # (T, B, H)
        return self.readout(self.drop(out)), state

    def init_state(self, batch_size: int) -> State:
        w = self.readout.weight
        return self.rnn.init_state(batch_size, w.device, w.dtype)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def loss_of(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy in nats per token."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
