"""Forward-only paths of the standard cells (LSTM, GRU, Elman and so IRNN), for when no gradient is taken.

Explicit BPTT keeps every step's gates and cell states for backward: ``(T, B, 4H)`` of gate
activations plus ``c`` and ``tanh(c)`` for an LSTM. Under ``torch.no_grad``/``inference_mode``, or
when nothing requires a gradient, none of that is read again. Here the input side of all steps is
still one GEMM, but each step then takes only the recurrent product and one fused pass that
updates a ``(B, H)`` state in place and writes ``h`` straight into the layer's output (into its
half of a bidirectional output). Sequences of a padded batch stop at their own lengths, so the
final state needs no gathering.

The compiled loop (``csrc/infer.cpp``) runs float32 on the CPU; elsewhere the same loop in
PyTorch operations.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.bptt import native
from rnnlab.bptt.common import Matmul, both_biases, project
from rnnlab.bptt.elman import elman_sequence
from rnnlab.bptt.gru import gru_sequence
from rnnlab.bptt.lstm import lstm_sequence
from rnnlab.cells.base import Cell, State
from rnnlab.engine import reverse_padded

LSTM, NOFG, GRU = 0, 1, 2  # the compiled loops' numbering; Elman is ELMAN + its activation's index
ELMAN = {"tanh": 3, "sigmoid": 4, "relu": 5, "linear": 6}


def kind_of(cell: Cell) -> int | None:
    """The compiled loops' number for ``cell``'s maths, or ``None`` for a cell they do not compute.

    Read from the explicit-BPTT function the cell's own class declares: a subclass that changes
    the maths declares none (:class:`rnnlab.cells.base.Cell`).
    """
    fn = type(cell).bptt_sequence
    if fn is lstm_sequence:
        return LSTM if cell.gates == 4 else NOFG
    if fn is gru_sequence:
        return GRU
    if fn is elman_sequence:
        return ELMAN[cell.activation]
    return None


def applies(layer, x: Tensor, state: State) -> bool:
    """Whether a :class:`rnnlab.layers.Recurrent` runs forward-only on ``x``: no gradient is
    wanted, every cell is a standard one, and no dropout acts between its layers."""
    if layer.training and layer.dropout > 0 and layer.num_layers > 1:
        return False
    if torch.is_grad_enabled() and (x.requires_grad or any(s.requires_grad for s in state)):
        return False
    if torch.is_grad_enabled() and any(p.requires_grad for p in layer.parameters()):
        return False
    return all(kind_of(c) is not None for c in layer.layers) and not torch.is_autocast_enabled(x.device.type)


def biases(cell: Cell) -> tuple[Tensor, Tensor | None]:
    """The biases that add to the input side ``(G*H,)`` (zeros where the cell has none), and the
    GRU's ``b_hn (H,)`` that stays inside the step (``None`` for the other cells)."""
    G_H = cell.weight_hh.shape[0]
    if kind_of(cell) != GRU:
        bias = both_biases(cell.bias_ih, cell.bias_hh)
        return (cell.weight_hh.new_zeros(G_H) if bias is None else bias), None
    H = cell.hidden_size
    if cell.bias_ih is None:
        return cell.weight_hh.new_zeros(G_H), cell.weight_hh.new_zeros(H)
    b_rz = torch.cat([cell.bias_hh[: 2 * H], cell.bias_hh.new_zeros(H)])  # b_hr, b_hz join the input side
    return cell.bias_ih + b_rz, cell.bias_hh[2 * H :]


def input_side(cell: Cell, x: Tensor) -> tuple[Tensor, Tensor | None]:
    """All steps' input side ``(T, B, G*H)`` as one GEMM, the biases added, and the GRU's ``b_hn``
    (see :func:`biases`)."""
    bias, b_hn = biases(cell)
    return project(x, cell.weight_ih, bias), b_hn


def step(
    kind: int, u: Tensor, y: Tensor, h: Tensor, c: Tensor | None, b_hn: Tensor | None
) -> tuple[Tensor, Tensor | None]:
    """One step in PyTorch operations: ``(h', c')`` from the input and recurrent parts ``u, y (B, G*H)``."""
    a = u + y
    if kind in (LSTM, NOFG):
        if kind == LSTM:
            i, f, g, o = a.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        else:
            i, g, o = a.chunk(3, dim=1)
            c = c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    if kind == GRU:
        H = h.shape[1]
        r, z = torch.sigmoid(a[:, : 2 * H]).chunk(2, dim=1)
        n = torch.tanh(u[:, 2 * H :] + r * (y[:, 2 * H :] + b_hn))
        return n + z * (h - n), None
    act = {3: torch.tanh, 4: torch.sigmoid, 5: torch.relu, 6: lambda v: v}[kind]
    return act(a), None


def _python_loop(kind, u, out, h, c, w_hh, b_hn, lengths, reverse) -> tuple[Tensor, Tensor | None]:
    """The loop of ``csrc/infer.cpp`` in PyTorch operations (float64, or without the compiled loops)."""
    T, B = u.shape[0], u.shape[1]
    if reverse:
        u = reverse_padded(u, lengths)
    rec = Matmul(w_hh, B)
    ys = out.new_zeros(T, B, h.shape[1])
    for t in range(T):
        h_next, c_next = step(kind, u[t], rec(h), h, c, b_hn)
        if lengths is not None:  # past a sequence's end its state stays and its output is zero
            valid = (t < lengths).to(h.device).unsqueeze(1)  # (B, 1)
            h_next = torch.where(valid, h_next, h)
            c_next = torch.where(valid, c_next, c) if c is not None else None
            ys[t] = h_next * valid
        else:
            ys[t] = h_next
        h, c = h_next, c_next
    out.copy_(reverse_padded(ys, lengths) if reverse else ys)
    return h, c


def run_direction(cell: Cell, x: Tensor, state: State, out: Tensor, lengths: Tensor | None, reverse: bool) -> State:
    """Run one layer and direction over ``x (T, B, D)``, writing ``h_t`` into ``out (T, B, H)``
    (rows may be strided); returns the state after each sequence's last valid step."""
    kind = kind_of(cell)
    h = state[0].clone(memory_format=torch.contiguous_format)
    c = state[1].clone(memory_format=torch.contiguous_format) if kind in (LSTM, NOFG) else None
    compiled = native.loops(x)
    if compiled is None or x.shape[1] == 0:
        u, b_hn = input_side(cell, x)
        h, c = _python_loop(kind, u, out, h, c, cell.weight_hh, b_hn, lengths, reverse)
        return (h,) if c is None else (h, c)
    bias, b_hn = biases(cell)  # added inside the loop: a GEMM with a bias makes one more pass over u
    u = project(x, cell.weight_ih)  # (T, B, G*H)
    rec = Matmul(cell.weight_hh, x.shape[1])
    lens = lengths.to(torch.int64).contiguous() if lengths is not None else None
    u, bias = u.contiguous(), bias.contiguous()
    compiled.infer_sequence(kind, u, bias, out, h, c, rec.weight, rec.packed, b_hn, lens, reverse)
    return (h,) if c is None else (h, c)


def run_stack(layer, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
    """A whole :class:`rnnlab.layers.Recurrent` forward-only over ``x (T, B, D)``: the outputs
    ``(T, B, dirs * H)`` and the final state, as its other paths give them."""
    T, B = x.shape[0], x.shape[1]
    dirs, finals = layer.num_directions, []
    for index in range(layer.num_layers):
        out = x.new_empty(T, B, dirs * layer.hidden_size)  # each direction writes its half
        for d in range(dirs):
            i = index * dirs + d
            half = out[:, :, d * layer.hidden_size : (d + 1) * layer.hidden_size]
            finals.append(run_direction(layer.layers[i], x, tuple(s[i] for s in state), half, lengths, d == 1))
        x = out
    return x, tuple(torch.stack(parts) for parts in zip(*finals))
