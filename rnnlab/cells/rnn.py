"""Elman RNN and IRNN.

Elman (1990): ``s_t = f(U x_t + W s_{t-1})``; the readout ``o_t = g(V s_t)`` belongs to the model.
With PyTorch's parameter names, ``U = weight_ih``, ``W = weight_hh``, plus the two biases.

IRNN (Le, Jaitly & Hinton 2015, "A Simple Way to Initialize Recurrent Networks of Rectified
Linear Units"): ReLU activation, ``W`` initialised to ``scale * I``, biases to zero and the input
weights from N(0, 0.001^2) as in the paper's adding-problem setup.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.bptt.elman import elman_sequence
from rnnlab.cells.base import Cell, State, gate_params, gate_preactivations, uniform_

ACTIVATIONS = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "linear": lambda z: z,
}
_FUSED = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}


class ElmanCell(Cell):
    """``h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` with ``f`` in tanh, relu, sigmoid, linear.

    Args:
        input_size: features of ``x_t``.
        hidden_size: features of ``h_t``.
        activation: ``"tanh"``, ``"relu"``, ``"sigmoid"`` or ``"linear"``.
        bias: whether to learn ``b_ih`` and ``b_hh``.
    """

    bptt_sequence = elman_sequence

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        activation: str = "tanh",
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(input_size, hidden_size)
        self.activation = checks.choice("activation", activation, tuple(ACTIVATIONS))
        self.bias = bias
        gate_params(self, input_size, hidden_size, 1, bias, {"device": device, "dtype": dtype})
        self.reset_parameters()

    @property
    def fused_mode(self) -> str | None:
        return _FUSED.get(self.activation)

    def reset_parameters(self) -> None:
        uniform_(self, self.hidden_size)

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        gi, gh = gate_preactivations(self, x, state[0])  # (B, H) each
        h = ACTIVATIONS[self.activation](gi + gh)
        return h, (h,)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, activation={self.activation!r}, bias={self.bias}"


class IRNNCell(ElmanCell):
    """ReLU Elman cell with identity-initialised recurrent matrix (Le et al. 2015).

    Args:
        scale: the recurrent matrix starts as ``scale * I`` (the paper uses 1.0; values a little
            below 1 trade memory for stability).
        input_std: standard deviation of the initial input weights (paper: 0.001).
    """

    bptt_sequence = elman_sequence  # the ReLU Elman step: only the initialisation differs

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        scale: float = 1.0,
        input_std: float = 0.001,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        self.scale = float(scale)
        self.input_std = float(input_std)
        if self.input_std < 0:
            checks.fail("input_std", "a non-negative number", input_std)
        super().__init__(input_size, hidden_size, "relu", bias, device, dtype)

    def reset_parameters(self) -> None:
        with torch.no_grad():
            nn.init.normal_(self.weight_ih, 0.0, self.input_std)
            self.weight_hh.copy_(self.scale * torch.eye(self.hidden_size))
            if self.bias:
                self.bias_ih.zero_()
                self.bias_hh.zero_()

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, scale={self.scale}, bias={self.bias}"
