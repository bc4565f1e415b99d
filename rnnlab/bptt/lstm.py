"""Explicit BPTT for the LSTM family: with or without forget gate, coupled gates, peepholes.

Forward: one GEMM for the input projections of all steps; per step the recurrent product added
in place and the gate non-linearities applied in place, so the buffer ends up holding the gate
activations backward needs. Before the backward loop, every factor that does not depend on the
incoming gradient is computed for all steps at once, so that backward per step is a handful of
element-wise operations and one GEMM (``d_pre_t @ W_hh``, fused with adding the output's
``dL/dh_{t-1}``). Weight gradients are one GEMM each over all steps.

Forward saves the gates, ``h`` and ``c`` of every step; backward takes ``tc = tanh(c_t)`` again
from ``c_t`` (one tanh an element, where saving it would hold ``T*B*H`` floats more between
forward and backward), and keeps ``dL/dh_t`` of every step only for a :class:`GradientFlow`.

Per step, with ``tc = tanh(c_t)`` and the pre-activation gradients written ``dI, dF, dG, dO``::

    dO = dh * tc * o(1-o)
    dc = dc + dh * (o (1 - tc^2) + tc o(1-o) p_o)
    dI = dc * g i(1-i)          (CIFG: dc * (g - c_{t-1}) i(1-i))
    dF = dc * c_{t-1} f(1-f)    dG = dc * i (1 - g^2)
    dc_{t-1} = dc * (f + [p_i g i(1-i) + p_f c_{t-1} f(1-f)])   (1997: dc; CIFG: dc * (1 - i))
    dh_{t-1} = [dI, dF, dG, dO] @ W_hh
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.bptt import native
from rnnlab.bptt.common import (
    Matmul,
    both_biases,
    first_order,
    gradient_buffer,
    loop_product,
    project,
    record_norms,
    recording,
    recurrent_weight_grad,
    save,
    sigmoid_backward,
    tanh_backward,
)


def with_previous(fn, c0: Tensor, cs: Tensor, out: Tensor) -> None:
    """``fn(c_{t-1}, steps, out[steps])`` for all steps, where ``c_{-1} = c0`` and ``c_{t-1} = cs[t-1]`` after."""
    fn(c0, 0, out[0])
    if out.shape[0] > 1:
        fn(cs[:-1], slice(1, None), out[1:])


def _forward_loop(mode: str, u: Tensor, h0: Tensor, c0: Tensor, rec: Matmul, peep: Tensor | None):
    """The forward loop in PyTorch operations (float64, or where the compiled loops are absent)."""
    T, B, H = u.shape[0], u.shape[1], h0.shape[1]
    G = 4 if mode == "lstm" else 3
    acts = torch.empty_like(u)  # (T, B, G*H): pre-activations, then activations in place
    hs, cs = u.new_empty(T, B, H), u.new_empty(T, B, H)
    sig = 2 * H if mode == "lstm" else H  # i (and f) are the leading sigmoid gates
    g_at = slice(sig, sig + H)
    o_at = slice((G - 1) * H, G * H)
    h, c = h0, c0
    for t in range(T):
        a = rec.plus(u[t], h, out=acts[t])
        if peep is not None:  # i and f see c_{t-1}
            a[:, :H].addcmul_(c, peep[0])
            a[:, H : 2 * H].addcmul_(c, peep[1])
        i = a[:, :H]
        a[:, :sig].sigmoid_()
        g = a[:, g_at].tanh_()
        c_next = cs[t]
        if mode == "lstm":
            torch.mul(a[:, H : 2 * H], c, out=c_next).addcmul_(i, g)
        elif mode == "nofg":
            torch.addcmul(c, i, g, out=c_next)
        else:  # CIFG: c + i * (g - c)
            torch.sub(g, c, out=c_next).mul_(i).add_(c)
        if peep is not None:  # o sees c_t
            a[:, o_at].addcmul_(c_next, peep[2])
        o = a[:, o_at].sigmoid_()
        torch.mul(o, torch.tanh(c_next), out=hs[t])
        h, c = hs[t], c_next
    return acts, hs, cs


def _backward_loop(mode, d_hs, d_cs, acts, hs, cs, c0, rec: Matmul, peep):
    """The backward loop in PyTorch operations: ``(d_pre, dh, dh0, dc0)``."""
    T, B, H = hs.shape
    tcs = torch.tanh(cs)
    G = acts.shape[2] // H
    a = acts.view(T, B, G, H)
    i, o = a[:, :, 0], a[:, :, G - 1]
    g = a[:, :, 2] if mode == "lstm" else a[:, :, 1]
    # every factor that does not depend on the incoming gradient, for all steps at once
    do_factor = sigmoid_backward(tcs, o, grad_input=torch.empty_like(o))  # dO = dh * this
    dc_factor = tanh_backward(o, tcs, grad_input=torch.empty_like(o))  # dc += dh * this
    if peep is not None:
        dc_factor.addcmul_(do_factor, peep[2])
    lead = hs.new_empty(T, B, G - 1, H)  # dI, [dF,] dG = dc * this, in buffer order
    if mode == "cifg":
        with_previous(lambda cp, s, out: sigmoid_backward(g[s] - cp, i[s], grad_input=out), c0, cs, lead[:, :, 0])
    else:
        sigmoid_backward(g, i, grad_input=lead[:, :, 0])
    carry = None  # dc_{t-1} = dc * carry (None: dc_{t-1} = dc)
    if mode == "lstm":
        f = a[:, :, 1]
        with_previous(lambda cp, s, out: sigmoid_backward(cp, f[s], grad_input=out), c0, cs, lead[:, :, 1])
        carry = f
        if peep is not None:
            carry = torch.addcmul(f, lead[:, :, 0], peep[0]).addcmul_(lead[:, :, 1], peep[1])
    elif mode == "cifg":
        carry = 1 - i
    tanh_backward(i, g, grad_input=lead[:, :, G - 2])

    d_pre = torch.empty_like(a)  # (T, B, G, H)
    # dh[t] starts as the output's gradient and receives the recurrent one in place
    dh = gradient_buffer(d_hs, hs)
    dc = hs.new_zeros(B, H)
    for t in range(T - 1, -1, -1):
        if d_cs is not None:
            dc.add_(d_cs[t])
        dc.addcmul_(dh[t], dc_factor[t])
        torch.mul(dc.unsqueeze(1), lead[t], out=d_pre[t, :, : G - 1])
        torch.mul(dh[t], do_factor[t], out=d_pre[t, :, G - 1])
        if carry is not None:
            dc.mul_(carry[t])
        if t > 0:
            rec.add_to(dh[t - 1], d_pre[t].view(B, G * H))
    dh0 = rec(d_pre[0].view(B, G * H))
    return d_pre.view(T, B, G * H), dh, dh0, dc


def _contiguous(t: Tensor | None) -> Tensor | None:
    return t.contiguous() if t is not None else None


MODES = {"lstm": 0, "nofg": 1, "cifg": 2}  # the compiled loops' numbering


class LSTMSequence(torch.autograd.Function):
    """One layer and direction of an LSTM-family cell over a whole sequence.

    ``mode`` is "lstm" (gates i, f, g, o), "nofg" (i, g, o; the 1997 cell) or "cifg" (i, g, o
    with f = 1 - i). ``peep`` is ``(3, H)`` peephole weights (only with "lstm") or ``None``.
    Returns the sequences of ``h`` and ``c``, each ``(T, B, H)``.
    """

    @staticmethod
    def forward(ctx, mode, u, h0, c0, w_hh, peep):
        B = u.shape[1]
        compiled = native.loops(u)
        rec, blocks = loop_product(w_hh, B, compiled is not None)
        if compiled is not None:
            acts, hs, cs = compiled.lstm_forward(
                u.contiguous(), h0.contiguous(), c0.contiguous(), rec.weight, rec.packed, peep, MODES[mode], blocks
            )
        else:
            acts, hs, cs = _forward_loop(mode, u, h0, c0, rec, peep)
        G = 4 if mode == "lstm" else 3
        ctx.mode, ctx.G = mode, G
        ctx.set_materialize_grads(False)  # an unused c sequence arrives as None, not zeros
        save(ctx, h0, c0, w_hh, peep, acts, hs, cs)
        return hs, cs

    @staticmethod
    @first_order
    def backward(ctx, d_hs, d_cs):
        h0, c0, w_hh, peep, acts, hs, cs = ctx.saved_tensors
        mode, G = ctx.mode, ctx.G
        T, B, H = hs.shape
        compiled = native.loops(hs)
        rec, blocks = loop_product(w_hh.t(), B, compiled is not None)
        if compiled is not None:
            d_pre, dh, dh0, dc = compiled.lstm_backward(
                _contiguous(d_hs), _contiguous(d_cs), acts, cs, c0.contiguous(), rec.weight, rec.packed, peep,
                MODES[mode], recording(ctx), blocks,
            )  # fmt: skip
        else:
            d_pre, dh, dh0, dc = _backward_loop(mode, d_hs, d_cs, acts, hs, cs, c0, rec, peep)
        record_norms(ctx, dh)
        need = ctx.needs_input_grad
        dw_hh = recurrent_weight_grad(d_pre, h0, hs) if need[4] else None
        d_peep = None
        if peep is not None and need[5]:  # p_i, p_f read c_{t-1}; p_o reads c_t
            d_if = d_pre.view(T, B, G, H)[:, :, :2]
            d_p_if = (d_if[0] * c0.unsqueeze(1)).sum(0)
            if T > 1:
                d_p_if += (d_if[1:] * cs[:-1].unsqueeze(2)).sum((0, 1))
            d_peep = torch.cat([d_p_if, (d_pre[:, :, 3 * H :] * cs).sum((0, 1)).unsqueeze(0)])
        return None, d_pre, dh0, dc, dw_hh, d_peep


def _lstm_family(mode: str, cell, x: Tensor, state: tuple[Tensor, ...], peep: Tensor | None = None):
    """The one Function of the family, in the mode (and with the peepholes) each cell names."""
    u = project(x, cell.weight_ih, both_biases(cell.bias_ih, cell.bias_hh))  # all steps' input side, one GEMM
    hs, cs = LSTMSequence.apply(mode, u, state[0], state[1], cell.weight_hh, peep)
    return hs, (hs, cs)


def lstm_sequence(cell, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run an LSTM cell (with or without forget gate) over ``x (T, B, D)``; returns outputs and the
    sequences of ``(h, c)``."""
    return _lstm_family("lstm" if cell.gates == 4 else "nofg", cell, x, state)


def peephole_lstm_sequence(cell, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
    """:func:`lstm_sequence` for the peephole LSTM (its gates also read ``c``)."""
    return _lstm_family("lstm", cell, x, state, cell.weight_peep)


def cifg_lstm_sequence(cell, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
    """:func:`lstm_sequence` for the CIFG LSTM (forget gate ``1 - i``)."""
    return _lstm_family("cifg", cell, x, state)
