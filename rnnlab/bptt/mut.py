"""Explicit BPTT for MUT1, MUT2 and MUT3 (see :mod:`rnnlab.cells.mut` for the equations).

All three share ``r = sigm(u_r + W_hr h)``, ``n = tanh(u_h + W_hh (r * h))``,
``h' = h + z (n - h)`` and differ in ``z``: from the input only (MUT1), from ``h`` (MUT2, whose
``W_hz`` and ``W_hr`` then form one GEMM) or from ``tanh(h)`` (MUT3). The input sides ``u`` of all
steps come from the cell's own ``input_side`` under autograd. Backward per step, with ``g`` the
total ``dL/dh_t``::

    dN = g z (1 - n^2)      dZ = g (n - h) z(1-z)      dq = dN W_hh      dR = dq h r(1-r)
    dh_{t-1} = g (1 - z) + dq r + dR W_hr + [dZ W_hz | (dZ W_hz)(1 - tanh(h)^2)]
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.bptt import native
from rnnlab.bptt.common import (
    Matmul,
    first_order,
    gradient_buffer,
    record_norms,
    recurrent_weight_grad,
    save,
    sigmoid_backward,
    tanh_backward,
    weight_grad,
)


def _forward_loop(z_from, u_zr, u_h, h0, rec: Matmul, rec_n: Matmul, rec_z: Matmul | None):
    """The forward loop in PyTorch operations: ``(zr, qs, ns, hs, ths)``."""
    T, B, H = u_h.shape
    zr = torch.empty_like(u_zr)  # z | r activations
    qs, ns, hs = torch.empty_like(u_h), torch.empty_like(u_h), torch.empty_like(u_h)
    ths = torch.empty_like(u_h) if z_from == "tanh" else None
    if z_from == "input":
        torch.sigmoid(u_zr[:, :, :H], out=zr[:, :, :H])
    h = h0
    for t in range(T):
        if z_from == "h":
            rec.plus(u_zr[t], h, out=zr[t])
        else:
            rec.plus(u_zr[t, :, H:], h, out=zr[t, :, H:])
            if z_from == "tanh":
                rec_z.plus(u_zr[t, :, :H], torch.tanh(h, out=ths[t]), out=zr[t, :, :H])
        if z_from == "input":
            zr[t, :, H:].sigmoid_()
        else:
            zr[t].sigmoid_()
        q = torch.mul(zr[t, :, H:], h, out=qs[t])
        n = rec_n.plus(u_h[t], q, out=ns[t]).tanh_()
        h = torch.lerp(h, n, zr[t, :, :H], out=hs[t])
    return zr, qs, ns, hs, ths


def _backward_loop(z_from, d_hs, h0, zr, ns, hs, ths, rec_t: Matmul, rec_n_t: Matmul, rec_z_t: Matmul | None):
    """The backward loop in PyTorch operations: ``(d_zr, d_n, dh, dh0)``."""
    T, H = hs.shape[0], hs.shape[2]
    z, r = zr[:, :, :H], zr[:, :, H:]
    h_prev = torch.cat([h0.unsqueeze(0), hs[:-1]])
    # factors that do not depend on the incoming gradient, for all steps at once
    n_factor = tanh_backward(z, ns)  # dN = g * this
    z_factor = sigmoid_backward(ns - h_prev, z)  # dZ = g * this
    r_factor = sigmoid_backward(h_prev, r)  # dR = dq * this
    keep = 1 - z  # g's direct path to h_{t-1}
    dh = gradient_buffer(d_hs, hs)
    dh0 = torch.zeros_like(h0)
    d_zr, d_n = torch.zeros_like(zr), torch.empty_like(hs)
    for t in range(T - 1, -1, -1):
        g = dh[t]
        dq = rec_n_t(torch.mul(g, n_factor[t], out=d_n[t]))
        torch.mul(dq, r_factor[t], out=d_zr[t, :, H:])
        target = dh[t - 1] if t > 0 else dh0
        target.addcmul_(g, keep[t]).addcmul_(dq, r[t])
        if z_from == "input":
            rec_t.add_to(target, d_zr[t, :, H:])
            continue
        torch.mul(g, z_factor[t], out=d_zr[t, :, :H])
        if z_from == "h":
            rec_t.add_to(target, d_zr[t])
        else:
            rec_t.add_to(target, d_zr[t, :, H:])
            target.add_(tanh_backward(rec_z_t(d_zr[t, :, :H]), ths[t]))
    if z_from == "input":
        torch.mul(dh, z_factor, out=d_zr[:, :, :H])
    return d_zr, d_n, dh, dh0


ZMODES = {"input": 0, "h": 1, "tanh": 2}  # the compiled loops' numbering


class MUTSequence(torch.autograd.Function):
    """One MUT layer over a sequence. ``z_from`` is "input" (MUT1), "h" (MUT2) or "tanh" (MUT3).

    ``w_rec`` is ``W_hr`` (``[W_hz; W_hr]`` for MUT2), ``w_hz`` is MUT3's ``W_hz`` (else ``None``).
    Returns ``h`` for every step ``(T, B, H)``.
    """

    @staticmethod
    def forward(ctx, z_from, u_zr, u_h, h0, w_rec, w_hh, w_hz):
        B = u_h.shape[1]
        rec, rec_n = Matmul(w_rec, B), Matmul(w_hh, B)
        rec_z = Matmul(w_hz, B) if z_from == "tanh" else None
        compiled = native.loops(u_h)
        if compiled is not None:
            zr, qs, ns, hs, ths = compiled.mut_forward(
                u_zr.contiguous(), u_h.contiguous(), h0.contiguous(), rec.weight, rec.packed, rec_n.weight,
                rec_n.packed, *((rec_z.weight, rec_z.packed) if rec_z else (None, None)), ZMODES[z_from],
            )  # fmt: skip
            ths = ths if z_from == "tanh" else None
        else:
            zr, qs, ns, hs, ths = _forward_loop(z_from, u_zr, u_h, h0, rec, rec_n, rec_z)
        ctx.z_from = z_from
        save(ctx, h0, w_rec, w_hh, w_hz, zr, qs, ns, hs, ths)
        return hs

    @staticmethod
    @first_order
    def backward(ctx, d_hs):
        h0, w_rec, w_hh, w_hz, zr, qs, ns, hs, ths = ctx.saved_tensors
        z_from = ctx.z_from
        T, B, H = hs.shape
        rec_t, rec_n_t = Matmul(w_rec.t(), B), Matmul(w_hh.t(), B)
        rec_z_t = Matmul(w_hz.t(), B) if z_from == "tanh" else None
        compiled = native.loops(hs)
        if compiled is not None:
            d_zr, d_n, dh, dh0 = compiled.mut_backward(
                d_hs.contiguous(), h0.contiguous(), zr, ns, hs, ths if ths is not None else hs, rec_t.weight,
                rec_t.packed, rec_n_t.weight, rec_n_t.packed,
                *((rec_z_t.weight, rec_z_t.packed) if rec_z_t else (None, None)), ZMODES[z_from],
            )  # fmt: skip
        else:
            d_zr, d_n, dh, dh0 = _backward_loop(z_from, d_hs, h0, zr, ns, hs, ths, rec_t, rec_n_t, rec_z_t)
        record_norms(ctx, dh)
        need = ctx.needs_input_grad
        d_w_rec = d_w_hh = d_w_hz = None
        if need[4]:
            d_w_rec = recurrent_weight_grad(d_zr if z_from == "h" else d_zr[:, :, H:], h0, hs)
        if need[5]:
            d_w_hh = weight_grad(d_n, qs)
        if z_from == "tanh" and need[6]:
            d_w_hz = weight_grad(d_zr[:, :, :H], ths)
        return None, d_zr, d_n, dh0, d_w_rec, d_w_hh, d_w_hz


def mut_sequence(cell, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run a MUT cell over ``x (T, B, D)``; returns outputs and the sequence of ``h``."""
    u_z, u_r, u_h = cell.input_side(x)
    z_from = {1: "input", 2: "h", 3: "tanh"}[cell.variant]
    w_rec = torch.cat([cell.weight_hz, cell.weight_hr]) if z_from == "h" else cell.weight_hr
    w_hz = cell.weight_hz if z_from == "tanh" else None
    hs = MUTSequence.apply(z_from, torch.cat([u_z, u_r], dim=2), u_h, state[0], w_rec, cell.weight_hh, w_hz)
    return hs, (hs,)
