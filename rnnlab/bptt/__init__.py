"""Explicit back-propagation through time: one ``torch.autograd.Function`` per cell family.

Each family runs a whole sequence of one layer and direction with a hand-written backward (see
:mod:`rnnlab.bptt.common` for the plan they share). :func:`run_sequence` adds what every family
needs alike: reversed directions, variable lengths and the final state. The step loop of
:mod:`rnnlab.engine` stays the reference these paths are tested against.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from rnnlab.bptt import native
from rnnlab.bptt.clockwork import clockwork_sequence
from rnnlab.bptt.common import GradientFlow
from rnnlab.bptt.elman import elman_sequence
from rnnlab.bptt.lnlstm import layer_norm_lstm_sequence
from rnnlab.bptt.lstm import lstm_sequence
from rnnlab.bptt.mut import mut_sequence
from rnnlab.bptt.scrn import scrn_sequence
from rnnlab.cells.base import Cell, State
from rnnlab.cells.clockwork import ClockworkCell
from rnnlab.cells.lstm import LSTMCell
from rnnlab.cells.lstm_variants import CIFGLSTMCell, LayerNormLSTMCell, PeepholeLSTMCell
from rnnlab.cells.mut import MUTCell
from rnnlab.cells.rnn import ElmanCell, IRNNCell
from rnnlab.cells.scrn import SCRNCell
from rnnlab.engine import reverse_padded, unroll

# cell class -> (cell, x (T, B, D), state) -> (outputs (T, B, O), one (T, B, ...) sequence per state
# entry), or None where this input needs the reference step loop
FAMILIES: dict[type, Callable[[Cell, Tensor, State], tuple[Tensor, State] | None]] = {
    LSTMCell: lstm_sequence,
    PeepholeLSTMCell: lstm_sequence,
    CIFGLSTMCell: lstm_sequence,
    ElmanCell: elman_sequence,
    IRNNCell: elman_sequence,
    SCRNCell: scrn_sequence,
    MUTCell: mut_sequence,
    ClockworkCell: clockwork_sequence,
    LayerNormLSTMCell: layer_norm_lstm_sequence,
}


def has_bptt(cell: Cell) -> bool:
    """Whether ``cell`` has an explicit-BPTT path."""
    return type(cell) in FAMILIES


def prepare_for(model: torch.nn.Module) -> None:
    """Build the compiled loops now if ``model`` has a cell that runs them, so that the first
    build happens before a training's time budget starts rather than inside it."""
    for cell in (m for m in model.modules() if isinstance(m, Cell) and has_bptt(m)):
        for weight in cell.parameters():
            native.loops(weight)  # builds them where they apply: float32 on the CPU
            return


def run_sequence(
    cell: Cell, x: Tensor, state: State, lengths: Tensor | None = None, reverse: bool = False
) -> tuple[Tensor, State]:
    """Run ``cell`` over ``x (T, B, D)`` on its explicit-BPTT path; same contract as :func:`rnnlab.engine.unroll`.

    Under autocast, and where a family cannot take the input (a batch whose clocks differ), the
    step loop runs instead.
    """
    T, B = x.shape[0], x.shape[1]
    runs = T > 0 and not torch.is_autocast_enabled(x.device.type)  # the Functions compute in x's dtype
    result = FAMILIES[type(cell)](cell, reverse_padded(x, lengths) if reverse else x, state) if runs else None
    if result is None:
        return unroll(cell, x, state, lengths, reverse)
    out, seqs = result
    if lengths is None:
        final = tuple(s[-1] for s in seqs)
    else:
        last = (lengths - 1).to(x.device)
        final = tuple(s.gather(0, last.view(1, B, *([1] * (s.dim() - 2))).expand(1, *s.shape[1:]))[0] for s in seqs)
        valid = torch.arange(T, device=x.device).unsqueeze(1) < lengths.to(x.device).unsqueeze(0)  # (T, B)
        out = out * valid.unsqueeze(2).to(out.dtype)
    if reverse:
        out = reverse_padded(out, lengths)
    return out, final


__all__ = ["FAMILIES", "GradientFlow", "has_bptt", "prepare_for", "run_sequence"]
