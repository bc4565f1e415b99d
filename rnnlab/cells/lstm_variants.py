"""LSTM variants: peephole connections, coupled input-forget gate, layer normalisation.

Peephole LSTM (Gers & Schmidhuber 2000, "Recurrent nets that time and count"): the gates also
see the cell through diagonal weights ``p``::

    i = sigm(W_i x + U_i h + p_i * c + b_i)        f = sigm(W_f x + U_f h + p_f * c + b_f)
    c' = f * c + i * tanh(W_g x + U_g h + b_g)
    o = sigm(W_o x + U_o h + p_o * c' + b_o)       h' = o * tanh(c')

CIFG (coupled input and forget gate; Greff et al. 2017, "LSTM: A Search Space Odyssey"):
``f = 1 - i``, so gates ``i, g, o`` and ``c' = (1 - i) * c + i * g``.

Layer-normalised LSTM (Ba, Kiros & Hinton 2016, "Layer Normalization"), normalising the input and
recurrent contributions to all gates and the cell before its output non-linearity::

    gates = LN(W x; a_x, b_x) + LN(U h; a_h, b_h) + b
    c' = f * c + i * g                              h' = o * tanh(LN(c'; a_c, b_c))

All gate orders follow PyTorch (``i, f, g, o``); the forget-gate bias starts at ``forget_bias``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.bptt.lnlstm import layer_norm_lstm_sequence
from rnnlab.bptt.lstm import cifg_lstm_sequence, peephole_lstm_sequence
from rnnlab.cells.base import Cell, State, gate_params, gate_preactivations, uniform_
from rnnlab.cells.gates import record


class _LSTMFamily(Cell):
    gates = 4
    gate_names = ("i", "f", "g", "o")

    def __init__(self, input_size, hidden_size, bias=True, forget_bias: float | None = 1.0, device=None, dtype=None):
        super().__init__(input_size, hidden_size)
        self.bias, self.forget_bias = bias, forget_bias
        self.factory = {"device": device, "dtype": dtype}
        gate_params(self, input_size, hidden_size, self.gates, bias, self.factory)

    @property
    def state_spec(self):
        return (((self.hidden_size,), None), ((self.hidden_size,), None))

    def reset_parameters(self) -> None:
        uniform_(self, self.hidden_size)
        H = self.hidden_size
        if self.bias and self.forget_bias is not None and self.gates == 4:
            with torch.no_grad():
                self.bias_ih[H : 2 * H].fill_(self.forget_bias)
                self.bias_hh[H : 2 * H].zero_()


class PeepholeLSTMCell(_LSTMFamily):
    """LSTM with peephole connections; state ``(h, c)``."""

    bptt_sequence = peephole_lstm_sequence

    def __init__(self, input_size, hidden_size, bias=True, forget_bias: float | None = 1.0, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, forget_bias, device, dtype)
        self.weight_peep = nn.Parameter(torch.empty(3, hidden_size, **self.factory))  # p_i, p_f, p_o
        self.reset_parameters()

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = state[0], state[1]
        gi, gh = gate_preactivations(self, x, h)
        i, f, g, o = (gi + gh).chunk(4, 1)
        p_i, p_f, p_o = self.weight_peep
        i, f = torch.sigmoid(i + p_i * c), torch.sigmoid(f + p_f * c)
        c = f * c + i * torch.tanh(g)
        o = torch.sigmoid(o + p_o * c)
        record(self, i=i, f=f, o=o)
        h = o * torch.tanh(c)
        return h, (h, c)


class CIFGLSTMCell(_LSTMFamily):
    """LSTM whose forget gate is one minus its input gate; state ``(h, c)``."""

    bptt_sequence = cifg_lstm_sequence
    gates = 3
    gate_names = ("i", "g", "o")

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, None, device, dtype)
        self.reset_parameters()

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = state[0], state[1]
        gi, gh = gate_preactivations(self, x, h)
        i, g, o = (gi + gh).chunk(3, 1)
        i, o = torch.sigmoid(i), torch.sigmoid(o)
        c = c + i * (torch.tanh(g) - c)  # == (1 - i) * c + i * g
        record(self, i=i, o=o)
        h = o * torch.tanh(c)
        return h, (h, c)


class LayerNormLSTMCell(_LSTMFamily):
    """Layer-normalised LSTM; state ``(h, c)``.

    Args:
        eps: the layer normalisation's epsilon.
    """

    bptt_sequence = layer_norm_lstm_sequence

    def __init__(
        self, input_size, hidden_size, bias=True, forget_bias: float | None = 1.0, eps=1e-5, device=None, dtype=None
    ):
        # the normalisations' shifts are the biases: LN(W x) carries b (and the forget bias), LN(U h) none
        super().__init__(input_size, hidden_size, False, forget_bias, device, dtype)
        self.bias, self.eps = bias, eps
        self.ln_ih = nn.LayerNorm(4 * hidden_size, eps=eps, bias=bias, **self.factory)
        self.ln_hh = nn.LayerNorm(4 * hidden_size, eps=eps, bias=False, **self.factory)
        self.ln_c = nn.LayerNorm(hidden_size, eps=eps, **self.factory)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / self.hidden_size**0.5
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.weight_hh, -bound, bound)
        for ln in (self.ln_ih, self.ln_hh, self.ln_c):
            ln.reset_parameters()  # gains 1, shifts 0
        if self.bias and self.forget_bias is not None:
            H = self.hidden_size
            with torch.no_grad():
                self.ln_ih.bias[H : 2 * H].fill_(self.forget_bias)

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = state[0], state[1]
        gates = self.ln_ih(nn.functional.linear(x, self.weight_ih)) + self.ln_hh(
            nn.functional.linear(h, self.weight_hh)
        )
        i, f, g, o = gates.chunk(4, 1)
        i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
        c = f * c + i * torch.tanh(g)
        record(self, i=i, f=f, o=o)
        h = o * torch.tanh(self.ln_c(c))
        return h, (h, c)
