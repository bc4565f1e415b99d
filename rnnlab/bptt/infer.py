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
from rnnlab.bptt.common import Matmul, both_biases, loop_product, project
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
    if wants_grad(x, state):
        return False
    if torch.is_grad_enabled() and any(p.requires_grad for p in layer.parameters()):
        return False
    return all(kind_of(c) is not None for c in layer.layers) and not torch.is_autocast_enabled(x.device.type)


def wants_grad(x: Tensor, state: State) -> bool:
    """Whether a gradient is wanted of the input ``x`` or the initial ``state`` (whatever the weights)."""
    return torch.is_grad_enabled() and (x.requires_grad or any(s.requires_grad for s in state))


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


def stack_weights(cells: list[Cell]) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
    """What ``stack_step`` reads of a stack of standard cells of one kind, detached and contiguous:
    ``W_ih`` of the layers above the first (the first's input side is the caller's), ``W_hh`` and
    the input-side biases of all, and the GRU's ``b_hn`` (empty for the other cells)."""
    w_ih = [c.weight_ih.detach().contiguous() for c in cells[1:]]
    w_hh = [c.weight_hh.detach().contiguous() for c in cells]
    pairs = [biases(c) for c in cells]
    bias = [b.detach().contiguous() for b, _ in pairs]
    b_hn = [b.detach().contiguous() for _, b in pairs] if kind_of(cells[0]) == GRU else []
    return w_ih, w_hh, bias, b_hn


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


def _own_state(cell: Cell, state: State) -> tuple[Tensor, Tensor | None]:
    """Contiguous copies of ``h`` (and ``c`` for the LSTMs) that a loop updates in place."""
    h = state[0].clone(memory_format=torch.contiguous_format)
    c = state[1].clone(memory_format=torch.contiguous_format) if kind_of(cell) in (LSTM, NOFG) else None
    return h, c


def _compiled_args(
    cell: Cell, x: Tensor, state: State, out: Tensor, lengths: Tensor | None, split: bool
) -> tuple[list, int]:
    """``infer_sequence``'s arguments from ``u`` to ``lengths`` (``csrc/infer.cpp``): the input
    side without the biases (added inside the loop: a GEMM with a bias makes one more pass over
    ``u``), fresh copies of the state that the loop updates in place, the recurrent product; and
    the row blocks to run the batch in (one unless ``split``), for which the product is packed."""
    h, c = _own_state(cell, state)
    bias, b_hn = biases(cell)
    u = project(x, cell.weight_ih).contiguous()  # (T, B, G*H)
    rec, blocks = loop_product(cell.weight_hh, x.shape[1], split)
    lens = lengths.to(torch.int64).contiguous() if lengths is not None else None
    return [u, bias.contiguous(), out, h, c, rec.weight, rec.packed, b_hn, lens], blocks


def _final(args: list) -> State:
    h, c = args[3], args[4]
    return (h,) if c is None else (h, c)


def run_direction(cell: Cell, x: Tensor, state: State, out: Tensor, lengths: Tensor | None, reverse: bool) -> State:
    """Run one layer and direction over ``x (T, B, D)``, writing ``h_t`` into ``out (T, B, H)``
    (rows may be strided); returns the state after each sequence's last valid step."""
    kind = kind_of(cell)
    compiled = native.loops(x)
    if compiled is None or x.shape[1] == 0:
        h, c = _own_state(cell, state)
        u, b_hn = input_side(cell, x)
        h, c = _python_loop(kind, u, out, h, c, cell.weight_hh, b_hn, lengths, reverse)
        return (h,) if c is None else (h, c)
    args, blocks = _compiled_args(cell, x, state, out, lengths, True)
    compiled.infer_sequence(kind, *args, reverse, blocks)
    return _final(args)


# Both directions of a bidirectional layer run at once, one per thread (``infer_directions``),
# up to a batch of BOTH_DIRECTIONS_MAX_BATCH and while one direction's W_hh takes at most
# BOTH_DIRECTIONS_MAX_WEIGHT bytes; otherwise the directions run one after another, each step's
# GEMM and element-wise pass spread over the threads. ``benchmarks/two_cores.py`` on 2 threads
# (T 100, I 64, medians of 9), time of one after another over both at once, load 1.2-1.3:
# LSTM H 256 1.34, 1.23, 1.14, 1.02 at batch 1, 4, 8, 32; GRU H 256 1.71, 1.42, 1.31, 1.01; tanh
# RNN H 256 2.01, 1.48, 1.60, 1.41, 1.28 at batch 1, 4, 8, 16, 32 (load 0.8-2.7). With W_hh past
# a core's share of L2 (2 MiB here) both at once loses: LSTM H 512 (4 MiB) 0.84-0.89 at batch
# 1-8, GRU H 512 (3 MiB) 0.59-0.72; the tanh RNN's 1 MiB at H 512 still wins 1.37 at batch 1.
BOTH_DIRECTIONS_MAX_BATCH = 16
BOTH_DIRECTIONS_MAX_WEIGHT = 1 << 20


def both_at_once(layer, x: Tensor) -> bool:
    """Whether :func:`run_stack` runs the two directions of each layer side by side."""
    w_hh = layer.layers[0].weight_hh
    return (
        layer.num_directions == 2
        and torch.get_num_threads() >= 2
        and 0 < x.shape[1] <= BOTH_DIRECTIONS_MAX_BATCH
        and w_hh.numel() * w_hh.element_size() <= BOTH_DIRECTIONS_MAX_WEIGHT
        and native.loops(x) is not None
    )


def run_directions(cells: list[Cell], x: Tensor, states: list[State], outs: list[Tensor], lengths) -> list[State]:
    """Both directions of one layer (:func:`run_direction` for each), the two on two threads."""
    args = [_compiled_args(c, x, s, o, lengths, False)[0] for c, s, o in zip(cells, states, outs)]
    per_direction = [list(pair) for pair in zip(*(a[:-1] for a in args))]
    native.loops(x).infer_directions(kind_of(cells[0]), *per_direction, args[0][-1])
    return [_final(a) for a in args]


def run_stack(layer, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
    """A whole :class:`rnnlab.layers.Recurrent` forward-only over ``x (T, B, D)``: the outputs
    ``(T, B, dirs * H)`` and the final state, as its other paths give them."""
    T, B = x.shape[0], x.shape[1]
    dirs, H, finals = layer.num_directions, layer.hidden_size, []
    together = both_at_once(layer, x)
    for index in range(layer.num_layers):
        out = x.new_empty(T, B, dirs * H)  # each direction writes its half
        cells = [layer.layers[index * dirs + d] for d in range(dirs)]
        states = [tuple(s[index * dirs + d] for s in state) for d in range(dirs)]
        halves = [out[:, :, d * H : (d + 1) * H] for d in range(dirs)]
        if together:
            finals += run_directions(cells, x, states, halves, lengths)
        else:
            finals += [run_direction(cells[d], x, states[d], halves[d], lengths, d == 1) for d in range(dirs)]
        x = out
    return x, tuple(torch.stack(parts) for parts in zip(*finals))
