"""Sequence tagger, many to many: a tag for every token (Huang, Xu & Yu 2015; Lample et al. 2016).

Each token is read as its word embedding (the word lowercased, digits as 0) joined to a
character-level feature: a bidirectional recurrent net over the word's characters, its two final
states, which sees case, prefixes and suffixes, and gives unseen words a useful vector. A
bidirectional recurrent net over the sentence turns these into tag scores per token. The loss is
the cross-entropy of every token summed over the sentence (as the seed notes have it), or, with
``crf``, the negative log-likelihood of the whole tag path under a linear-chain CRF, decoded by
Viterbi.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.cells import NAMES_HELP, check_cell
from rnnlab.cells.named import ResolvesCell, build_options
from rnnlab.configs import check_fields
from rnnlab.layers import Recurrent
from rnnlab.models.crf import CRF


@dataclass
class TaggerConfig(ResolvesCell):
    """Architecture of a tagger; saved in the run's ``config.json`` with the weights."""

    vocab_size: int = 0
    num_chars: int = 0
    num_tags: int = 0
    cell: str = field(default="lstm", metadata={"help": "recurrent cell: " + NAMES_HELP})
    cell_options: dict = field(
        default_factory=dict, metadata={"help": "options of the sentence net's cell as JSON, e.g. '{\"scale\": 0.9}'"}
    )
    hidden_size: int = field(default=200, metadata={"help": "units per direction of the sentence net"})
    num_layers: int = field(default=1, metadata={"help": "stacked layers of the sentence net"})
    embedding_size: int = field(default=100, metadata={"help": "word embedding width"})
    char_embedding_size: int = field(default=25, metadata={"help": "character embedding width; 0 = no characters"})
    char_hidden_size: int = field(default=25, metadata={"help": "units per direction of the character net"})
    dropout: float = field(default=0.5, metadata={"help": "dropout on the token vectors and before the tag scores"})
    crf: bool = field(default=True, metadata={"help": "a CRF output layer with Viterbi decoding (else softmax)"})

    def validate(self) -> None:
        check_fields(self)
        checks.positive_int("vocab_size", self.vocab_size)
        if self.num_tags < 2:
            checks.fail("num_tags", "at least 2 tags", self.num_tags)
        for name in ("hidden_size", "num_layers", "embedding_size"):
            checks.positive_int(name, getattr(self, name))
        if checks.non_negative_int("char_embedding_size", self.char_embedding_size):
            checks.positive_int("num_chars", self.num_chars)
            checks.positive_int("char_hidden_size", self.char_hidden_size)
        checks.probability("dropout", self.dropout)
        check_cell("cell", self.cell, self.cell_options)
        checks.fits_in_memory(self.min_parameters())

    def min_parameters(self) -> int:
        """A lower bound on the parameter count (exact but for the cells' extra gates)."""
        E, H, K, width = self.embedding_size, self.hidden_size, self.num_tags, self.embedding_size
        count = self.vocab_size * E + K * (2 * H + 1) + (K * K if self.crf else 0)
        if self.char_embedding_size:
            C, CH = self.char_embedding_size, self.char_hidden_size
            count += self.num_chars * C + checks.recurrent_parameters(C, CH, 1, 2)
            width += 2 * CH
        return count + checks.recurrent_parameters(width, H, self.num_layers, 2)


class Tagger(nn.Module):
    """Tag scores for a batch of sentences.

    Inputs: word ids ``(T, B)`` (0 pads), lengths ``(B,)``, and the characters of every distinct
    word of the batch: ``char_ids`` ``(L, W)`` (0 pads), ``char_lengths`` ``(W,)`` and
    ``word_index`` ``(T, B)``, the row of each token's word in them.
    """

    @checks.refuse_allocation_failure
    def __init__(self, config: TaggerConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=0)
        width = config.embedding_size
        if config.char_embedding_size:
            self.char_embedding = nn.Embedding(config.num_chars, config.char_embedding_size, padding_idx=0)
            self.char_rnn = Recurrent(
                config.cell,
                config.char_embedding_size,
                config.char_hidden_size,
                bidirectional=True,
                **build_options(config.cell, config.cell_options),
            )
            width += 2 * config.char_hidden_size
        self.rnn = Recurrent(
            config.cell,
            width,
            config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            **config.cell_options,
        )
        self.drop = nn.Dropout(config.dropout)
        self.emit = nn.Linear(self.rnn.output_size, config.num_tags)
        self.crf = CRF(config.num_tags) if config.crf else None

    def char_features(self, char_ids: Tensor, char_lengths: Tensor) -> Tensor:
        """``(W, 2 * char_hidden_size)``: both directions' final states over each word's characters."""
        _, state = self.char_rnn(self.char_embedding(char_ids), lengths=char_lengths)
        return torch.cat([state[0][0], state[0][1]], dim=-1)

    def emissions(self, batch: dict[str, Tensor]) -> Tensor:
        """Tag scores ``(T, B, K)``."""
        x = self.embedding(batch["words"])  # (T, B, E)
        if self.config.char_embedding_size:
            chars = self.char_features(batch["chars"], batch["char_lengths"])  # (W, 2C)
            x = torch.cat([x, chars[batch["word_index"]]], dim=-1)
        out, _ = self.rnn(self.drop(x), lengths=batch["lengths"])  # (T, B, 2H)
        return self.emit(self.drop(out))

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Per sentence, the summed token cross-entropy or the CRF's negative log-likelihood; averaged
        over the batch."""
        scores, mask, tags = self.emissions(batch), batch["mask"], batch["tags"]
        if self.crf is not None:
            return -self.crf.log_likelihood(scores, tags, mask).mean()
        nll = nn.functional.cross_entropy(scores.flatten(0, 1), tags.flatten(), reduction="none")
        return (nll * mask.flatten().to(nll.dtype)).sum() / mask.shape[1]

    @torch.no_grad()
    def predict(self, batch: dict[str, Tensor]) -> list[list[int]]:
        """The tag ids of each sentence (Viterbi with a CRF, else the best tag per token)."""
        scores, mask = self.emissions(batch), batch["mask"]
        if self.crf is not None:
            return self.crf.decode(scores, mask)
        best = scores.argmax(-1).t().tolist()  # (B, T)
        return [row[:n] for row, n in zip(best, batch["lengths"].tolist())]
