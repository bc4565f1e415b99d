"""Long short-term memory.

With forget gate (Gers, Schmidhuber & Cummins 2000), in PyTorch's gate order ``i, f, g, o``::

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      input gate
    f = sigmoid(W_if x + b_if + W_hf h + b_hf)      forget gate
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)         candidate
    o = sigmoid(W_io x + b_io + W_ho h + b_ho)      output gate
    c' = f * c + i * g
    h' = o * tanh(c')

The 1997 original (Hochreiter & Schmidhuber) has no forget gate: ``c' = c + i * g``, the
"constant error carousel", with gates ``i, g, o``.

The forget-gate bias starts at ``forget_bias`` (default 1.0; Gers et al. 2000, Jozefowicz et al.
2015), so that early in training the cell remembers by default. It is put on ``bias_ih`` with
``bias_hh`` zero on that slice; ``None`` keeps PyTorch's uniform initialisation.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.bptt.lstm import lstm_sequence
from rnnlab.cells.base import Cell, State, gate_params, gate_preactivations, uniform_
from rnnlab.cells.gates import record


class LSTMCell(Cell):
    """LSTM step; state ``(h, c)``.

    Args:
        input_size: features of ``x_t``.
        hidden_size: features of ``h`` and ``c``.
        bias: whether to learn ``b_ih`` and ``b_hh``.
        forget_bias: initial value of the forget-gate bias, or ``None`` for PyTorch's default.
        forget_gate: ``False`` gives the 1997 LSTM without a forget gate.
    """

    bptt_sequence = lstm_sequence

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        forget_bias: float | None = 1.0,
        forget_gate: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(input_size, hidden_size)
        self.bias = bias
        self.forget_gate = forget_gate
        self.forget_bias = forget_bias if forget_gate else None
        self.gates = 4 if forget_gate else 3
        self.gate_names = ("i", "f", "g", "o") if forget_gate else ("i", "g", "o")
        gate_params(self, input_size, hidden_size, self.gates, bias, {"device": device, "dtype": dtype})
        self.reset_parameters()

    @property
    def state_spec(self):
        return (((self.hidden_size,), None), ((self.hidden_size,), None))

    @property
    def fused_mode(self) -> str | None:
        return "LSTM" if self.forget_gate else None

    def reset_parameters(self) -> None:
        uniform_(self, self.hidden_size)
        if self.bias and self.forget_bias is not None:
            H = self.hidden_size
            with torch.no_grad():
                self.bias_ih[H : 2 * H].fill_(self.forget_bias)
                self.bias_hh[H : 2 * H].zero_()

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = state[0], state[1]
        gi, gh = gate_preactivations(self, x, h)  # (B, G*H) each
        gates = (gi + gh).chunk(self.gates, dim=1)
        if self.forget_gate:
            i, f, g, o = gates
            i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
            c = f * c + i * torch.tanh(g)
            record(self, i=i, f=f, o=o)
        else:
            i, g, o = gates
            i, o = torch.sigmoid(i), torch.sigmoid(o)
            c = c + i * torch.tanh(g)
            record(self, i=i, o=o)
        h = o * torch.tanh(c)
        return h, (h, c)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, bias={self.bias}, forget_gate={self.forget_gate}, forget_bias={self.forget_bias}"
        )
