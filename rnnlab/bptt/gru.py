"""Explicit BPTT for the GRU in PyTorch's formulation (the ``torch.nn.GRU`` documentation)::

    r = sigmoid(u_r + W_hr h + b_hr)        z = sigmoid(u_z + W_hz h + b_hz)
    n = tanh(u_n + r * (W_hn h + b_hn))     h' = (1 - z) n + z h

with ``u = W_ih x + b_ih`` for all steps as one GEMM. The reset gate multiplies the recurrent
product *after* it is taken, so ``b_hr`` and ``b_hz`` add to ``u`` like ``b_ih`` and are folded
into it, while ``b_hn`` stays inside the step. Forward per step: one GEMM ``h @ W_hh^T (B, 3H)``
and one element-wise pass saving ``r, z, n`` and ``y_n = W_hn h + b_hn``. Backward per step,
with ``g`` the total ``dL/dh_t``::

    dZ = g (h_{t-1} - n) z(1-z)      dN = g (1 - z)(1 - n^2)
    dR = dN y_n r(1-r)               dY_n = dN r
    dh_{t-1} = g z + [dR, dZ, dY_n] @ W_hh

The input side's gradient is ``[dR, dZ, dN]``; ``dW_hh`` is one GEMM of ``[dR, dZ, dY_n]`` with the
previous states over all steps, after which ``dN`` is written over ``dY_n``: one ``(T, B, 3H)``
buffer for both sides. ``dN`` goes over the outputs' gradient where that is a private copy, and
``dL/dh_t`` of every step is kept only for a :class:`~rnnlab.bptt.common.GradientFlow`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.bptt import common, native
from rnnlab.bptt.common import Matmul


def _forward_loop(u: Tensor, h0: Tensor, b_hn: Tensor, rec: Matmul) -> tuple[Tensor, Tensor, Tensor]:
    """The forward loop in PyTorch operations (float64, or where the compiled loops are absent)."""
    T, B, H = u.shape[0], u.shape[1], h0.shape[1]
    acts = torch.empty_like(u)  # (T, B, 3H): r, z, n
    yns, hs = u.new_empty(T, B, H), u.new_empty(T, B, H)
    h = h0
    for t in range(T):
        y = rec(h)  # (B, 3H)
        a = acts[t]
        torch.add(u[t, :, : 2 * H], y[:, : 2 * H], out=a[:, : 2 * H]).sigmoid_()
        y_n = torch.add(y[:, 2 * H :], b_hn, out=yns[t])
        n = torch.addcmul(u[t, :, 2 * H :], a[:, :H], y_n, out=a[:, 2 * H :]).tanh_()
        h = torch.lerp(n, h, a[:, H : 2 * H], out=hs[t])  # n + z (h - n)
    return acts, yns, hs


def _backward_loop(d_hs: Tensor, h0: Tensor, acts: Tensor, yns: Tensor, hs: Tensor, rec_t: Matmul):
    """The backward loop in PyTorch operations: ``(d_rec, dn, dh, dh0)``."""
    T, B, H = hs.shape
    r, z, n = acts[:, :, :H], acts[:, :, H : 2 * H], acts[:, :, 2 * H :]
    h_prev = torch.cat([h0.unsqueeze(0), hs[:-1]])  # (T, B, H)
    # the factors that do not depend on the incoming gradient, for all steps at once
    z_factor = (h_prev - n) * z * (1 - z)  # dZ = g * this
    n_factor = (1 - z) * (1 - n * n)  # dN = g * this
    r_factor = yns * r * (1 - r)  # dR = dN * this
    dh = common.gradient_buffer(d_hs, hs)  # receives the recurrent part in place
    d_rec, dns = torch.empty_like(acts), torch.empty_like(hs)  # [dR, dZ, dY_n], dN
    dh0 = torch.empty_like(h0)
    for t in range(T - 1, -1, -1):
        g = dh[t]
        dn = torch.mul(g, n_factor[t], out=dns[t])
        torch.mul(dn, r_factor[t], out=d_rec[t, :, :H])
        torch.mul(g, z_factor[t], out=d_rec[t, :, H : 2 * H])
        torch.mul(dn, r[t], out=d_rec[t, :, 2 * H :])
        target = dh[t - 1] if t > 0 else dh0.zero_()
        rec_t.add_to(target.addcmul_(g, z[t]), d_rec[t])
    return d_rec, dns, dh, dh0


class GRUSequence(torch.autograd.Function):
    """One GRU layer and direction over a whole sequence; returns ``h`` for every step ``(T, B, H)``.

    ``u (T, B, 3H)`` is the input side with ``b_ih`` and ``b_hr, b_hz`` in it; ``b_hn (H,)``.
    """

    @staticmethod
    def forward(ctx, u, h0, w_hh, b_hn):
        B = u.shape[1]
        compiled = native.loops(u)
        rec, blocks = common.loop_product(w_hh, B, compiled is not None)
        if compiled is not None:
            acts, yns, hs = compiled.gru_forward(
                u.contiguous(), h0.contiguous(), rec.weight, rec.packed, b_hn.contiguous(), blocks
            )
        else:
            acts, yns, hs = _forward_loop(u, h0, b_hn, rec)
        common.save(ctx, h0, w_hh, acts, yns, hs)
        return hs

    @staticmethod
    @common.first_order
    def backward(ctx, d_hs):
        h0, w_hh, acts, yns, hs = ctx.saved_tensors
        H = hs.shape[2]
        compiled = native.loops(hs)
        rec_t, blocks = common.loop_product(w_hh.t(), hs.shape[1], compiled is not None)
        if compiled is not None:
            d_rec, dn, dh, dh0 = compiled.gru_backward(
                *common.own_contiguous(d_hs), h0.contiguous(), acts, yns, hs, rec_t.weight, rec_t.packed,
                common.recording(ctx), blocks,
            )  # fmt: skip
        else:
            d_rec, dn, dh, dh0 = _backward_loop(d_hs, h0, acts, yns, hs, rec_t)
        common.record_norms(ctx, dh)
        need = ctx.needs_input_grad
        dw_hh = common.recurrent_weight_grad(d_rec, h0, hs) if need[2] else None
        d_b_hn = d_rec[:, :, 2 * H :].sum((0, 1)) if need[3] else None
        d_u = None
        if need[0]:  # dR and dZ are the same on both sides; dN in place of dY_n
            d_u = d_rec
            d_u[:, :, 2 * H :] = dn
        return d_u, dh0, dw_hh, d_b_hn


def gru_sequence(cell, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run a GRU cell over ``x (T, B, D)``; returns outputs and the sequence of ``h``."""
    H = cell.hidden_size
    if cell.bias_ih is None:
        u = common.project(x, cell.weight_ih)  # (T, B, 3H)
        b_hn = x.new_zeros(H)
    else:  # b_hr and b_hz add to the input side; b_hn is multiplied by r inside the step
        b_rz = torch.cat([cell.bias_hh[: 2 * H], cell.bias_hh.new_zeros(H)])  # (3H,)
        u = common.project(x, cell.weight_ih, cell.bias_ih + b_rz)  # (T, B, 3H)
        b_hn = cell.bias_hh[2 * H :]
    hs = GRUSequence.apply(u, state[0], cell.weight_hh, b_hn)
    return hs, (hs,)
