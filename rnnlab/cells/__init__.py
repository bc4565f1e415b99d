"""Registry of recurrent cells.

``CELLS`` maps a name to a factory ``(input_size, hidden_size, **kwargs) -> Cell``. Adding a cell
is one file plus one line here; layers, models, training and benchmarks pick it up by name. The
file also declares the cell's fast paths, on the class: ``fused_mode`` (a PyTorch fused kernel)
and ``bptt_sequence`` (its explicit-BPTT sequence function from :mod:`rnnlab.bptt`, or ``None``;
see :class:`rnnlab.cells.base.Cell`). No other registry names cells.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

from rnnlab import checks
from rnnlab.cells.base import Cell, State
from rnnlab.cells.clockwork import ClockworkCell
from rnnlab.cells.gru import GRUCell
from rnnlab.cells.lstm import LSTMCell
from rnnlab.cells.lstm_variants import CIFGLSTMCell, LayerNormLSTMCell, PeepholeLSTMCell
from rnnlab.cells.mut import MUTCell
from rnnlab.cells.rnn import ElmanCell, IRNNCell
from rnnlab.cells.scrn import SCRNCell

CELLS: dict[str, Callable[..., Cell]] = {
    "rnn": ElmanCell,
    "rnn-tanh": partial(ElmanCell, activation="tanh"),
    "rnn-relu": partial(ElmanCell, activation="relu"),
    "rnn-sigmoid": partial(ElmanCell, activation="sigmoid"),
    "rnn-linear": partial(ElmanCell, activation="linear"),
    "irnn": IRNNCell,
    "lstm": LSTMCell,
    "lstm-1997": partial(LSTMCell, forget_gate=False),
    "gru": GRUCell,
    "lstm-peephole": PeepholeLSTMCell,
    "lstm-cifg": CIFGLSTMCell,
    "lstm-ln": LayerNormLSTMCell,
    "clockwork": ClockworkCell,
    "scrn": SCRNCell,
    "mut1": partial(MUTCell, variant=1),
    "mut2": partial(MUTCell, variant=2),
    "mut3": partial(MUTCell, variant=3),
}


def make_cell(name: str, input_size: int, hidden_size: int, **kwargs: Any) -> Cell:
    """Build the registered cell ``name``.

    Args:
        name: a key of :data:`CELLS`.
        input_size: features of ``x_t``.
        hidden_size: features of ``h``.
        **kwargs: cell options (for example ``activation``, ``forget_bias``, ``scale``).

    Returns:
        A fresh :class:`Cell`.

    Raises:
        ValueError: for an unknown name (the message lists the known ones) or an option the cell
            does not take (the message lists those it does).
    """
    if name not in CELLS:
        checks.fail("cell", "one of " + ", ".join(sorted(CELLS)), name)
    factory = CELLS[name]
    params = inspect.signature(factory).parameters
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        allowed = [p for p in params if p not in ("input_size", "hidden_size")]
        checks.fail(f"options of cell {name!r}", "some of " + ", ".join(allowed), ", ".join(unknown))
    return factory(input_size, hidden_size, **kwargs)


__all__ = ["CELLS", "Cell", "State", "make_cell", "ElmanCell", "IRNNCell", "LSTMCell", "GRUCell"]
