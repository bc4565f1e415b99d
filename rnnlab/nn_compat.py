"""Drop-in replacements for ``torch.nn.RNN``, ``torch.nn.LSTM`` and ``torch.nn.GRU``.

Same constructor arguments, forward signature, returned shapes and state-dict keys; they run on
the same fused kernels. What they add is everything :class:`rnnlab.Recurrent` offers: ``lengths``
and ``mask`` for padded batches, ``path`` to choose fused kernel, explicit BPTT or step loop, and for LSTM a
forget-gate bias that starts at 1.0 (``forget_bias=None`` restores PyTorch's initialisation).
"""

from __future__ import annotations

from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from rnnlab import checks
from rnnlab.layers import Recurrent


class _SingleState(Recurrent):
    """Front for cells whose state is just ``h``: takes and returns ``h`` as a bare tensor."""

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Tensor | None = None,
        lengths: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> tuple[Tensor | PackedSequence, Tensor]:
        """Returns ``(output, h_n)`` exactly as ``torch.nn.GRU`` / ``torch.nn.RNN`` do."""
        out, state = super().forward(input, hx, lengths, mask)
        return out, state[0]


class RNN(_SingleState):
    """Elman RNN stack, a drop-in for ``torch.nn.RNN`` (``nonlinearity`` is tanh or relu)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        **kwargs,
    ) -> None:
        checks.choice("nonlinearity", nonlinearity, ("tanh", "relu"))
        self.nonlinearity = nonlinearity
        super().__init__(
            "rnn", input_size, hidden_size, num_layers, bidirectional, dropout, batch_first,
            device=device, dtype=dtype, activation=nonlinearity, bias=bias, **kwargs,
        )  # fmt: skip


class GRU(_SingleState):
    """GRU stack, a drop-in for ``torch.nn.GRU``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        **kwargs,
    ) -> None:
        super().__init__(
            "gru", input_size, hidden_size, num_layers, bidirectional, dropout, batch_first,
            device=device, dtype=dtype, bias=bias, **kwargs,
        )  # fmt: skip


class LSTM(Recurrent):
    """LSTM stack, a drop-in for ``torch.nn.LSTM``; returns ``(output, (h_n, c_n))``.

    ``proj_size`` (LSTM with projections) is not supported; ``forget_bias`` (default 1.0) sets
    the initial forget-gate bias.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
        forget_bias: float | None = 1.0,
        **kwargs,
    ) -> None:
        if proj_size != 0:
            checks.fail("proj_size", "0 (LSTM projections are not supported)", proj_size)
        self.proj_size = 0
        super().__init__(
            "lstm", input_size, hidden_size, num_layers, bidirectional, dropout, batch_first,
            device=device, dtype=dtype, bias=bias, forget_bias=forget_bias, **kwargs,
        )  # fmt: skip
