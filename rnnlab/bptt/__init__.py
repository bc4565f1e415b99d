"""Explicit back-propagation through time: one ``torch.autograd.Function`` per cell family.

Each family runs a whole sequence of one layer and direction with a hand-written backward (see
:mod:`rnnlab.bptt.common` for the plan they share). A cell declares its own path: its class
attribute :attr:`rnnlab.cells.base.Cell.bptt_sequence` names the sequence function (``LSTMCell``
names :func:`rnnlab.bptt.lstm.lstm_sequence`), or is ``None``. There is no registry here, so this
package never imports a cell class; the cell files import the families. :func:`run_sequence`
adds what every family needs alike: reversed directions, variable lengths and the final state.
The step loop of :mod:`rnnlab.engine` stays the reference these paths are tested against.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.bptt import native
from rnnlab.bptt.common import GradientFlow
from rnnlab.cells.base import Cell, State
from rnnlab.engine import reverse_padded, unroll


def has_bptt(cell: Cell) -> bool:
    """Whether ``cell`` declares an explicit-BPTT path (its ``bptt_sequence``)."""
    return cell.bptt_sequence is not None


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

    The step loop runs instead for a cell that declares no path, under autocast, and where the
    cell's function cannot take the input (a batch whose clocks differ) and returns ``None``.
    """
    T, B = x.shape[0], x.shape[1]
    # the Functions compute in x's dtype, which autocast would not follow
    runs = has_bptt(cell) and T > 0 and not torch.is_autocast_enabled(x.device.type)
    result = cell.bptt_sequence(reverse_padded(x, lengths) if reverse else x, state) if runs else None
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


__all__ = ["GradientFlow", "has_bptt", "prepare_for", "run_sequence"]
