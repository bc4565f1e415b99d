"""The Elman and Jordan taggers of Mesnil et al. for slot filling (2013, "Investigation of
recurrent-neural-network architectures and learning methods for spoken language understanding";
2015, IEEE/ACM TASLP 23(3)).

Each word is read with its neighbours: the embeddings of a window of ``window`` words centred on
it, joined (Mesnil's word context window). Where the window reaches past either end of the
sentence it reads a learned padding embedding of its own, never a word of the batch's padding or
of another sentence. One recurrent layer reads the windows, forward only or both ways, and a
softmax per word gives its tag (Mesnil's, with ``crf = False``; else a CRF over the tag scores).

- Elman (1990): the recurrence is over the hidden state, ``h_t = f(U x_t + W h_{t-1} + b)``; any
  registered cell (:class:`rnnlab.layers.Recurrent`).
- Jordan (1986), as Mesnil use it: the recurrence is over the previous step's output distribution,
  ``h_t = f(U x_t + W y_{t-1} + b)``, ``y_t = softmax(V h_t + c)``, with ``y_0 = softmax(s)`` for
  a learned ``s`` (uniform at first). Both directions are their own Jordan net with their own
  ``y``; the backward one reads each sentence reversed within its own length. Bidirectional, the
  two directions' hidden states are joined for a final softmax per word; forward only, ``y_t`` is
  the tag distribution.

The default cell is ``rnn-sigmoid``: Mesnil's hidden layer is a sigmoid. The Jordan net takes the
Elman cells only (``rnn``, ``rnn-tanh``, ``rnn-sigmoid``, ``rnn-relu``, ``rnn-linear``), for
their activation ``f``. Dropout acts on the windows (and, for Elman, before the tag scores).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.cells import make_cell
from rnnlab.cells.base import Cell, State, uniform_
from rnnlab.cells.rnn import ACTIVATIONS, ElmanCell
from rnnlab.engine import unroll
from rnnlab.models.crf import CRF
from rnnlab.models.tagger import TaggerConfig, TagModel, sentence_net


def elman_activation(cell: str, options: dict) -> str | None:
    """The activation of ``cell`` if it is a plain Elman cell (``rnn-sigmoid``, ``rnn-tanh``, ...),
    else ``None``."""
    probe = make_cell(cell, 1, 1, **options)
    return probe.activation if type(probe) is ElmanCell else None


def context_windows(embedded: Tensor, lengths: Tensor, edge: Tensor, window: int) -> Tensor:
    """Each word's window of ``window`` embeddings, joined, from the ``window // 2`` words before it
    to as many after it.

    Args:
        embedded: word embeddings ``(T, B, E)``.
        lengths: words per sentence ``(B,)``.
        edge: the padding embedding ``(E,)``, read wherever the window leaves the sentence.
        window: an odd number of words.

    Returns:
        ``(T, B, window * E)``; rows past a sentence's end are not meaningful (nothing reads them).
    """
    T = embedded.shape[0]
    t = torch.arange(T, device=embedded.device).unsqueeze(1)  # (T, 1)
    lengths = lengths.to(embedded.device).unsqueeze(0)  # (1, B)
    parts = []
    for offset in range(-(window // 2), window // 2 + 1):
        source = t + offset  # (T, 1)
        inside = (source >= 0) & (source < lengths)  # (T, B)
        words = embedded[source.squeeze(1).clamp(0, T - 1)]  # (T, B, E)
        parts.append(torch.where(inside.unsqueeze(2), words, edge))
    return torch.cat(parts, dim=-1)  # (T, B, window * E)


class WindowTagger(TagModel, nn.Module):
    """The word windows both nets read: word embeddings, the padding embedding and the dropout."""

    default_cell = "rnn-sigmoid"
    reads = frozenset({"window", "bidirectional"})

    def __init__(self, config: TaggerConfig) -> None:
        super().__init__()
        self.accept(config)
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=0)
        self.edge = nn.Parameter(torch.randn(config.embedding_size))  # as nn.Embedding's N(0, 1)
        self.drop = nn.Dropout(config.dropout)
        self.crf = CRF(config.num_tags) if config.crf else None
        self.directions = 2 if config.bidirectional else 1

    @staticmethod
    def window_parameters(config: TaggerConfig) -> int:
        """The embeddings' and the CRF's."""
        return (config.vocab_size + 1) * config.embedding_size + (config.num_tags**2 if config.crf else 0)

    def windows(self, batch: dict[str, Tensor]) -> Tensor:
        """The windows ``(T, B, window * E)`` of the batch's words (:func:`context_windows`)."""
        embedded = self.embedding(batch["words"])  # (T, B, E)
        return context_windows(embedded, batch["lengths"], self.edge, self.config.window)


class ElmanTagger(WindowTagger):
    """Elman's recurrence over the windows (``model = "elman"``); any cell, ``num_layers`` stacked."""

    @checks.refuse_allocation_failure
    def __init__(self, config: TaggerConfig) -> None:
        super().__init__(config)
        self.rnn = sentence_net(config, config.window * config.embedding_size)
        self.emit = nn.Linear(self.rnn.output_size, config.num_tags)

    @staticmethod
    def parameter_bound(config: TaggerConfig) -> int:
        directions, H = 2 if config.bidirectional else 1, config.hidden_size
        width = config.window * config.embedding_size
        count = WindowTagger.window_parameters(config) + config.num_tags * (directions * H + 1)
        return count + checks.recurrent_parameters(width, H, config.num_layers, directions)

    def emissions(self, batch: dict[str, Tensor]) -> Tensor:
        """Tag scores ``(T, B, K)``."""
        out, _ = self.rnn(self.drop(self.windows(batch)), lengths=batch["lengths"])  # (T, B, D)
        return self.emit(self.drop(out))


class JordanCell(Cell):
    """One step of a Jordan net: ``h_t = f(U x_t + W y_{t-1} + b)``, ``y_t = softmax(V h_t + c)``.

    The state is ``(h, y)``; the step's output is ``h``. ``V`` and ``c`` are ``readout``, part of
    the recurrence here. :meth:`init_state` starts from ``y_0 = softmax(start)``.

    Args:
        input_size: features of ``x_t``.
        hidden_size: features of ``h_t``.
        num_tags: features of ``y_t``.
        activation: ``f``, a key of :data:`rnnlab.cells.rnn.ACTIVATIONS`.
    """

    def __init__(self, input_size: int, hidden_size: int, num_tags: int, activation: str = "sigmoid") -> None:
        super().__init__(input_size, hidden_size)
        self.num_tags = checks.positive_int("num_tags", num_tags)
        self.activation = checks.choice("activation", activation, tuple(ACTIVATIONS))
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))  # U
        self.bias_ih = nn.Parameter(torch.empty(hidden_size))  # b
        self.weight_hy = nn.Parameter(torch.empty(hidden_size, num_tags))  # W, over y_{t-1}
        self.readout = nn.Linear(hidden_size, num_tags)  # V, c
        self.start = nn.Parameter(torch.empty(num_tags))  # s
        self.reset_parameters()

    @staticmethod
    def parameter_count(input_size: int, hidden_size: int, num_tags: int) -> int:
        return hidden_size * (input_size + 1) + 2 * hidden_size * num_tags + 2 * num_tags

    @property
    def state_spec(self) -> tuple[tuple[tuple[int, ...], torch.dtype | None], ...]:
        return (((self.hidden_size,), None), ((self.num_tags,), None))

    def reset_parameters(self) -> None:
        uniform_(self, self.hidden_size)
        nn.init.zeros_(self.start)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        """``h_0 = 0`` and ``y_0 = softmax(start)`` for every sequence of the batch."""
        h, _ = super().init_state(batch_size, device, dtype)
        y = torch.softmax(self.start.to(device=h.device, dtype=h.dtype), dim=0)  # (K,)
        return h, y.expand(batch_size, -1)

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        pre = nn.functional.linear(x, self.weight_ih, self.bias_ih) + nn.functional.linear(state[1], self.weight_hy)
        h = ACTIVATIONS[self.activation](pre)  # (B, H)
        y = torch.softmax(self.readout(h), dim=-1)  # (B, K)
        return h, (h, y)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, num_tags={self.num_tags}, activation={self.activation!r}"


class JordanTagger(WindowTagger):
    """Jordan's recurrence over the windows (``model = "jordan"``); one layer, an Elman cell's
    activation (see the module docstring for the two directions)."""

    @classmethod
    def check(cls, config: TaggerConfig) -> None:
        if config.num_layers != 1:
            checks.fail("num_layers", "1 for model 'jordan' (its recurrence reads its own output)", config.num_layers)
        if set(config.cell_options) - {"activation"} or elman_activation(config.cell, config.cell_options) is None:
            checks.fail(
                "cell",
                "an Elman cell for model 'jordan' (rnn, rnn-tanh, rnn-sigmoid, rnn-relu, rnn-linear; "
                "only its activation is read)",
                config.cell if not config.cell_options else f"{config.cell} with {config.cell_options}",
            )

    @checks.refuse_allocation_failure
    def __init__(self, config: TaggerConfig) -> None:
        super().__init__(config)
        activation = elman_activation(config.cell, config.cell_options)
        width, H, K = config.window * config.embedding_size, config.hidden_size, config.num_tags
        self.cells = nn.ModuleList(JordanCell(width, H, K, activation) for _ in range(self.directions))
        self.emit = nn.Linear(2 * H, K) if config.bidirectional else None

    @staticmethod
    def parameter_bound(config: TaggerConfig) -> int:
        directions, H, K = 2 if config.bidirectional else 1, config.hidden_size, config.num_tags
        count = directions * JordanCell.parameter_count(config.window * config.embedding_size, H, K)
        return WindowTagger.window_parameters(config) + count + (K * (2 * H + 1) if directions == 2 else 0)

    def hidden(self, batch: dict[str, Tensor]) -> list[Tensor]:
        """Each direction's hidden states ``(T, B, H)`` in the sentence's order, zero on padding."""
        x = self.drop(self.windows(batch))  # (T, B, window * E)
        states = []
        for direction, cell in enumerate(self.cells):
            start = cell.init_state(x.shape[1], x.device, x.dtype)
            states.append(unroll(cell, x, start, batch["lengths"], reverse=direction == 1)[0])
        return states

    def emissions(self, batch: dict[str, Tensor]) -> Tensor:
        """Tag scores ``(T, B, K)``: the logits of ``y_t``, or of the final softmax over both
        directions' hidden states."""
        hidden = self.hidden(batch)
        if self.emit is None:
            return self.cells[0].readout(hidden[0])
        return self.emit(torch.cat(hidden, dim=-1))
