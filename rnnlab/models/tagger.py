"""Sequence tagger, many to many: a tag for every token (Huang, Xu & Yu 2015; Lample et al. 2016).

Each token is read as its word embedding (the word lowercased, digits as 0) joined to a
character-level feature: a bidirectional recurrent net over the word's characters, its two final
states, which sees case, prefixes and suffixes, and gives unseen words a useful vector. A
bidirectional recurrent net over the sentence turns these into tag scores per token. The loss is
the cross-entropy of every token summed over the sentence (as the seed notes have it), or, with
``crf``, the negative log-likelihood of the whole tag path under a linear-chain CRF, decoded by
Viterbi.

``TaggerConfig`` also describes the other tagger models (``model``): the Elman and Jordan nets of
:mod:`rnnlab.models.slot_rnn` and the joint slot and intent model of :mod:`rnnlab.models.joint`,
built by :func:`rnnlab.models.taggers.build_tagger`. :class:`TagModel` is the interface they share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

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
    cell: str = field(
        default="",
        metadata={
            "help": "recurrent cell: " + NAMES_HELP + " (default: the model's, lstm for bilstm and joint, "
            "rnn-sigmoid for elman and jordan)"
        },
    )
    cell_options: dict = field(
        default_factory=dict, metadata={"help": "options of the sentence net's cell as JSON, e.g. '{\"scale\": 0.9}'"}
    )
    hidden_size: int = field(default=200, metadata={"help": "units per direction of the sentence net"})
    num_layers: int = field(default=1, metadata={"help": "stacked layers of the sentence net (jordan: 1)"})
    embedding_size: int = field(default=100, metadata={"help": "word embedding width"})
    char_embedding_size: int = field(
        default=25, metadata={"help": "character embedding width; 0 = no characters (bilstm and joint)"}
    )
    char_hidden_size: int = field(default=25, metadata={"help": "units per direction of the character net"})
    dropout: float = field(default=0.5, metadata={"help": "dropout on the token vectors and before the tag scores"})
    crf: bool = field(
        default=True,
        metadata={"help": "a CRF output layer with Viterbi decoding, else a softmax per word (every model)"},
    )
    model: str = field(
        default="bilstm",
        metadata={
            "help": "bilstm (with characters, Lample et al. 2016), elman or jordan (a word window, Mesnil et al. "
            "2015), joint (slots and the sentence's intent, Liu & Lane 2016)"
        },
    )
    window: int = field(
        default=1, metadata={"help": "elman, jordan: read each word with its neighbours, a window of this many (odd)"}
    )
    bidirectional: bool = field(
        default=True, metadata={"help": "elman, jordan, joint: read each sentence both ways (bilstm always does)"}
    )
    num_intents: int = field(default=0, metadata={"help": "intents of the sentences, from the data (joint)"})
    pooling: str = field(
        default="last",
        metadata={"help": "joint: the intent reads the final states (last) or attends over the words (attention)"},
    )
    intent_weight: float = field(default=1.0, metadata={"help": "joint: weight of the intent cross-entropy"})
    slot_weight: float = field(default=1.0, metadata={"help": "joint: weight of the slot loss"})

    def __post_init__(self) -> None:
        kind = self._kind()
        if self.cell == "" and kind is not None:  # no cell named: the model's own
            self.cell = kind.default_cell
        super().__post_init__()

    def _kind(self) -> type[TagModel] | None:
        from rnnlab.models.taggers import TAGGERS  # the models import this module

        return TAGGERS.get(self.model) if isinstance(self.model, str) else None

    def fixes(self, size: str) -> bool:
        """Whether the data fix ``size`` of this model (``num_intents`` only with an intent head)."""
        return size != "num_intents" or self.reads(size)

    def reads(self, option: str) -> bool:
        """Whether the model reads ``option``, one of :data:`OPTIONS` (``chars``: reads characters)."""
        kind = self._kind()
        return kind is not None and option in kind.reads

    def validate(self) -> None:
        check_fields(self)
        from rnnlab.models.taggers import TAGGERS

        checks.choice("model", self.model, tuple(TAGGERS))
        checks.positive_int("vocab_size", self.vocab_size)
        if self.num_tags < 2:
            checks.fail("num_tags", "at least 2 tags", self.num_tags)
        for name in ("hidden_size", "num_layers", "embedding_size"):
            checks.positive_int(name, getattr(self, name))
        checks.non_negative_int("char_hidden_size", self.char_hidden_size)  # checked where unused too
        if checks.non_negative_int("char_embedding_size", self.char_embedding_size) and self.reads("chars"):
            checks.positive_int("num_chars", self.num_chars)
            checks.positive_int("char_hidden_size", self.char_hidden_size)
        checks.probability("dropout", self.dropout)
        check_cell("cell", self.cell, self.cell_options)
        if checks.positive_int("window", self.window) % 2 == 0:
            checks.fail("window", "an odd number of words (the word in the middle)", self.window)
        checks.non_negative_int("num_intents", self.num_intents)
        checks.choice("pooling", self.pooling, POOLINGS)
        checks.non_negative("intent_weight", self.intent_weight)
        checks.non_negative("slot_weight", self.slot_weight)
        for name in (n for n in OPTIONS if n not in _DEFAULT_ON and not self.reads(n)):
            default = TaggerConfig.__dataclass_fields__[name].default
            if getattr(self, name) != default:
                checks.fail(name, f"{default!r}: model {self.model!r} does not read it", getattr(self, name))
        self._kind().check(self)
        checks.fits_in_memory(self.min_parameters())

    def min_parameters(self) -> int:
        """A lower bound on the parameter count (exact but for the cells' extra gates)."""
        return self._kind().parameter_bound(self)


#: the options only some models read (see :attr:`TagModel.reads`); a model refuses a value other
#: than the default of those it does not read, but for ``chars``, on by default, which it ignores
OPTIONS = ("chars", "window", "bidirectional", "num_intents", "pooling", "intent_weight", "slot_weight")
_DEFAULT_ON = ("chars",)
POOLINGS = ("last", "attention")


def token_nll(scores: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
    """The cross-entropy of every valid token summed per sentence, averaged over the batch.

    Args:
        scores: tag scores ``(T, B, K)``.
        tags: gold tags ``(T, B)`` int64 (anything on padding).
        mask: ``(T, B)``, true on valid tokens.
    """
    nll = nn.functional.cross_entropy(scores.flatten(0, 1), tags.flatten(), reduction="none")
    return (nll * mask.flatten().to(nll.dtype)).sum() / mask.shape[1]


def sentence_net(config: TaggerConfig, input_size: int) -> Recurrent:
    """The recurrent net over a sentence's word vectors (``input_size`` each): ``config.cell``,
    stacked ``num_layers`` (dropout between them), one or both directions."""
    return Recurrent(
        config.cell,
        input_size,
        config.hidden_size,
        num_layers=config.num_layers,
        bidirectional=config.bidirectional,
        dropout=config.dropout if config.num_layers > 1 else 0.0,
        **config.cell_options,
    )


class TagModel:
    """What every tagger model shares: the loss and the tags from its ``emissions(batch)`` (``(T, B,
    K)``) and its ``crf`` (a :class:`CRF` or ``None``), and the class facts its config reads.

    Class attributes: ``default_cell`` (the cell when the config names none), ``reads`` (the
    :data:`OPTIONS` it reads), ``has_intent`` (whether it also classifies the sentence).
    """

    default_cell: ClassVar[str] = "lstm"
    reads: ClassVar[frozenset[str]] = frozenset()
    has_intent: bool = False
    crf: CRF | None

    @classmethod
    def check(cls, config: TaggerConfig) -> None:
        """Refuse what this model cannot build beyond :meth:`TaggerConfig.validate`'s checks."""

    @staticmethod
    def parameter_bound(config: TaggerConfig) -> int:
        """A lower bound on the parameter count of this model for ``config``."""
        raise NotImplementedError

    def accept(self, config: TaggerConfig) -> None:
        """Check ``config`` and keep it as ``self.config``; a config of another model is refused
        (:func:`rnnlab.models.taggers.build_tagger` builds the one it names)."""
        config.validate()
        if config._kind() is not type(self):
            checks.fail("model", f"the model {type(self).__name__} builds (build_tagger builds any)", config.model)
        self.config = config

    def emissions(self, batch: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError

    def slot_loss(self, scores: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """Per sentence, the summed token cross-entropy or the CRF's negative log-likelihood of the
        gold ``batch["tags"]`` under ``scores`` ``(T, B, K)``; averaged over the batch."""
        if self.crf is not None:
            return -self.crf.log_likelihood(scores, batch["tags"], batch["mask"]).mean()
        return token_nll(scores, batch["tags"], batch["mask"])

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """The slot loss of a batch with ``tags`` (:meth:`slot_loss`)."""
        return self.slot_loss(self.emissions(batch), batch)

    @torch.no_grad()
    def predict(self, batch: dict[str, Tensor]) -> list[list[int]]:
        """The tag ids of each sentence (Viterbi with a CRF, else the best tag per token)."""
        return self.decode(self.emissions(batch), batch)

    def decode(self, scores: Tensor, batch: dict[str, Tensor]) -> list[list[int]]:
        """The tag ids of each sentence under its tag scores ``(T, B, K)``."""
        if self.crf is not None:
            return self.crf.decode(scores, batch["mask"])
        best = scores.argmax(-1).t().tolist()  # (B, T)
        return [row[:n] for row, n in zip(best, batch["lengths"].tolist())]


class Tagger(TagModel, nn.Module):
    """Tag scores for a batch of sentences (``model = "bilstm"``).

    Inputs: word ids ``(T, B)`` (0 pads), lengths ``(B,)``, and the characters of every distinct
    word of the batch: ``char_ids`` ``(L, W)`` (0 pads), ``char_lengths`` ``(W,)`` and
    ``word_index`` ``(T, B)``, the row of each token's word in them.
    """

    reads = frozenset({"chars"})

    @checks.refuse_allocation_failure
    def __init__(self, config: TaggerConfig) -> None:
        super().__init__()
        self.accept(config)
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
        self.rnn = sentence_net(config, width)
        self.drop = nn.Dropout(config.dropout)
        self.emit = nn.Linear(self.rnn.output_size, config.num_tags)
        self.crf = CRF(config.num_tags) if config.crf else None

    @staticmethod
    def parameter_bound(config: TaggerConfig) -> int:
        E, H, K, width = config.embedding_size, config.hidden_size, config.num_tags, config.embedding_size
        directions = 2 if config.bidirectional else 1
        count = config.vocab_size * E + K * (directions * H + 1)
        count += K * K if config.crf else 0
        if config.char_embedding_size:
            C, CH = config.char_embedding_size, config.char_hidden_size
            count += config.num_chars * C + checks.recurrent_parameters(C, CH, 1, 2)
            width += 2 * CH
        return count + checks.recurrent_parameters(width, H, config.num_layers, directions)

    def char_features(self, char_ids: Tensor, char_lengths: Tensor) -> Tensor:
        """``(W, 2 * char_hidden_size)``: both directions' final states over each word's characters."""
        _, state = self.char_rnn(self.char_embedding(char_ids), lengths=char_lengths)
        return torch.cat([state[0][0], state[0][1]], dim=-1)

    def features(self, batch: dict[str, Tensor]) -> Tensor:
        """The sentence net's outputs ``(T, B, directions * H)``, zero on padding."""
        x = self.embedding(batch["words"])  # (T, B, E)
        if self.config.char_embedding_size:
            chars = self.char_features(batch["chars"], batch["char_lengths"])  # (W, 2C)
            x = torch.cat([x, chars[batch["word_index"]]], dim=-1)
        out, _ = self.rnn(self.drop(x), lengths=batch["lengths"])  # (T, B, 2H)
        return out

    def emissions(self, batch: dict[str, Tensor]) -> Tensor:
        """Tag scores ``(T, B, K)``."""
        return self.emit(self.drop(self.features(batch)))
