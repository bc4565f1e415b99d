"""Structurally constrained recurrent network (Mikolov, Joulin, Chopra, Mathieu & Ranzato 2015,
"Learning Longer Memory in Recurrent Neural Networks").

A slow context layer ``s`` with a fixed self-connection beside an ordinary sigmoid layer ``h``::

    s_t = (1 - a) B x_t + a s_{t-1}              context units, a = 0.95
    h_t = sigmoid(P s_t + A x_t + R h_{t-1} + b)
    y_t = [h_t; s_t]                             the model's readout sees both (paper: U h + V s)

We follow the paper's equation and feed ``s_t`` into ``h_t``: the current input then reaches the
hidden layer through the context path in the same step. The authors' released code feeds the
previous context ``s_{t-1}`` instead; ``previous_context=True`` gives that variant.
``learn_alpha=True`` learns one ``a`` per context unit (kept in (0, 1) through a sigmoid).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.bptt.scrn import scrn_sequence
from rnnlab.cells.base import Cell, State, uniform_


class SCRNCell(Cell):
    """SCRN step; state ``(h, s)``, output ``[h; s]``.

    Args:
        context_size: context units (default ``hidden_size // 4``, at least 1).
        alpha: the context units' self-connection ``a`` in [0, 1].
        learn_alpha: learn ``a`` (one per context unit) instead of fixing it.
        previous_context: feed ``s_{t-1}`` rather than ``s_t`` into ``h_t`` (the released code).
        bias: whether ``h`` has a bias.
    """

    bptt_sequence = scrn_sequence

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        context_size: int | None = None,
        alpha: float = 0.95,
        learn_alpha: bool = False,
        previous_context: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(input_size, hidden_size)
        self.context_size = checks.positive_int("context_size", context_size or max(1, hidden_size // 4))
        self.alpha = checks.probability("alpha", alpha, include_one=True)
        self.learn_alpha, self.previous_context, self.bias = learn_alpha, previous_context, bias
        f = {"device": device, "dtype": dtype}
        H, C = hidden_size, self.context_size
        self.weight_xs = nn.Parameter(torch.empty(C, input_size, **f))  # B
        self.weight_sh = nn.Parameter(torch.empty(H, C, **f))  # P
        self.weight_xh = nn.Parameter(torch.empty(H, input_size, **f))  # A
        self.weight_hh = nn.Parameter(torch.empty(H, H, **f))  # R
        self.bias_h = nn.Parameter(torch.empty(H, **f)) if bias else None
        self.alpha_logit = nn.Parameter(torch.empty(C, **f)) if learn_alpha else None
        self.reset_parameters()

    @property
    def output_size(self) -> int:
        return self.hidden_size + self.context_size

    @property
    def state_spec(self):
        return (((self.hidden_size,), None), ((self.context_size,), None))

    def reset_parameters(self) -> None:
        uniform_(self, self.hidden_size)
        if self.alpha_logit is not None:
            a = min(max(self.alpha, 1e-4), 1 - 1e-4)
            nn.init.constant_(self.alpha_logit, math.log(a / (1 - a)))

    def decay(self) -> Tensor | float:
        """The context units' self-connection ``a`` (a float, or ``(C,)`` when learned)."""
        return torch.sigmoid(self.alpha_logit) if self.alpha_logit is not None else self.alpha

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        h, s_prev = state[0], state[1]
        a = self.decay()
        s = (1 - a) * nn.functional.linear(x, self.weight_xs) + a * s_prev  # (B, C)
        context = s_prev if self.previous_context else s
        pre = nn.functional.linear(context, self.weight_sh, self.bias_h) + nn.functional.linear(x, self.weight_xh)
        h = torch.sigmoid(pre + nn.functional.linear(h, self.weight_hh))  # (B, H)
        return torch.cat([h, s], dim=1), (h, s)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, context_size={self.context_size}, alpha={self.alpha}, "
            f"learn_alpha={self.learn_alpha}, previous_context={self.previous_context}"
        )
