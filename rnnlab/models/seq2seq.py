"""Encoder–decoder with attention: a source sentence in, a target sentence out.

The encoder (Sutskever, Vinyals & Le 2014, "Sequence to Sequence Learning with Neural Networks")
reads the source, bidirectional by default (Bahdanau, Cho & Bengio 2015), into states
``h_1 ... h_S``. A bridge maps its final states to the decoder's initial state. The decoder is a
language model over the target, conditioned at every step ``t`` on a context vector ``c_t``, a
weighted mean of the source states (:mod:`rnnlab.models.attention`), through Luong, Pham &
Manning's (2015) attentional layer::

    h_t  = decoder(y_{t-1}, h_{t-1})                   [y_{t-1}; h~_{t-1}] with input feeding
    c_t  = sum_s a_ts h_s                              a_t = attention(h_t, h_1..S)
    h~_t = tanh(W_c [c_t; h_t])
    p(y_t | y_<t, x) = softmax(W_s h~_t + b_s)

With ``attention="none"`` the final encoder state, through the bridge, is all the decoder knows
of the source (Sutskever et al. 2014), and ``h~_t = h_t``.

Speed: without input feeding the decoder's recurrence does not depend on the attention, so
teacher forcing runs it over the whole target in one call (PyTorch's fused kernels, or explicit
BPTT for the custom cells), then attends for all steps at once. Input feeding (Luong et al. 2015,
§3.3) feeds ``h~_{t-1}`` into step ``t``, so the decoder runs step by step: the slow path.

Dropout (as in OpenNMT): on the source and target embeddings, between stacked layers, and on
``h~_t`` before the readout. ``tie_embeddings`` shares the target embedding with the readout
(Press & Wolf 2017), through a linear map ``hidden_size -> embedding_size`` when they differ.

Ids follow :mod:`rnnlab.data.symbols`: 0 pads, 1 begins a target, 2 ends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.cells import CELLS
from rnnlab.cells.base import State
from rnnlab.configs import check_fields
from rnnlab.data.symbols import PAD
from rnnlab.layers import Recurrent
from rnnlab.models.attention import ATTENTIONS, attention_parameters, make_attention

ATTENTION_KINDS = ("none", *ATTENTIONS)


@dataclass
class Seq2SeqConfig:
    """Architecture of an encoder–decoder; saved in the run's ``config.json`` with the weights."""

    source_vocab: int = 0
    target_vocab: int = 0
    cell: str = field(default="lstm", metadata={"help": "encoder cell: " + ", ".join(CELLS)})
    decoder_cell: str = field(default="", metadata={"help": "decoder cell ('' = the encoder's)"})
    cell_options: dict = field(
        default_factory=dict, metadata={"help": "options of both cells as JSON, e.g. '{\"scale\": 0.9}'"}
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

    @property
    def target_cell(self) -> str:
        """The decoder's cell name."""
        return self.decoder_cell or self.cell

    def validate(self) -> None:
        check_fields(self)
        for name in ("source_vocab", "target_vocab", "embedding_size", "hidden_size", "num_layers"):
            checks.positive_int(name, getattr(self, name))
        checks.probability("dropout", self.dropout)
        for name in ("cell", "decoder_cell"):
            if getattr(self, name) and getattr(self, name) not in CELLS:
                checks.fail(name, "one of " + ", ".join(sorted(CELLS)), getattr(self, name))
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


class Memory(NamedTuple):
    """What the decoder reads of an encoded batch of sources.

    ``outputs`` ``(S, B, E)``: the encoder's last layer; ``mask`` ``(S, B)``: valid positions;
    ``keys`` ``(B, S, A)`` and ``values`` ``(B, S, E)``: the attention's, computed once (``None``
    without attention); ``state``: the decoder's initial state from the bridge, one tensor
    ``(num_layers, B, ...)`` per entry of the decoder cell's state.
    """

    outputs: Tensor
    mask: Tensor
    keys: Tensor | None
    values: Tensor | None
    state: State

    def index_select(self, index: Tensor) -> Memory:
        """The memory of rows ``index`` ``(B',)`` of the batch (repeat for beams, reorder, drop)."""
        index = index.to(self.outputs.device)
        return Memory(
            self.outputs.index_select(1, index),
            self.mask.index_select(1, index),
            None if self.keys is None else self.keys.index_select(0, index),
            None if self.values is None else self.values.index_select(0, index),
            tuple(s.index_select(1, index) for s in self.state),
        )


class DecoderState(NamedTuple):
    """The decoder's state between steps: the recurrent state (one ``(num_layers, B, ...)`` tensor
    per entry) and, with input feeding, the last attentional vector ``h~`` ``(B, H)``."""

    rnn: State
    feed: Tensor | None

    def index_select(self, index: Tensor) -> DecoderState:
        """The state of rows ``index`` ``(B',)`` of the batch."""
        index = index.to(self.rnn[0].device)
        feed = None if self.feed is None else self.feed.index_select(0, index)
        return DecoderState(tuple(s.index_select(1, index) for s in self.rnn), feed)


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


class Seq2Seq(nn.Module):
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
        self.target_embedding = nn.Embedding(config.target_vocab, E, padding_idx=PAD)
        self.encoder = Recurrent(
            config.cell, E, H, L, bidirectional=config.bidirectional, dropout=between, **config.cell_options
        )
        feed = H if config.input_feeding else 0
        self.decoder = Recurrent(config.target_cell, E + feed, H, L, dropout=between, **config.cell_options)
        self.bridge = Bridge(self.encoder, self.decoder)
        query, memory = self.decoder.output_size, self.encoder.output_size
        if config.attention == "none":
            self.attention, self.combine, width = None, None, query
        else:
            self.attention = make_attention(config.attention, query, memory, H)
            self.combine = nn.Linear(memory + query, H, bias=False)  # W_c
            width = H
        self.drop = nn.Dropout(config.dropout)
        if config.tie_embeddings:
            self.project = nn.Linear(width, E, bias=False) if width != E else nn.Identity()
            self.readout = nn.Linear(E, config.target_vocab)
            self.readout.weight = self.target_embedding.weight  # (V, E): one matrix reads words in and out
        else:
            self.project = nn.Identity()
            self.readout = nn.Linear(width, config.target_vocab)

    # ----------------------------------------------------------------- encoder
    def encode(self, src: Tensor, src_lengths: Tensor) -> Memory:
        """Encode a padded batch of sources.

        Args:
            src: source ids ``(S, B)``, padded with 0 past each length.
            src_lengths: ``(B,)`` lengths, each in ``[1, S]``; padding never changes an encoding.

        Returns:
            The :class:`Memory` the decoder reads.
        """
        _check_ids("src", src, self.config.source_vocab)
        S, B = src.shape
        x = self.drop(self.source_embedding(src))  # (S, B, E)
        outputs, finals = self.encoder(x, lengths=src_lengths)  # (S, B, dirs * H)
        lengths = torch.as_tensor(src_lengths).to(src.device)
        mask = torch.arange(S, device=src.device).unsqueeze(1) < lengths.unsqueeze(0)  # (S, B)
        keys = values = None
        if self.attention is not None:
            keys, values = self.attention.prepare(outputs)  # (B, S, A), (B, S, E)
        zero = self.decoder.init_state(B, outputs.device, outputs.dtype)
        return Memory(outputs, mask, keys, values, self.bridge(finals, zero))

    # ----------------------------------------------------------------- decoder
    def start(self, memory: Memory) -> DecoderState:
        """The decoder's state before its first input (``BOS``)."""
        feed = None
        if self.config.input_feeding:
            h = memory.state[0]
            feed = h.new_zeros(h.shape[1], self.config.hidden_size)  # (B, H): h~_0 = 0
        return DecoderState(memory.state, feed)

    def decode(self, tgt_in: Tensor, state: DecoderState, memory: Memory) -> tuple[Tensor, DecoderState, Tensor | None]:
        """Run the decoder over ``tgt_in`` from ``state``: teacher forcing for a whole target, or one step.

        Args:
            tgt_in: target ids ``(T, B)`` (``BOS`` then the target without its last token).
            state: from :meth:`start` or a previous call.
            memory: from :meth:`encode`.

        Returns:
            ``(logits, state, weights)``: logits ``(T, B, V)``, the state after the last step,
            attention weights ``(T, B, S)`` (``None`` without attention).
        """
        _check_ids("tgt_in", tgt_in, self.config.target_vocab)
        if tgt_in.shape[1] != memory.mask.shape[1]:
            checks.fail("tgt_in", f"{memory.mask.shape[1]} columns like the source batch", tuple(tgt_in.shape))
        x = self.drop(self.target_embedding(tgt_in))  # (T, B, E)
        if state.feed is None:
            out, rnn = self.decoder(x, state.rnn)  # (T, B, H): one call, the fast paths
            attended, weights = self._attend(out, memory)  # (T, B, H), (T, B, S)
            feed = None
        else:  # input feeding: step t needs h~_{t-1}
            rnn, feed, steps, step_weights = state.rnn, state.feed, [], []
            for t in range(x.shape[0]):
                out, rnn = self.decoder(torch.cat([x[t], feed], dim=-1).unsqueeze(0), rnn)  # (1, B, H)
                a, w = self._attend(out, memory)
                feed = a[0]  # (B, H)
                steps.append(a)
                step_weights.append(w)
            attended = torch.cat(steps) if steps else x.new_zeros(0, x.shape[1], self.config.hidden_size)
            weights = torch.cat(step_weights) if steps else x.new_zeros(0, x.shape[1], memory.mask.shape[0])
        logits = self.readout(self.project(self.drop(attended)))  # (T, B, V)
        return logits, DecoderState(rnn, feed), weights

    def _attend(self, out: Tensor, memory: Memory) -> tuple[Tensor, Tensor | None]:
        """``h~ = tanh(W_c [c; h])`` ``(T, B, H)`` and the weights ``(T, B, S)``; ``h`` itself without attention."""
        if self.attention is None:
            return out, None
        context, weights = self.attention(out, memory.keys, memory.values, memory.mask)  # (T, B, E), (T, B, S)
        return torch.tanh(self.combine(torch.cat([context, out], dim=-1))), weights

    def step(self, tokens: Tensor, state: DecoderState, memory: Memory) -> tuple[Tensor, DecoderState, Tensor | None]:
        """One decoder step for search.

        Args:
            tokens: the previous token of every row ``(B,)`` (``BOS`` first).
            state: from :meth:`start` or the previous step.
            memory: from :meth:`encode`, with the same rows as ``state``.

        Returns:
            ``(logits, state, weights)``: logits ``(B, V)``, the next state, weights ``(B, S)`` or ``None``.
        """
        logits, state, weights = self.decode(tokens.unsqueeze(0), state, memory)
        return logits[0], state, None if weights is None else weights[0]

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


def _check_ids(name: str, ids: Tensor, vocab: int) -> None:
    if not isinstance(ids, Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
        got = (ids.dtype, tuple(ids.shape)) if isinstance(ids, Tensor) else type(ids).__name__
        checks.fail(name, "a 2-D (T, B) tensor of int64 ids", got)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
        checks.fail(name, f"ids in [0, {vocab})", f"[{int(ids.min())}, {int(ids.max())}]")
