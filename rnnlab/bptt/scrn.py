"""Explicit BPTT for SCRN: a linear context scan, then a sigmoid Elman layer.

The context units ``s_t = v_t + a s_{t-1}`` (``v_t = (1 - a) B x_t``) do not depend on ``h``, so
they are one scan over the sequence (:class:`ContextScan`, hand-written backward); the hidden
layer's input side ``A x_t + P s_t + b`` is then one GEMM per term over all steps, and ``h`` is
the sigmoid case of :class:`rnnlab.bptt.elman.ElmanSequence`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.bptt.common import first_order, gradient_buffer, project
from rnnlab.bptt.elman import ElmanSequence


class ContextScan(torch.autograd.Function):
    """``s_t = v_t + a s_{t-1}`` for a float ``a`` or one ``a`` per unit ``(C,)``; returns ``s (T, B, C)``."""

    @staticmethod
    def forward(ctx, v, s0, a):
        s = torch.empty_like(v)
        prev = s0
        for t in range(v.shape[0]):
            prev = (
                torch.addcmul(v[t], prev, a, out=s[t])
                if isinstance(a, Tensor)
                else torch.add(v[t], prev, alpha=a, out=s[t])
            )
        ctx.a = a if not isinstance(a, Tensor) else None
        ctx.save_for_backward(s0, s, a if isinstance(a, Tensor) else None)
        return s

    @staticmethod
    @first_order
    def backward(ctx, d_s):
        s0, s, a_vec = ctx.saved_tensors
        a = a_vec if a_vec is not None else ctx.a
        ds = gradient_buffer(d_s, s)
        for t in range(ds.shape[0] - 1, 0, -1):
            if a_vec is not None:
                ds[t - 1].addcmul_(ds[t], a)
            else:
                ds[t - 1].add_(ds[t], alpha=a)
        d_s0 = ds[0] * a
        d_a = None
        if a_vec is not None and ctx.needs_input_grad[2]:
            d_a = (ds[0] * s0).sum(0)
            if ds.shape[0] > 1:
                d_a += (ds[1:] * s[:-1]).sum((0, 1))
        return ds, d_s0, d_a


def scrn_sequence(cell, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run an SCRN cell over ``x (T, B, D)``; returns outputs ``[h; s]`` and the sequences of ``(h, s)``."""
    h0, s0 = state[0], state[1]
    a = cell.decay()
    s = ContextScan.apply(project(x, cell.weight_xs) * (1 - a), s0, a)
    context = torch.cat([s0.unsqueeze(0), s[:-1]]) if cell.previous_context else s
    u = project(x, cell.weight_xh, cell.bias_h) + project(context, cell.weight_sh)
    hs = ElmanSequence.apply("sigmoid", u, h0, cell.weight_hh)
    return torch.cat([hs, s], dim=2), (hs, s)
