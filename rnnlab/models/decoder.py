"""The attentional decoder shared by every encoder–decoder: a language model over the output,
conditioned on a memory the encoder made of the input (a source sentence's states, an image's grid).

At every step ``t`` (Luong, Pham & Manning 2015, "Effective Approaches to Attention-based Neural
Machine Translation")::

    h_t  = decoder(y_{t-1}, h_{t-1})                   [y_{t-1}; h~_{t-1}] with input feeding
    c_t  = sum_s a_ts m_s                              a_t = attention(h_t, m_1..S)
    h~_t = tanh(W_c [c_t; h_t])
    p(y_t | y_<t, x) = softmax(W_s h~_t + b_s)

Without attention the decoder's initial state is all it knows of the input, and ``h~_t = h_t``.

Without input feeding the recurrence does not depend on the attention, so teacher forcing runs it
over the whole output in one call (PyTorch's fused kernels, or explicit BPTT for the custom
cells), then attends for all steps at once. Input feeding (Luong et al. 2015, §3.3) feeds
``h~_{t-1}`` into step ``t``, so the decoder runs step by step: the slow path.

Dropout (as in OpenNMT) on the output embeddings, between stacked layers and on ``h~_t`` before
the readout. Tied embeddings share the output embedding with the readout (Press & Wolf 2017),
through a linear map ``hidden_size -> embedding_size`` when they differ.

The incremental API (``start``, ``step``, :class:`Memory` and :class:`DecoderState` with
``index_select``) is what :mod:`rnnlab.decode` drives for greedy decoding, sampling and beam search.
Ids follow :mod:`rnnlab.data.symbols`: 0 pads, 1 begins an output, 2 ends it.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.cells.base import State
from rnnlab.data.symbols import PAD
from rnnlab.layers import Recurrent
from rnnlab.models.attention import make_attention


class Memory(NamedTuple):
    """What the decoder reads of an encoded batch of inputs.

    ``outputs`` ``(S, B, E)``: the encoder's states, one per position (a source token, a cell of an
    image's grid); ``mask`` ``(S, B)``: valid positions; ``keys`` ``(B, S, A)`` and ``values``
    ``(B, S, E)``: the attention's, computed once (``None`` without attention); ``state``: the
    decoder's initial state, one tensor ``(num_layers, B, ...)`` per entry of the decoder cell's state.
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


class AttentionDecoder(nn.Module):
    """Base class of the encoder–decoders: the decoder half, built by :meth:`build_embedding`,
    :meth:`build_decoder` and :meth:`build_readout` in this order.

    A subclass builds its encoder and the decoder's parts, and gives ``encode`` (its inputs to a
    :class:`Memory`); :meth:`start`, :meth:`decode` and :meth:`step` are shared. The decoder's
    modules are attributes of the model itself (``target_embedding``, ``decoder``, ``attention``,
    ``combine``, ``readout``, ...), so the weights keep their names in saved runs.
    """

    vocab_size: int
    hidden_size: int
    input_feeding: bool

    def build_embedding(self, vocab_size: int, embedding_size: int) -> None:
        """The output embedding (the first of the decoder's modules to be built)."""
        self.vocab_size = vocab_size
        self.target_embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=PAD)

    def build_decoder(
        self,
        cell: str,
        hidden_size: int,
        num_layers: int,
        input_feeding: bool = False,
        dropout: float = 0.0,
        cell_options: dict | None = None,
    ) -> None:
        """The recurrence, after :meth:`build_embedding`: a registered ``cell``, stacked
        ``num_layers`` high with ``dropout`` between layers; with ``input_feeding`` it also reads
        the last attentional vector."""
        self.hidden_size, self.input_feeding = hidden_size, input_feeding
        feed = hidden_size if input_feeding else 0
        width = self.target_embedding.embedding_dim + feed
        between = dropout if num_layers > 1 else 0.0
        self.decoder = Recurrent(cell, width, hidden_size, num_layers, dropout=between, **(cell_options or {}))

    def build_readout(self, memory_size: int, attention: str, dropout: float = 0.0, tie: bool = False) -> None:
        """The attention and the readout, last: ``attention`` is a score of
        :data:`rnnlab.models.attention.ATTENTIONS` or ``"none"`` over a memory of width
        ``memory_size``; ``dropout`` falls on the embeddings and before the readout; ``tie`` shares
        the output embedding with the readout.

        The three ``build_*`` steps are separate so that each model builds its own modules between
        them: the order of construction fixes the initial weights of a seed and the order of the
        parameters (which a saved optimizer state follows).
        """
        E, H, V = self.target_embedding.embedding_dim, self.hidden_size, self.vocab_size
        query = self.decoder.output_size
        if attention == "none":
            self.attention, self.combine, width = None, None, query
        else:
            self.attention = make_attention(attention, query, memory_size, H)
            self.combine = nn.Linear(memory_size + query, H, bias=False)  # W_c
            width = H
        self.drop = nn.Dropout(dropout)
        if tie:
            self.project = nn.Linear(width, E, bias=False) if width != E else nn.Identity()
            self.readout = nn.Linear(E, V)
            self.readout.weight = self.target_embedding.weight  # (V, E): one matrix reads words in and out
        else:
            self.project = nn.Identity()
            self.readout = nn.Linear(width, V)

    def memory_of(self, outputs: Tensor, mask: Tensor, state: State) -> Memory:
        """The :class:`Memory` of encoder states ``outputs`` ``(S, B, E)`` (the attention's keys
        computed once), their ``mask`` ``(S, B)`` and the decoder's initial ``state``."""
        keys = values = None
        if self.attention is not None:
            keys, values = self.attention.prepare(outputs)  # (B, S, A), (B, S, E)
        return Memory(outputs, mask, keys, values, state)

    def start(self, memory: Memory) -> DecoderState:
        """The decoder's state before its first input (``BOS``)."""
        feed = None
        if self.input_feeding:
            h = memory.state[0]
            feed = h.new_zeros(h.shape[1], self.hidden_size)  # (B, H): h~_0 = 0
        return DecoderState(memory.state, feed)

    def decode(self, tgt_in: Tensor, state: DecoderState, memory: Memory) -> tuple[Tensor, DecoderState, Tensor | None]:
        """Run the decoder over ``tgt_in`` from ``state``: teacher forcing for a whole output, or one step.

        Args:
            tgt_in: output ids ``(T, B)`` (``BOS`` then the output without its last token).
            state: from :meth:`start` or a previous call.
            memory: from ``encode``.

        Returns:
            ``(logits, state, weights)``: logits ``(T, B, V)``, the state after the last step,
            attention weights ``(T, B, S)`` (``None`` without attention).
        """
        check_ids("tgt_in", tgt_in, self.vocab_size)
        if tgt_in.shape[1] != memory.mask.shape[1]:
            checks.fail("tgt_in", f"{memory.mask.shape[1]} columns like the input batch", tuple(tgt_in.shape))
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
            attended = torch.cat(steps) if steps else x.new_zeros(0, x.shape[1], self.hidden_size)
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
            memory: from ``encode``, with the same rows as ``state``.

        Returns:
            ``(logits, state, weights)``: logits ``(B, V)``, the next state, weights ``(B, S)`` or ``None``.
        """
        logits, state, weights = self.decode(tokens.unsqueeze(0), state, memory)
        return logits[0], state, None if weights is None else weights[0]


def check_ids(name: str, ids: Tensor, vocab: int) -> None:
    """Refuse anything but a 2-D int64 tensor of ids in ``[0, vocab)``."""
    if not isinstance(ids, Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
        got = (ids.dtype, tuple(ids.shape)) if isinstance(ids, Tensor) else type(ids).__name__
        checks.fail(name, "a 2-D (T, B) tensor of int64 ids", got)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
        checks.fail(name, f"ids in [0, {vocab})", f"[{int(ids.min())}, {int(ids.max())}]")
