"""Gradient flow through time: ``||dL_T/dh_t||`` against the distance ``T - t``.

The seed notes' analysis: the gradient that the loss at the last step sends back to step ``t`` is
``dL_T/dh_t = dL_T/dh_T · J_T · J_{T-1} ··· J_{t+1}`` with step Jacobians ``J = dh_s/dh_{s-1}``
(``W · diag(f'(net))`` for the Elman RNN). With ``|J| < 1`` it shrinks geometrically with the
distance (vanishing), with ``|J| > 1`` it grows (exploding). These functions measure it on a real
trajectory: the cells run step by step under autograd (the reference path), so every cell works.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnlab.cells.base import State
from rnnlab.layers import Recurrent


@dataclass
class Trace:
    """One forward pass of a stack, step by step.

    Attributes:
        outputs: the top layer's outputs ``(T, B, O)``.
        inputs: per layer, the inputs it read ``(T, B, D_l)``.
        states: per layer, the state after each step (``T`` tuples; ``state[0]`` is ``h``).
        initial: per layer, the state before the first step.
    """

    outputs: Tensor
    inputs: list[Tensor]
    states: list[list[State]]
    initial: list[State]


def trace(rnn: Recurrent, x: Tensor) -> Trace:
    """Run ``rnn`` over ``x (T, B, D)`` one step at a time from zero state, keeping every state.

    Dropout between layers is not applied (diagnostics look at the model as it predicts).
    """
    if rnn.num_directions != 1:
        raise ValueError("diagnose: a bidirectional stack has no single direction of time; give a one-way model")
    if x.shape[0] < 2:
        raise ValueError(f"T: expected at least 2 steps, got {x.shape[0]}")
    T, B = x.shape[0], x.shape[1]
    inputs, states, initial = [], [], []
    layer_input = x
    for layer in range(rnn.num_layers):
        cell = rnn.cell_at(layer)
        state = cell.init_state(B, x.device, x.dtype)
        initial.append(state)
        seq, outs = [], []
        for t in range(T):
            y, state = cell(layer_input[t], state)
            seq.append(state)
            outs.append(y)
        inputs.append(layer_input)
        states.append(seq)
        layer_input = torch.stack(outs)  # (T, B, O)
    return Trace(layer_input, inputs, states, initial)


def gradient_norms(loss: Tensor, tr: Trace) -> Tensor:
    """``||dL/dh_t||`` per layer, step and sequence: ``(L, T, B)``.

    ``loss`` should be a sum over the batch, so that each sequence's gradient is its own loss's.
    The norm is the total gradient reaching ``h_t``: through the output at ``t`` and through the
    state carried to ``t + 1``.
    """
    hs = [s[0] for seq in tr.states for s in seq]
    grads = torch.autograd.grad(loss, hs, allow_unused=True, retain_graph=True)
    norms = [torch.zeros(len(h), dtype=h.dtype) if g is None else g.flatten(1).norm(dim=1) for h, g in zip(hs, grads)]
    L, T = len(tr.states), len(tr.states[0])
    return torch.stack(norms).view(L, T, -1)


def profile(norms: Tensor) -> Tensor:
    """Median over the batch of ``norms (T, B)`` by distance ``T - 1 - t``: ``(T,)``, index 0 = the loss step."""
    return norms.quantile(0.5, dim=1).flip(0)


def summarize_profile(by_distance: Tensor, threshold: float = 1e-6) -> dict:
    """Numbers that say how fast the gradient fades with distance.

    Args:
        by_distance: ``||dL_T/dh_{T-d}||`` for ``d = 0 .. T-1``.
        threshold: report the first distance where the norm falls below this fraction of its
            value at ``d = 0``.

    Returns:
        ``log10_per_step``: slope of the least-squares line through ``log10`` of the norm against
        ``d`` (over ``d >= 1`` with a non-zero norm; negative = vanishing); ``steps_per_decade``:
        steps for a tenfold change (``1 / |slope|``); ``ratio_at_max_distance``: the norm at
        ``d = T-1`` over the norm at ``d = 0``; ``distance_below_threshold``: the first ``d`` where
        the norm is below ``threshold`` times its value at ``d = 0`` (``None`` if it never falls
        that far within ``T - 1`` steps); ``zero_from_distance``: the ``d`` from which the norm is
        exactly zero (dead ReLUs cut the path; such zeros are left out of the slope), or ``None``.
    """
    norms = by_distance.double()
    base = float(norms[0])
    d = torch.arange(len(norms), dtype=torch.float64)
    keep = (d >= 1) & (norms > 0) & torch.isfinite(norms)
    slope = None
    if int(keep.sum()) >= 2:
        dk, yk = d[keep], norms[keep].log10()
        dc = dk - dk.mean()
        slope = float((dc * (yk - yk.mean())).sum() / (dc * dc).sum())
    below = torch.nonzero(norms < threshold * base).flatten() if base > 0 else torch.zeros(0)
    nonzero = torch.nonzero(norms != 0).flatten()
    last = int(nonzero[-1]) if len(nonzero) else -1  # the farthest distance the gradient reaches
    zero_from = None if last == len(norms) - 1 else last + 1
    return {
        "norm_at_loss_step": base,
        "log10_per_step": slope,
        "steps_per_decade": (1.0 / abs(slope)) if slope else None,
        "ratio_at_max_distance": float(norms[-1]) / base if base > 0 else None,
        "relative_threshold": threshold,
        "distance_below_threshold": int(below[0]) if len(below) else None,
        "zero_from_distance": zero_from,
    }


def gradient_flow(tr: Trace, loss_at_end: Callable[[Tensor], Tensor]) -> tuple[Tensor, list[dict]]:
    """The gradient of the loss at the last step, back through time, layer by layer.

    Args:
        tr: a :func:`trace` (float64 recommended: the norms span many decades).
        loss_at_end: maps the top outputs ``(T, B, O)`` to the loss at the last step, summed over the batch.

    Returns:
        ``(profiles, summaries)``: ``profiles (L, T)`` indexed by distance (0 = the loss step), and
        one :func:`summarize_profile` dict per layer.
    """
    norms = gradient_norms(loss_at_end(tr.outputs), tr)  # (L, T, B)
    profiles = torch.stack([profile(n) for n in norms])  # (L, T)
    return profiles, [summarize_profile(p) for p in profiles]


def decades(ratio: float | None) -> str:
    """``1e-12`` -> ``"-12.0"``: a ratio as a power of ten, for tables."""
    if ratio is None or ratio <= 0:
        return "-inf" if ratio == 0 else "n/a"
    return f"{math.log10(ratio):+.1f}"
