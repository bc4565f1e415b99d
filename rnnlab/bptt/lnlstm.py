"""Explicit BPTT for the layer-normalised LSTM (see :mod:`rnnlab.cells.lstm_variants`).

``LN(W x) + b`` of all steps is one GEMM and one normalisation under autograd before the loop.
Per step: the recurrent product, its normalisation (``native_layer_norm``, which also returns the
mean and inverse deviation backward needs), the gates, the cell and its normalisation. Backward
per step uses ``native_layer_norm_backward`` for the two normalisations' input gradients; their
gains and shifts get their gradients once, over all steps, after the loop.
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
)

layer_norm_backward = torch.ops.aten.native_layer_norm_backward


class LayerNormLSTMSequence(torch.autograd.Function):
    """``u`` is ``LN(W x) + b`` for all steps ``(T, B, 4H)``; returns ``h`` and ``c`` sequences."""

    @staticmethod
    def forward(ctx, u, h0, c0, w_hh, gain_hh, gain_c, shift_c, eps):
        T, B, H = u.shape[0], u.shape[1], h0.shape[1]
        acts = torch.empty_like(u)
        hs, cs, tcs = u.new_empty(T, B, H), u.new_empty(T, B, H), u.new_empty(T, B, H)
        vs, stats_hh, stats_c = [], [], []
        rec, h, c = Matmul(w_hh, B), h0, c0
        for t in range(T):
            v = rec(h)
            y, mean, rstd = torch.native_layer_norm(v, [4 * H], gain_hh, None, eps)
            a = torch.add(u[t], y, out=acts[t])
            i, f, g = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H]
            a[:, : 2 * H].sigmoid_()
            g.tanh_()
            o = a[:, 3 * H :].sigmoid_()
            c = torch.mul(f, c, out=cs[t]).addcmul_(i, g)
            cn, mean_c, rstd_c = torch.native_layer_norm(c, [H], gain_c, shift_c, eps)
            h = torch.mul(o, torch.tanh(cn, out=tcs[t]), out=hs[t])
            vs.append(v)
            stats_hh.append((mean, rstd))
            stats_c.append((mean_c, rstd_c))
        ctx.vs, ctx.stats_hh, ctx.stats_c = vs, stats_hh, stats_c
        ctx.set_materialize_grads(False)
        save(ctx, h0, c0, w_hh, gain_hh, gain_c, shift_c, acts, hs, cs, tcs)
        return hs, cs

    @staticmethod
    @first_order
    def backward(ctx, d_hs, d_cs):
        h0, c0, w_hh, gain_hh, gain_c, shift_c, acts, hs, cs, tcs = ctx.saved_tensors
        T, B, H = hs.shape
        a = acts.view(T, B, 4, H)
        i, f, g, o = a.unbind(2)
        c_prev = torch.cat([c0.unsqueeze(0), cs[:-1]])
        # factors that do not depend on the incoming gradient, for all steps at once
        do_factor = sigmoid_backward(tcs, o)  # dO = dh * this
        dcn_factor = tanh_backward(o, tcs)  # dL/d LN(c) = dh * this
        lead = torch.stack([sigmoid_backward(g, i), sigmoid_backward(c_prev, f), tanh_backward(i, g)], dim=2)
        dh = gradient_buffer(d_hs, hs)
        dh0, dc = torch.zeros_like(h0), torch.zeros_like(c0)
        d_pre, d_cn, dvs = torch.empty_like(a), torch.empty_like(hs), torch.empty_like(acts)
        rec = Matmul(w_hh.t(), B)
        no_params = [True, False, False]
        for t in range(T - 1, -1, -1):
            if d_cs is not None:
                dc.add_(d_cs[t])
            mean_c, rstd_c = ctx.stats_c[t]
            dcn = torch.mul(dh[t], dcn_factor[t], out=d_cn[t])
            dc.add_(layer_norm_backward(dcn, cs[t], [H], mean_c, rstd_c, gain_c, shift_c, no_params)[0])
            torch.mul(dc.unsqueeze(1), lead[t], out=d_pre[t, :, :3])
            torch.mul(dh[t], do_factor[t], out=d_pre[t, :, 3])
            dc.mul_(f[t])
            mean, rstd = ctx.stats_hh[t]
            dv = layer_norm_backward(d_pre[t].view(B, 4 * H), ctx.vs[t], [4 * H], mean, rstd, gain_hh, None, no_params)
            dvs[t] = dv[0]
            rec.add_to(dh[t - 1] if t > 0 else dh0, dv[0])
        record_norms(ctx, dh)
        need = ctx.needs_input_grad
        d_pre = d_pre.view(T, B, 4 * H)
        d_w_hh = recurrent_weight_grad(dvs, h0, hs) if need[3] else None
        d_gain_hh = d_gain_c = d_shift_c = None
        if need[4]:
            mean, rstd = (torch.stack(s).reshape(T * B, 1) for s in zip(*ctx.stats_hh))
            vs = torch.stack(ctx.vs).view(T * B, 4 * H)
            grads = layer_norm_backward(
                d_pre.view(T * B, -1), vs, [4 * H], mean, rstd, gain_hh, None, [False, True, False]
            )
            d_gain_hh = grads[1]
        if need[5] or need[6]:
            mean_c, rstd_c = (torch.stack(s).reshape(T * B, 1) for s in zip(*ctx.stats_c))
            grads = layer_norm_backward(
                d_cn.view(T * B, H), cs.view(T * B, H), [H], mean_c, rstd_c, gain_c, shift_c, [False, True, True]
            )
            d_gain_c, d_shift_c = grads[1], grads[2]
        return d_pre, dh0, dc, d_w_hh, d_gain_hh, d_gain_c, d_shift_c, None


class CompiledLayerNormLSTMSequence(torch.autograd.Function):
    """The same as :class:`LayerNormLSTMSequence` on the compiled loops (float32 on the CPU)."""

    @staticmethod
    def forward(ctx, u, h0, c0, w_hh, gain_hh, gain_c, shift_c, eps):
        compiled = native.loops(u)
        rec = Matmul(w_hh, u.shape[1])
        acts, hs, cs, tcs, xh, rh, xc, rc = compiled.lnlstm_forward(
            u.contiguous(), h0.contiguous(), c0.contiguous(), rec.weight, rec.packed, gain_hh, gain_c, shift_c, eps
        )
        ctx.eps = eps
        ctx.set_materialize_grads(False)
        save(ctx, h0, c0, w_hh, gain_hh, gain_c, acts, hs, cs, tcs, xh, rh, xc, rc)
        return hs, cs

    @staticmethod
    @first_order
    def backward(ctx, d_hs, d_cs):
        h0, c0, w_hh, gain_hh, gain_c, acts, hs, cs, tcs, xh, rh, xc, rc = ctx.saved_tensors
        rec = Matmul(w_hh.t(), hs.shape[1])
        d_pre, dh, dh0, dc, dv, d_gain_hh, d_gain_c, d_shift_c = native.loops(hs).lnlstm_backward(
            *(t.contiguous() if t is not None else None for t in (d_hs, d_cs)),
            acts, cs, tcs, xh, rh, xc, rc, c0.contiguous(), rec.weight, rec.packed, gain_hh, gain_c, ctx.eps,
        )  # fmt: skip
        record_norms(ctx, dh)
        need = ctx.needs_input_grad
        d_w_hh = recurrent_weight_grad(dv, h0, hs) if need[3] else None
        return d_pre, dh0, dc, d_w_hh, d_gain_hh, d_gain_c, d_shift_c, None


def layer_norm_lstm_sequence(cell, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run a layer-normalised LSTM cell over ``x (T, B, D)``; returns outputs and the ``(h, c)`` sequences."""
    u = cell.ln_ih(torch.nn.functional.linear(x, cell.weight_ih))
    function = CompiledLayerNormLSTMSequence if native.loops(u) is not None else LayerNormLSTMSequence
    hs, cs = function.apply(
        u, state[0], state[1], cell.weight_hh, cell.ln_hh.weight, cell.ln_c.weight, cell.ln_c.bias, cell.eps
    )
    return hs, (hs, cs)
