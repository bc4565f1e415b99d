"""Explicit BPTT for the Clockwork RNN (see :mod:`rnnlab.cells.clockwork` for the equations).

With the clock shared by the batch, which modules run at each step is known before the loop.
Modules are ordered by period, so the active units are (nearly always) a prefix ``[:n]``: a step
computes only those rows of the recurrent product, ``h[:, :n] @ ...`` reads all of ``h`` but
writes ``n`` of ``H`` units, and the idle units copy their previous values. With periods
1, 2, 4, 8 that is under half the GEMM work of a full step. Where some module inside the prefix
is idle (periods that do not divide each other), a mask keeps its units. Batches whose clocks
differ take the reference step loop.
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
    project,
    record_norms,
    recurrent_weight_grad,
    save,
    tanh_backward,
)


def schedule(periods: tuple[int, ...], module_size: int, start: int, steps: int, device) -> list:
    """Per step ``(n, mask)``: the first ``n`` units cover every active module; ``mask`` is a float
    ``(n,)`` of which of those units are active, or ``None`` when all are."""
    plan, masks = [], {}
    for t in range(start, start + steps):
        active = [t % p == 0 for p in periods]
        k = max((m + 1 for m, a in enumerate(active) if a), default=0)
        if all(active[:k]):
            plan.append((k * module_size, None))
            continue
        key = tuple(active[:k])
        if key not in masks:
            masks[key] = torch.tensor(key, device=device).repeat_interleave(module_size)
        plan.append((k * module_size, masks[key]))
    return plan


class ClockworkSequence(torch.autograd.Function):
    """``h_t[:n] = tanh(u_t + W h_{t-1})[:n]`` (masked), ``h_t[n:] = h_{t-1}[n:]``; returns ``h (T, B, H)``."""

    @staticmethod
    def forward(ctx, plan, u, h0, w_hh):
        B = u.shape[1]
        ctx.plan = plan
        compiled = native.loops(u)
        if compiled is not None:
            mats, which, masks = _compiled_plan(plan, w_hh, B, transposed=False)
            hs = compiled.clockwork_forward(u.contiguous(), h0.contiguous(), *mats, which, masks)
            save(ctx, h0, w_hh, hs)
            return hs
        hs = torch.empty_like(u)
        mats = {n: Matmul(w_hh[:n], B) for n in {n for n, _ in plan if n}}
        h = h0
        for t, (n, mask) in enumerate(plan):
            if n:
                if mask is None:
                    mats[n].plus(u[t, :, :n], h, out=hs[t, :, :n]).tanh_()
                else:
                    new = mats[n].plus(u[t, :, :n], h, out=torch.empty_like(h[:, :n])).tanh_()
                    torch.where(mask, new, h[:, :n], out=hs[t, :, :n])
            hs[t, :, n:] = h[:, n:]
            h = hs[t]
        save(ctx, h0, w_hh, hs)
        return hs

    @staticmethod
    @first_order
    def backward(ctx, d_hs):
        h0, w_hh, hs = ctx.saved_tensors
        B = hs.shape[1]
        compiled = native.loops(hs)
        if compiled is not None:
            mats, which, masks = _compiled_plan(ctx.plan, w_hh, B, transposed=True)
            d_pre, dh, dh0 = compiled.clockwork_backward(d_hs.contiguous(), hs, *mats, which, masks)
        else:
            d_pre, dh, dh0 = _backward_loop(ctx.plan, d_hs, h0, hs, w_hh)
        record_norms(ctx, dh)
        dw_hh = recurrent_weight_grad(d_pre, h0, hs) if ctx.needs_input_grad[3] else None
        return None, d_pre, dh0, dw_hh


def _backward_loop(plan, d_hs, h0, hs, w_hh):
    """The backward loop in PyTorch operations: ``(d_pre, dh, dh0)``."""
    B = hs.shape[1]
    dh = gradient_buffer(d_hs, hs)
    dh0 = torch.zeros_like(h0)
    d_pre = torch.zeros_like(hs)
    mats = {n: Matmul(w_hh[:n].t(), B) for n in {n for n, _ in plan if n}}
    for t in range(len(plan) - 1, -1, -1):
        n, mask = plan[t]
        g, target = dh[t], (dh[t - 1] if t > 0 else dh0)
        target[:, n:] += g[:, n:]  # idle units pass their gradient straight back
        if not n:
            continue
        dp = tanh_backward(g[:, :n], hs[t, :, :n], grad_input=d_pre[t, :, :n])
        if mask is not None:
            dp.mul_(mask)
            target[:, :n].addcmul_(g[:, :n], ~mask)
        mats[n].add_to(target, dp)
    return d_pre, dh, dh0


def _compiled_plan(plan, w_hh: Tensor, batch: int, transposed: bool):
    """The plan as the compiled loops take it: ``([W[:n] or its transpose per distinct n], [packed]),
    the index of each step's ``n`` (-1: nothing ticks), float masks."""
    sizes = sorted({n for n, _ in plan if n})
    mats = [Matmul(w_hh[:n].t() if transposed else w_hh[:n], batch) for n in sizes]
    index = {n: k for k, n in enumerate(sizes)}
    floats: dict[int, Tensor] = {}
    masks = [None if m is None else floats.setdefault(id(m), m.to(w_hh.dtype)) for _, m in plan]
    return ([m.weight for m in mats], [m.packed for m in mats]), [index.get(n, -1) for n, _ in plan], masks


def clockwork_sequence(cell, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]] | None:
    """Run a Clockwork cell over ``x (T, B, D)``; ``None`` when the batch's clocks differ."""
    h0, clock = state[0], state[1]
    T, B = x.shape[0], x.shape[1]
    if B and bool((clock != clock[0]).any()):
        return None
    start = int(clock[0]) if B else 0
    plan = schedule(cell.periods, cell.hidden_size // len(cell.periods), start, T, x.device)
    u = project(x, cell.weight_ih, both_biases(cell.bias_ih, cell.bias_hh))
    hs = ClockworkSequence.apply(plan, u, h0, cell.weight_hh * cell.recurrent_mask)
    clocks = clock.unsqueeze(0) + torch.arange(1, T + 1, device=clock.device).unsqueeze(1)  # (T, B)
    return hs, (hs, clocks)
