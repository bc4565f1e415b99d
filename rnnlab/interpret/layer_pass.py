"""A standard cell's states and gates over a whole text in one call, for the activation views.

The step loop reads the gates a cell reports at every step (:mod:`rnnlab.cells.gates`), one
Python call per character and layer. For the standard cells the training path's forward loop
(:mod:`rnnlab.bptt`) already keeps every step's gate activations and states, so one call of it per
layer gives the same values: the compiled loops where they apply, the PyTorch loops elsewhere.
"""

from __future__ import annotations

from torch import Tensor

from rnnlab.bptt import gru as gru_loops
from rnnlab.bptt import infer, native
from rnnlab.bptt import lstm as lstm_loops
from rnnlab.bptt.common import Matmul
from rnnlab.cells.base import Cell


def layer_pass(cell: Cell, x: Tensor) -> tuple[Tensor, list[Tensor], dict[str, Tensor]] | None:
    """Run ``cell`` over ``x (N, 1, D)`` from a zero state.

    Returns:
        the outputs ``(N, 1, H)``, the sequence ``(N, H)`` of each state entry (``h``, and ``c``
        for an LSTM), and the gates the cell reports while stepping, by name, each ``(N, H)``;
        ``None`` for a cell that is not a standard one (the caller steps it instead).
    """
    kind = infer.kind_of(cell)
    if kind is None:
        return None
    H = cell.hidden_size
    state = cell.init_state(1, x.device, x.dtype)
    u, b_hn = infer.input_side(cell, x)
    u = u.contiguous()  # (N, 1, G*H)
    rec = Matmul(cell.weight_hh.detach(), 1)
    compiled = native.loops(u)
    if kind in (infer.LSTM, infer.NOFG):
        mode = "lstm" if kind == infer.LSTM else "nofg"
        if compiled is not None:
            acts, hs, cs = compiled.lstm_forward(u, *state, rec.weight, rec.packed, None, lstm_loops.MODES[mode], 1)
        else:
            acts, hs, cs = lstm_loops._forward_loop(mode, u, *state, rec, None)
        G = cell.gates
        gates = {"i": acts[:, 0, :H]} | ({"f": acts[:, 0, H : 2 * H]} if G == 4 else {})
        return hs, [hs[:, 0], cs[:, 0]], gates | {"o": acts[:, 0, (G - 1) * H :]}
    if kind == infer.GRU:
        if compiled is not None:
            acts, _, hs = compiled.gru_forward(u, state[0], rec.weight, rec.packed, b_hn.contiguous(), 1)
        else:
            acts, _, hs = gru_loops._forward_loop(u, state[0], b_hn, rec)
        return hs, [hs[:, 0]], {"r": acts[:, 0, :H], "z": acts[:, 0, H : 2 * H]}
    out = x.new_empty(x.shape[0], 1, H)
    infer.run_direction(cell, x, state, out, None, False)
    return out, [out[:, 0]], {}
