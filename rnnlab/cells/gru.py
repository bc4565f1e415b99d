"""Gated recurrent unit (Cho et al. 2014), in PyTorch's formulation and gate order ``r, z, n``::

r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)      reset gate
z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)      update gate
n = tanh(W_in x + b_in + r * (W_hn h + b_hn))   candidate (reset applied after the product)
h' = (1 - z) * n + z * h
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.bptt.gru import gru_sequence
from rnnlab.cells.base import Cell, State, gate_params, gate_preactivations, uniform_
from rnnlab.cells.gates import record


class GRUCell(Cell):
    """GRU step; state ``(h,)``.

    Args:
        input_size: features of ``x_t``.
        hidden_size: features of ``h``.
        bias: whether to learn ``b_ih`` and ``b_hh``.

    Its fast paths are the fused kernel and :func:`rnnlab.bptt.gru.gru_sequence` (explicit BPTT
    of the same formula).
    """

    bptt_sequence = gru_sequence

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size)
        self.bias = bias
        gate_params(self, input_size, hidden_size, 3, bias, {"device": device, "dtype": dtype})
        self.gate_names = ("r", "z", "n")
        self.reset_parameters()

    @property
    def fused_mode(self) -> str | None:
        return "GRU"

    def reset_parameters(self) -> None:
        uniform_(self, self.hidden_size)

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        h = state[0]
        gi, gh = gate_preactivations(self, x, h)  # (B, 3H) each
        i_r, i_z, i_n = gi.chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        record(self, r=r, z=z)
        h = n + z * (h - n)  # == (1 - z) * n + z * h
        return h, (h,)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bias={self.bias}"
