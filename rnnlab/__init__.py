"""rnnlab: recurrent neural networks on PyTorch, from the Elman RNN to LSTM, GRU and beyond."""

from rnnlab.bptt import GradientFlow
from rnnlab.cells import CELLS, Cell, make_cell
from rnnlab.engine import detach_state, unroll
from rnnlab.layers import Recurrent
from rnnlab.nn_compat import GRU, LSTM, RNN
from rnnlab.trees import TREE_CELLS

__version__ = "0.1.0"

__all__ = [
    "CELLS",
    "Cell",
    "GRU",
    "GradientFlow",
    "LSTM",
    "RNN",
    "Recurrent",
    "TREE_CELLS",
    "detach_state",
    "make_cell",
    "unroll",
]
