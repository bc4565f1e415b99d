"""Encoder–decoder with attention: a source sentence in, a target sentence out.

The encoder (Sutskever, Vinyals & Le 2014, "Sequence to Sequence Learning with Neural Networks")
reads the source, bidirectional by default (Bahdanau, Cho & Bengio 2015), into states
``h_1 ... h_S``. A bridge maps its final states to the decoder's initial state. The decoder
(:mod:`rnnlab.models.decoder`, shared with the image captioner) is a language model over the
target, conditioned at every step on a context vector, a weighted mean of the source states
(:mod:`rnnlab.models.attention`), through Luong, Pham & Manning's (2015) attentional layer.

With ``attention="none"`` the final encoder state, through the bridge, is all the decoder knows
of the source (Sutskever et al. 2014).

Dropout (as in OpenNMT) also falls on the source embeddings. Ids follow
:mod:`rnnlab.data.symbols`: 0 pads, 1 begins a target, 2 ends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.cells import NAMES_HELP, check_cell
from rnnlab.cells.base import State
from rnnlab.cells.named import GRAPH, PREFIX, resolve
from rnnlab.configs import check_fields
from rnnlab.data.symbols import PAD
from rnnlab.layers import Recurrent
from rnnlab.models.attention import ATTENTIONS, attention_parameters
from rnnlab.models.decoder import AttentionDecoder, DecoderState, Memory, check_ids

ATTENTION_KINDS = ("none", *ATTENTIONS)


@dataclass
class Seq2SeqConfig:
    """Architecture of an encoder–decoder; saved in the run's ``config.json`` with the weights."""

    source_vocab: int = 0
    target_vocab: int = 0
    cell: str = field(default="lstm", metadata={"help": "encoder cell: " + NAMES_HELP})
    decoder_cell: str = field(default="", metadata={"help": "decoder cell ('' = the encoder's)"})
    cell_options: dict = field(
        default_factory=dict, metadata={"help": "options of both cells as JSON, e.g. '{\"scale\": 0.9}'"}
    )
    decoder_cell_options: dict | None = field(
        default=None,
        metadata={"help": "options of the decoder cell as JSON, if not cell_options (a graph decoder's spec)"},
    )
    embedding_size: int = field(default=128, metadata={"help": "source and target embedding width"})
    hidden_size: int = field(default=256, metadata={"help": "units per layer (and direction) of encoder and decoder"})
    num_layers: int = field(default=1, metadata={"help": "stacked layers of the encoder and of the decoder"})
    bidirectional: bool = field(default=True, metadata={"help": "read the source both ways (the encoder only)"})
    attention: str = field(default="additive", metadata={"help": "attention score: " + ", ".join(ATTENTION_KINDS)})
    input_feeding: bool = field(
        default=False, metadata={"help": "feed the last attentional vector into the decoder (Luong 2015; slower)"}
    )
    dropout: float = field(default=0.2, metadata={"help": "dropout on embeddings, between layers, before readout"})
    tie_embeddings: bool = field(
        default=False, metadata={"help": "share the target embedding with the readout (Press & Wolf 2017)"}
    )

    def __post_init__(self) -> None:
        """Read ``graph:SPEC`` cells (:mod:`rnnlab.cells.named`): the encoder's spec goes into
        ``cell_options``, a decoder's of its own into ``decoder_cell_options``."""
        self.cell, self.cell_options = resolve(self.cell, self.cell_options)
        if not isinstance(self.decoder_cell, str) or not isinstance(self.cell_options, dict):
            return  # left to validate
        shared = {k: v for k, v in self.cell_options.items() if k != "spec"}
        if self.decoder_cell.startswith(PREFIX):
            options = shared if self.decoder_cell_options is None else self.decoder_cell_options
            self.decoder_cell, self.decoder_cell_options = resolve(self.decoder_cell, options)
        elif self.decoder_cell not in ("", GRAPH) and self.cell == GRAPH and self.decoder_cell_options is None:
            self.decoder_cell_options = shared  # the encoder's spec is not the decoder's option

    @property
    def target_cell(self) -> str:
        """The decoder's cell name."""
        return self.decoder_cell or self.cell

    @property
    def target_options(self) -> dict:
        """The decoder cell's options."""
        return self.cell_options if self.decoder_cell_options is None else self.decoder_cell_options

    def validate(self) -> None:
        check_fields(self)
        for name in ("source_vocab", "target_vocab", "embedding_size", "hidden_size", "num_layers"):
            checks.positive_int(name, getattr(self, name))
        checks.probability("dropout", self.dropout)
        check_cell("cell", self.cell, self.cell_options)
        if self.decoder_cell:
            check_cell("decoder_cell", self.decoder_cell, self.target_options)
        checks.choice("attention", self.attention, ATTENTION_KINDS)
        if self.attention == "dot" and self.bidirectional:
            checks.fail("attention", "'general' or 'additive' with a bidirectional encoder (twice as wide)", "dot")
        if self.input_feeding and self.attention == "none":
            checks.fail("input_feeding", "an attention to feed (attention other than 'none')", True)
        checks.fits_in_memory(self.min_parameters())

    def min_parameters(self) -> int:
        """A lower bound on the parameter count (exact but for the cells' extra gates and the bridge)."""
        E, H, L = self.embedding_size, self.hidden_size, self.num_layers
        Vs, Vt = self.source_vocab, self.target_vocab
        directions = 2 if self.bidirectional else 1
        memory = directions * H
        count = (Vs + Vt) * E + checks.recurrent_parameters(E, H, L, directions)
        count += checks.recurrent_parameters(E + (H if self.input_feeding else 0), H, L)
        if self.attention != "none":
            count += attention_parameters(self.attention, H, memory, H) + (memory + H) * H
        count += Vt * (H + 1)
        if self.tie_embeddings:
            count += -Vt * H + (H * E if H != E else 0)
        return count


class Bridge(nn.Module):
    """The decoder's initial state from the encoder's final states.

    Per stacked layer, the final states of the two directions are concatenated and mapped by
    ``tanh(W s + b)`` to the decoder's size, one map per entry of the state (``h``, LSTM's ``c``,
    ...) and shared by the layers. A unidirectional encoder whose entry has the decoder's width
    hands it over unchanged (Sutskever et al. 2014). An entry the encoder lacks, or that is not a
    vector of floats (Clockwork's step counter), starts as the decoder cell's zero state.
    """

    def __init__(self, encoder: Recurrent, decoder: Recurrent) -> None:
        super().__init__()
        self.directions, self.num_layers = encoder.num_directions, encoder.num_layers
        source, target = encoder.layers[0].state_spec, decoder.layers[0].state_spec
        self.maps = nn.ModuleDict()
        for k, (shape, dtype) in enumerate(target):
            if k >= len(source) or dtype is not None or source[k][1] is not None:
                continue
            if len(shape) != 1 or len(source[k][0]) != 1:
                continue
            width = self.directions * source[k][0][0]
            if width == shape[0] and self.directions == 1:
                self.maps[str(k)] = nn.Identity()
            else:
                self.maps[str(k)] = nn.Sequential(nn.Linear(width, shape[0]), nn.Tanh())

    def forward(self, finals: State, zero: State) -> State:
        """Map the encoder's finals (one ``(L * dirs, B, n)`` tensor per entry) to the decoder's
        initial state (one ``(L, B, ...)`` tensor per entry), taking the entries it does not map
        from the decoder's zero state ``zero``."""
        B = finals[0].shape[1]
        state = []
        for k, z in enumerate(zero):
            if str(k) not in self.maps:
                state.append(z)
                continue
            s = finals[k].view(self.num_layers, self.directions, B, -1)  # (L, dirs, B, n)
            s = s.transpose(1, 2).reshape(self.num_layers, B, -1)  # (L, B, dirs * n)
            state.append(self.maps[str(k)](s))
        return tuple(state)


class Seq2Seq(AttentionDecoder):
    """Encoder–decoder with attention; see the module docstring.

    Args:
        config: the architecture.
    """

    @checks.refuse_allocation_failure
    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        E, H, L = config.embedding_size, config.hidden_size, config.num_layers
        between = config.dropout if L > 1 else 0.0
        self.source_embedding = nn.Embedding(config.source_vocab, E, padding_idx=PAD)
        self.build_embedding(config.target_vocab, E)
        self.encoder = Recurrent(
            config.cell, E, H, L, bidirectional=config.bidirectional, dropout=between, **config.cell_options
        )
        self.build_decoder(config.target_cell, H, L, config.input_feeding, config.dropout, config.target_options)
        self.bridge = Bridge(self.encoder, self.decoder)
        self.build_readout(self.encoder.output_size, config.attention, config.dropout, config.tie_embeddings)

    # ----------------------------------------------------------------- encoder
    def encode(self, src: Tensor, src_lengths: Tensor) -> Memory:
        """Encode a padded batch of sources.

        Args:
            src: source ids ``(S, B)``, padded with 0 past each length.
            src_lengths: ``(B,)`` lengths, each in ``[1, S]``; padding never changes an encoding.

        Returns:
            The :class:`Memory` the decoder reads.
        """
        check_ids("src", src, self.config.source_vocab)
        S, B = src.shape
        if not isinstance(src_lengths, (Tensor, list, tuple)) or torch.as_tensor(src_lengths).shape != (B,):
            got = tuple(src_lengths.shape) if isinstance(src_lengths, Tensor) else src_lengths
            checks.fail("src_lengths", f"shape ({B},)", got)
        x = self.drop(self.source_embedding(src))  # (S, B, E)
        outputs, finals = self.encoder(x, lengths=src_lengths)  # (S, B, dirs * H)
        lengths = torch.as_tensor(src_lengths).to(src.device)
        mask = torch.arange(S, device=src.device).unsqueeze(1) < lengths.unsqueeze(0)  # (S, B)
        zero = self.decoder.init_state(B, outputs.device, outputs.dtype)
        return self.memory_of(outputs, mask, self.bridge(finals, zero))

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor | None]:
        """Teacher forcing.

        Args:
            src: source ids ``(S, B)``; src_lengths: ``(B,)``.
            tgt_in: decoder inputs ``(T, B)``: ``BOS`` then each target but its last token.

        Returns:
            ``(logits, weights)``: logits ``(T, B, V)`` of the next target token at every step,
            attention weights ``(T, B, S)`` or ``None``.
        """
        memory = self.encode(src, src_lengths)
        logits, _, weights = self.decode(tgt_in, self.start(memory), memory)
        return logits, weights


__all__ = ["Bridge", "DecoderState", "Memory", "Seq2Seq", "Seq2SeqConfig"]
