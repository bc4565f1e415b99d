"""Clockwork RNN (Koutník, Greff, Gomez & Schmidhuber 2014, "A Clockwork RNN").

The hidden units are split into ``g`` equal modules with periods ``T_1 < T_2 < ... < T_g``
(default 1, 2, 4, 8). At step ``t`` (the clock starts at 0) module ``k`` is active if
``t mod T_k == 0``; active modules update, the others keep their values::

    a_t = W_I x_t + W_H h_{t-1} + b              (W_H block upper-triangular)
    h_t[k] = tanh(a_t[k])   if t mod T_k == 0   else   h_{t-1}[k]

``W_H`` is block upper-triangular: a module reads from itself and from slower modules only. The
clock is the second entry of the state, counted per sequence, so truncated BPTT, chunked
evaluation and sampling continue it where it stopped.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab import checks
from rnnlab.bptt.clockwork import clockwork_sequence
from rnnlab.cells.base import Cell, State, gate_params, gate_preactivations, uniform_


class ClockworkCell(Cell):
    """Clockwork RNN step; state ``(h, t)`` with the clock ``t`` an int64 ``(B,)``.

    Args:
        periods: one period per module, increasing; their count must divide ``hidden_size``.
        bias: whether to learn the biases.
    """

    bptt_sequence = clockwork_sequence

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        periods: tuple[int, ...] | list[int] = (1, 2, 4, 8),
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(input_size, hidden_size)
        periods = tuple(periods)
        if not periods or any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in periods):
            checks.fail("periods", "a non-empty list of positive integers", periods)
        if list(periods) != sorted(set(periods)):
            checks.fail("periods", "strictly increasing periods", periods)
        if hidden_size % len(periods):
            checks.fail("periods", f"a number of modules that divides hidden_size {hidden_size}", periods)
        self.periods, self.bias = periods, bias
        gate_params(self, input_size, hidden_size, 1, bias, {"device": device, "dtype": dtype})
        size = hidden_size // len(periods)
        module = torch.arange(hidden_size, device=device) // size  # module of each unit
        self.register_buffer("unit_period", torch.tensor(periods, device=device)[module], persistent=False)
        # unit i (in module m_i) reads unit j iff m_j >= m_i: block upper-triangular
        mask = (module.unsqueeze(0) >= module.unsqueeze(1)).to(dtype or torch.get_default_dtype())
        self.register_buffer("recurrent_mask", mask, persistent=False)
        self.reset_parameters()

    @property
    def state_spec(self):
        return (((self.hidden_size,), None), ((), torch.int64))

    def reset_parameters(self) -> None:
        uniform_(self, self.hidden_size)
        with torch.no_grad():
            self.weight_hh.mul_(self.recurrent_mask)

    def active(self, clock: Tensor) -> Tensor:
        """Which units update at ``clock (B,)``: a bool ``(B, H)``."""
        return (clock.unsqueeze(1) % self.unit_period) == 0

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        h, clock = state[0], state[1]
        gi, _ = gate_preactivations(self, x, h)
        gh = torch.nn.functional.linear(h, self.weight_hh * self.recurrent_mask, self.bias_hh)  # (B, H)
        h = torch.where(self.active(clock), torch.tanh(gi + gh), h)
        return h, (h, clock + 1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, periods={self.periods}, bias={self.bias}"
