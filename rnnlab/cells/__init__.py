"""Registry of recurrent cells.

``CELLS`` maps a name to a factory ``(input_size, hidden_size, **kwargs) -> Cell``. Adding a cell
is one file plus one line here; layers, models, training and benchmarks pick it up by name. The
file also declares the cell's fast paths, on the class: ``fused_mode`` (a PyTorch fused kernel)
and ``bptt_sequence`` (its explicit-BPTT sequence function from :mod:`rnnlab.bptt`, or ``None``;
see :class:`rnnlab.cells.base.Cell`). No other registry names cells.

``"graph"`` builds a cell from a spec (``spec=``, see :mod:`rnnlab.cells.graph_spec`); wherever a
name is taken, ``graph:PATH.json`` or ``graph:lstm`` (a built-in spec) names one (see
:mod:`rnnlab.cells.named`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

from rnnlab import checks
from rnnlab.cells.base import Cell, State
from rnnlab.cells.clockwork import ClockworkCell
from rnnlab.cells.graph import GraphCell
from rnnlab.cells.graph_spec import validate_structure
from rnnlab.cells.gru import GRUCell
from rnnlab.cells.lstm import LSTMCell
from rnnlab.cells.lstm_variants import CIFGLSTMCell, LayerNormLSTMCell, PeepholeLSTMCell
from rnnlab.cells.mut import MUTCell
from rnnlab.cells.named import GRAPH, PREFIX, resolve
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
    GRAPH: GraphCell,
}
_KNOWN = ", ".join(sorted(CELLS)) + ", graph:PATH.json or graph:NAME"
#: every registered cell by a name that builds it without options (the graph cell by its LSTM spec)
NAMES = [f"{PREFIX}lstm" if name == GRAPH else name for name in CELLS]
#: the cell names for a flag's help
NAMES_HELP = ", ".join(c for c in CELLS if c != GRAPH) + ", graph:PATH.json or graph:NAME (a spec)"


def make_cell(name: str, input_size: int, hidden_size: int, **kwargs: Any) -> Cell:
    """Build the registered cell ``name``.

    Args:
        name: a key of :data:`CELLS`, or ``graph:SPEC`` (:func:`rnnlab.cells.named.resolve`).
        input_size: features of ``x_t``.
        hidden_size: features of ``h``.
        **kwargs: cell options (for example ``activation``, ``forget_bias``, ``scale``).

    Returns:
        A fresh :class:`Cell`.

    Raises:
        ValueError: for an unknown name (the message lists the known ones) or an option the cell
            does not take (the message lists those it does).
    """
    name, kwargs = resolve(name, kwargs)
    check_cell("cell", name, kwargs)
    factory = CELLS[name]
    params = inspect.signature(factory).parameters
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        allowed = [p for p in params if p not in ("input_size", "hidden_size")]
        checks.fail(f"options of cell {name!r}", "some of " + ", ".join(allowed), ", ".join(unknown))
    return factory(input_size, hidden_size, **kwargs)


def check_cell(field: str, name: str, options: dict) -> None:
    """Refuse an unregistered cell, and a ``graph`` cell whose options hold no valid spec.

    Raises:
        ValueError: naming ``field`` (and, for a bad spec, the node at fault).
    """
    if name not in CELLS:
        checks.fail(field, "one of " + _KNOWN, name)
    if name == GRAPH:
        spec = options.get("spec") if isinstance(options, dict) else None
        if spec is None:
            checks.fail(field, "graph:PATH.json or graph:NAME (a graph cell needs a spec)", name)
        validate_structure(spec)


def check_cells(flag: str, names: list[str]) -> None:
    """Refuse a list of cells (``--cells``) naming one that is neither registered nor a readable
    ``graph:SPEC``; each spec is read, so a bad file fails before anything runs."""
    unknown = [c for c in names if c not in CELLS and not c.startswith(PREFIX)]
    if unknown:
        raise ValueError(f"{flag}: unknown {', '.join(unknown)}; known: {_KNOWN}")
    for name in names:
        check_cell(flag, *resolve(name))


__all__ = [
    "CELLS",
    "Cell",
    "State",
    "make_cell",
    "NAMES",
    "NAMES_HELP",
    "check_cell",
    "check_cells",
    "GraphCell",
    "ElmanCell",
    "IRNNCell",
    "LSTMCell",
    "GRUCell",
]
