"""PyTorch's fused recurrent kernels (oneDNN or native on CPU, cuDNN on GPU).

These are the very functions ``torch.nn.LSTM/GRU/RNN`` call, so a stack of standard cells run
through them gives the same numbers at the same speed. A layer hands over its cells' parameters
in the kernels' flat order: for each layer, for each direction, ``w_ih, w_hh[, b_ih, b_hh]``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.cells.base import State

KERNELS = {
    "LSTM": torch.lstm,
    "GRU": torch.gru,
    "RNN_TANH": torch.rnn_tanh,
    "RNN_RELU": torch.rnn_relu,
}


def run_fused(
    mode: str,
    x: Tensor,
    hx: State,
    weights: list[Tensor],
    has_bias: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
    batch_first: bool,
    batch_sizes: Tensor | None = None,
) -> tuple[Tensor, State]:
    """Run a whole stack through the fused kernel ``mode``.

    Args:
        x: ``(T, B, D)`` (``(B, T, D)`` with ``batch_first``), or packed data ``(N, D)`` when
            ``batch_sizes`` is given.
        hx: ``(h0,)`` or, for LSTM, ``(h0, c0)``; each ``(num_layers * directions, B, H)``.

    Returns:
        ``(output, state)`` with the state as a tuple like ``hx``.
    """
    kernel = KERNELS[mode]
    h = hx if mode == "LSTM" else hx[0]
    if batch_sizes is None:
        result = kernel(x, h, weights, has_bias, num_layers, dropout, train, bidirectional, batch_first)
    else:
        result = kernel(x, batch_sizes, h, weights, has_bias, num_layers, dropout, train, bidirectional)
    return result[0], tuple(result[1:])


def flat_weights(cells) -> list[Tensor]:
    """The cells' parameters in the fused kernels' order."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return [getattr(c, n) for c in cells for n in names if getattr(c, n) is not None]
