"""The cell contract shared by every recurrent cell in rnnlab.

A cell computes one step of a recurrence on a batch: ``forward(x_t, state) -> (y_t, state)``.
The state is a flat tuple of tensors whose first entry is always the hidden vector ``h``, so
that diagnostics and visualisation read every cell the same way. A cell has no time loop,
embedding, decoder or dropout between layers: those live in :mod:`rnnlab.engine` and
:mod:`rnnlab.layers`.

A cell's fast paths are declared by the cell itself: ``fused_mode`` names the PyTorch kernel
that computes it, and the class attribute ``bptt_sequence`` is its explicit-BPTT sequence
function (one of :mod:`rnnlab.bptt`'s families, or its own), ``None`` for none. So a new cell
is its own file plus one line in :data:`rnnlab.cells.CELLS`, and nothing else to register.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import ClassVar

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

    A subclass with an explicit-BPTT path sets the class attribute ``bptt_sequence`` to its
    :data:`SequenceFn` (``bptt_sequence = lstm_sequence``; it is then called as a method,
    ``cell.bptt_sequence(x, state)``), and :func:`rnnlab.bptt.run_sequence` runs whatever the cell
    names. It is not inherited: a fast path reproduces one ``forward``, and a subclass may change
    the maths (even through a helper its parent's forward calls), so each class that has one says
    so, naming its parent's function again where the maths is the same.

    Args:
        input_size: features of ``x_t``.
        hidden_size: features of ``h``.
    """

    #: names of the ``hidden_size``-row blocks of ``weight_hh``, top to bottom, where they are gates
    gate_names: tuple[str, ...] = ()
    #: the explicit-BPTT sequence function of exactly this class, or ``None`` (the step loop)
    bptt_sequence: ClassVar[SequenceFn | None] = None

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "bptt_sequence" not in cls.__dict__:  # a parent's fast path may not compute this forward
            cls.bptt_sequence = None

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

    def sequence(self) -> AbstractContextManager:
        """A block the step loop runs a whole sequence in: a cell may keep there what every step
        of the sequence shares (a graph cell's joined matrices); the default keeps nothing."""
        return nullcontext()

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


#: ``(cell, x (T, B, D), state) -> (outputs (T, B, O), one (T, B, ...) sequence per state entry)``,
#: or ``None`` where this input needs the reference step loop (see :func:`rnnlab.bptt.run_sequence`)
SequenceFn = Callable[[Cell, Tensor, State], tuple[Tensor, State] | None]


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
