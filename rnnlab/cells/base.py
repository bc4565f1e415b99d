"""The cell contract shared by every recurrent cell in rnnlab.

A cell computes one step of a recurrence on a batch: ``forward(x_t, state) -> (y_t, state)``.
The state is a flat tuple of tensors whose first entry is always the hidden vector ``h``, so
that diagnostics and visualisation read every cell the same way. A cell has no time loop,
embedding, decoder or dropout between layers: those live in :mod:`rnnlab.engine` and
:mod:`rnnlab.layers`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab import checks

State = tuple[Tensor, ...]


class Cell(nn.Module):
    """Base class of all cells.

    Subclasses set ``state_spec`` (one entry per state tensor: its trailing shape after the batch
    dimension and its dtype, ``None`` meaning "the input's floating dtype"), implement
    ``forward`` and ``reset_parameters``, and may report a ``fused_mode``: the name of the
    PyTorch fused kernel ("LSTM", "GRU", "RNN_TANH", "RNN_RELU") that computes exactly this cell
    from the parameters ``weight_ih``, ``weight_hh`` and, with ``bias``, ``bias_ih``, ``bias_hh``.

    Args:
        input_size: features of ``x_t``.
        hidden_size: features of ``h``.
    """

    #: names of the ``hidden_size``-row blocks of ``weight_hh``, top to bottom, where they are gates
    gate_names: tuple[str, ...] = ()

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size = checks.positive_int("input_size", input_size)
        self.hidden_size = checks.positive_int("hidden_size", hidden_size)

    @property
    def output_size(self) -> int:
        """Features of ``y_t`` (what the next layer reads)."""
        return self.hidden_size

    @property
    def state_spec(self) -> tuple[tuple[tuple[int, ...], torch.dtype | None], ...]:
        """(trailing shape, dtype or None) of each state tensor; the default is ``(h,)``."""
        return (((self.hidden_size,), None),)

    @property
    def fused_mode(self) -> str | None:
        """Name of the fused PyTorch kernel equal to this cell, or ``None``."""
        return None

    def init_state(
        self,
        batch_size: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> State:
        """Zero state for a batch.

        Returns:
            A tuple with one tensor ``(batch_size, *shape)`` per entry of ``state_spec``.
        """
        dtype = dtype or torch.get_default_dtype()
        return tuple(
            torch.zeros((batch_size, *shape), device=device, dtype=sdtype or dtype) for shape, sdtype in self.state_spec
        )

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


def uniform_(cell: nn.Module, hidden_size: int) -> None:
    """PyTorch's default RNN initialisation: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / hidden_size**0.5
    for p in cell.parameters():
        nn.init.uniform_(p, -bound, bound)


def gate_params(
    cell: nn.Module,
    input_size: int,
    hidden_size: int,
    gates: int,
    bias: bool,
    factory: dict,
) -> None:
    """Create ``weight_ih (G*H, D)``, ``weight_hh (G*H, H)`` and optional biases on ``cell``.

    The names and shapes are those of ``torch.nn.RNNCell/LSTMCell/GRUCell`` so that the fused
    kernels and ``torch.nn`` state dicts use them unchanged.
    """
    size = gates * hidden_size
    cell.weight_ih = nn.Parameter(torch.empty(size, input_size, **factory))
    cell.weight_hh = nn.Parameter(torch.empty(size, hidden_size, **factory))
    if bias:
        cell.bias_ih = nn.Parameter(torch.empty(size, **factory))
        cell.bias_hh = nn.Parameter(torch.empty(size, **factory))
    else:
        cell.register_parameter("bias_ih", None)
        cell.register_parameter("bias_hh", None)


def gate_preactivations(cell: nn.Module, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
    """``(W_ih x + b_ih, W_hh h + b_hh)`` for a cell made by :func:`gate_params`."""
    gi = nn.functional.linear(x, cell.weight_ih, cell.bias_ih)  # (B, G*H)
    gh = nn.functional.linear(h, cell.weight_hh, cell.bias_hh)  # (B, G*H)
    return gi, gh
