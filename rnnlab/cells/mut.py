"""MUT1, MUT2 and MUT3: the three best architectures found by an evolutionary search over ten
thousand recurrent cells (Jozefowicz, Zaremba & Sutskever 2015, "An Empirical Exploration of
Recurrent Network Architectures"), as printed in the paper::

    MUT1: z = sigm(W_xz x + b_z)
          r = sigm(W_xr x + W_hr h + b_r)
          h' = tanh(W_hh (r * h) + tanh(x) + b_h) * z + h * (1 - z)

    MUT2: z = sigm(W_xz x + W_hz h + b_z)
          r = sigm(x + W_hr h + b_r)
          h' = tanh(W_hh (r * h) + W_xh x + b_h) * z + h * (1 - z)

    MUT3: z = sigm(W_xz x + W_hz tanh(h) + b_z)
          r = sigm(W_xr x + W_hr h + b_r)
          h' = tanh(W_hh (r * h) + W_xh x + b_h) * z + h * (1 - z)

MUT1's ``tanh(x)`` and MUT2's bare ``x`` need ``input_size == hidden_size``, as in the paper's
experiments. With another input size those terms read ``W x`` through a learned projection
(``weight_ih`` gains that block), which is the only change.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.bptt.mut import mut_sequence
from rnnlab.cells.base import Cell, State, uniform_


class MUTCell(Cell):
    """One of MUT1, MUT2, MUT3; state ``(h,)``.

    Args:
        variant: 1, 2 or 3.
        bias: whether to learn ``b_z, b_r, b_h``.
    """

    bptt_sequence = mut_sequence

    def __init__(
        self, input_size: int, hidden_size: int, variant: int = 1, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__(input_size, hidden_size)
        if variant not in (1, 2, 3):
            raise ValueError(f"variant: expected 1, 2 or 3, got {variant!r}")
        self.variant, self.bias = variant, bias
        self.identity_input = input_size == hidden_size  # the paper's bare x / tanh(x) terms
        H, f = hidden_size, {"device": device, "dtype": dtype}
        # input projections, stacked [z, r, h]; a block is absent where the paper adds x itself
        exact = {1: ("z", "r"), 2: ("z", "h"), 3: ("z", "r", "h")}[variant]
        self.blocks = exact if self.identity_input else ("z", "r", "h")
        self.weight_ih = nn.Parameter(torch.empty(len(self.blocks) * H, input_size, **f))
        self.weight_hr = nn.Parameter(torch.empty(H, H, **f))
        self.weight_hh = nn.Parameter(torch.empty(H, H, **f))
        self.weight_hz = nn.Parameter(torch.empty(H, H, **f)) if variant in (2, 3) else None
        self.bias_zrh = nn.Parameter(torch.empty(3 * H, **f)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        uniform_(self, self.hidden_size)

    def input_side(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The parts of ``z``, ``r`` and the candidate that read only ``x`` (with the biases).

        Works on one step ``(B, D)`` or on all steps ``(T, B, D)`` at once.
        """
        proj = dict(zip(self.blocks, nn.functional.linear(x, self.weight_ih).chunk(len(self.blocks), -1)))
        b_z, b_r, b_h = self.bias_zrh.chunk(3) if self.bias_zrh is not None else (0.0, 0.0, 0.0)
        if self.variant == 1:
            x_h = torch.tanh(x) if self.identity_input else torch.tanh(proj["h"])
        else:
            x_h = proj["h"]
        x_r = x if (self.variant == 2 and self.identity_input) else proj["r"]
        return proj["z"] + b_z, x_r + b_r, x_h + b_h

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        h = state[0]
        u_z, u_r, u_h = self.input_side(x)
        if self.variant == 1:
            z = torch.sigmoid(u_z)
        else:
            h_z = torch.tanh(h) if self.variant == 3 else h
            z = torch.sigmoid(u_z + nn.functional.linear(h_z, self.weight_hz))
        r = torch.sigmoid(u_r + nn.functional.linear(h, self.weight_hr))
        n = torch.tanh(nn.functional.linear(r * h, self.weight_hh) + u_h)
        h = n * z + h * (1 - z)
        return h, (h,)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, variant={self.variant}, bias={self.bias}"
