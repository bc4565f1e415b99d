"""Explicit BPTT for the Elman family: ``h_t = f(u_t + W h_{t-1})`` with ``u`` the input side.

``u_t = W_ih x_t + b`` for all steps is one GEMM under autograd before the loop; the loop adds the
recurrent product and applies ``f`` in place, so the buffer of states is all backward needs
(each ``f'`` is a function of ``h``). Backward per step: one fused derivative op and one GEMM; the
compiled loop writes ``d_pre`` over the outputs' gradient where that is a private copy, and keeps
``dL/dh_t`` of every step only for a :class:`~rnnlab.bptt.common.GradientFlow`.
IRNN is the ReLU case; SCRN's hidden layer is the sigmoid case (:mod:`rnnlab.bptt.scrn`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.bptt import native
from rnnlab.bptt.common import (
    both_biases,
    first_order,
    gradient_buffer,
    loop_product,
    own_contiguous,
    project,
    record_norms,
    recording,
    recurrent_weight_grad,
    save,
    sigmoid_backward,
    tanh_backward,
)

ACTIVATE = {"tanh": torch.tanh_, "sigmoid": torch.sigmoid_, "relu": torch.relu_, "linear": None}
CODES = {"tanh": 0, "sigmoid": 1, "relu": 2, "linear": 3}  # the compiled loops' numbering


def derivative(activation: str, dh: Tensor, h: Tensor, out: Tensor) -> Tensor:
    """``out = dh * f'(pre)`` written through ``h = f(pre)``, one pass."""
    if activation == "tanh":
        return tanh_backward(dh, h, grad_input=out)
    if activation == "sigmoid":
        return sigmoid_backward(dh, h, grad_input=out)
    if activation == "relu":
        return torch.ops.aten.threshold_backward.grad_input(dh, h, 0, grad_input=out)
    return out.copy_(dh)


class ElmanSequence(torch.autograd.Function):
    """``h_t = f(u_t + W h_{t-1})`` over a whole sequence; returns ``h`` for every step ``(T, B, H)``."""

    @staticmethod
    def forward(ctx, activation, u, h0, w_hh):
        T, B = u.shape[0], u.shape[1]
        compiled = native.loops(u)
        rec, blocks = loop_product(w_hh, B, compiled is not None)
        if compiled is not None:
            hs = compiled.elman_forward(
                u.contiguous(), h0.contiguous(), rec.weight, rec.packed, CODES[activation], blocks
            )
        else:
            hs, act, h = torch.empty_like(u), ACTIVATE[activation], h0
            for t in range(T):
                h = rec.plus(u[t], h, out=hs[t])
                if act is not None:
                    act(h)
        ctx.activation = activation
        save(ctx, h0, w_hh, hs)
        return hs

    @staticmethod
    @first_order
    def backward(ctx, d_hs):
        h0, w_hh, hs = ctx.saved_tensors
        T, B = hs.shape[0], hs.shape[1]
        compiled = native.loops(hs)
        rec, blocks = loop_product(w_hh.t(), B, compiled is not None)
        if compiled is not None:
            d_pre, dh, dh0 = compiled.elman_backward(
                *own_contiguous(d_hs), hs, rec.weight, rec.packed, CODES[ctx.activation], recording(ctx), blocks
            )
        else:
            dh = gradient_buffer(d_hs, hs)  # receives the recurrent part in place
            d_pre = torch.empty_like(hs)
            for t in range(T - 1, 0, -1):
                rec.add_to(dh[t - 1], derivative(ctx.activation, dh[t], hs[t], d_pre[t]))
            dh0 = rec(derivative(ctx.activation, dh[0], hs[0], d_pre[0]))
        record_norms(ctx, dh)
        dw_hh = recurrent_weight_grad(d_pre, h0, hs) if ctx.needs_input_grad[3] else None
        return None, d_pre, dh0, dw_hh


def elman_sequence(cell, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run an Elman or IRNN cell over ``x (T, B, D)``; returns outputs and the sequence of ``h``."""
    u = project(x, cell.weight_ih, both_biases(cell.bias_ih, cell.bias_hh))
    hs = ElmanSequence.apply(cell.activation, u, state[0], cell.weight_hh)
    return hs, (hs,)
