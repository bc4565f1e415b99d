"""The generic time loop: any cell, step by step, under autograd (the reference path).

Back-propagation through time is autograd over this loop. Truncated BPTT detaches the carried
state between chunks (:func:`detach_state`). Variable-length batches are handled by masking: a
sequence's state stops changing after its last valid step and its outputs past the end are zero.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from rnnlab import checks
from rnnlab.cells.base import Cell, State


def detach_state(state: Any) -> Any:
    """Cut the graph at a truncated-BPTT boundary: detach every tensor in a (nested) state."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    return state


def lengths_from_mask(mask: Tensor) -> Tensor:
    """Turn a ``(T, B)`` boolean mask of valid steps into lengths ``(B,)``.

    Raises:
        ValueError: if some sequence has a gap (a valid step after an invalid one).
    """
    if mask.dim() != 2:
        checks.fail("mask", "a (T, B) tensor", tuple(mask.shape))
    mask = mask.bool()
    lengths = mask.sum(0)  # (B,)
    steps = torch.arange(mask.shape[0], device=mask.device).unsqueeze(1)  # (T, 1)
    if not torch.equal(steps < lengths, mask):
        checks.fail("mask", "valid steps first, then padding, in every sequence", "a mask with gaps")
    return lengths


def check_lengths(lengths: Any, steps: int, batch: int) -> Tensor:
    """Validate ``lengths`` against a ``(T, B)`` batch and return it as a CPU int64 tensor."""
    lengths = torch.as_tensor(lengths).to("cpu", torch.int64)
    if lengths.shape != (batch,):
        checks.fail("lengths", f"shape ({batch},)", tuple(lengths.shape))
    if batch and (int(lengths.min()) < 1 or int(lengths.max()) > steps):
        checks.fail("lengths", f"values in [1, {steps}]", lengths.tolist())
    return lengths


def padded_lengths(lengths: Any, mask: Tensor | None, steps: int, batch: int, batch_first: bool) -> Tensor | None:
    """The valid steps of a padded batch, given as ``lengths`` or as a ``mask`` laid out like the
    input without its features (``(T, B)``, or ``(B, T)`` with ``batch_first``); ``None`` if neither."""
    if lengths is not None and mask is not None:
        checks.fail("lengths/mask", "one of the two", "both")
    if mask is not None:
        want = (batch, steps) if batch_first else (steps, batch)
        if not isinstance(mask, Tensor) or tuple(mask.shape) != want:
            checks.fail("mask", f"shape {want} like the input without its features", getattr(mask, "shape", mask))
        lengths = lengths_from_mask(mask.transpose(0, 1) if batch_first else mask)
    return None if lengths is None else check_lengths(lengths, steps, batch)


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of ``x (T, B, ...)`` within its own length; padding stays at the end."""
    if lengths is None:
        return x.flip(0)
    T = x.shape[0]
    t = torch.arange(T).unsqueeze(1)  # (T, 1)
    lens = lengths.unsqueeze(0)  # (1, B)
    index = torch.where(t < lens, lens - 1 - t, t).to(x.device)  # (T, B)
    index = index.view(T, -1, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, index)


def unroll(
    cell: Cell,
    x: Tensor,
    state: State | None = None,
    lengths: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, State]:
    """Run ``cell`` over a sequence, one step at a time, with autograd.

    Args:
        cell: any registered cell.
        x: input ``(T, B, input_size)``, time-major.
        state: initial state (a tuple, ``state[0]`` is ``h``), or ``None`` for zeros.
        lengths: valid steps per sequence ``(B,)`` (CPU int64), or ``None`` if all run ``T`` steps.
        reverse: run from the last valid step back to the first (a backward direction).

    Returns:
        ``(outputs, state)``: outputs ``(T, B, output_size)``, zero past each sequence's end, in
        the original time order; ``state`` is each sequence's state after its last valid step.
    """
    T, B = x.shape[0], x.shape[1]
    if state is None:
        state = cell.init_state(B, x.device, x.dtype)
    if reverse:
        x = reverse_padded(x, lengths)
    valid = None
    if lengths is not None:
        valid = torch.arange(T).unsqueeze(1) < lengths.unsqueeze(0)  # (T, B)
        valid = valid.to(x.device)
    recorder = _flow_recorder(T, x)
    outputs = []
    with cell.sequence():
        for t in range(T):
            y, new_state = cell(x[t], state)
            if valid is None:
                state = new_state
            else:
                keep = valid[t]  # (B,)
                state = tuple(torch.where(keep.view(B, *([1] * (n.dim() - 1))), n, o) for n, o in zip(new_state, state))
                y = y * keep.unsqueeze(1).to(y.dtype)
            outputs.append(y)
            if recorder is not None and state[0].requires_grad:
                state[0].register_hook(recorder(t))
    out = torch.stack(outputs) if outputs else x.new_zeros(0, B, cell.output_size)  # (T, B, O)
    if reverse:
        out = reverse_padded(out, lengths)
    return out, state


def _flow_recorder(T: int, x: Tensor):
    """Hooks that write ``||dL/dh_t||`` into the active :class:`rnnlab.bptt.common.GradientFlow`, or ``None``."""
    from rnnlab.bptt.common import GradientFlow  # the bptt package imports this module

    flow = GradientFlow.current()
    if flow is None or not torch.is_grad_enabled():
        return None
    norms = torch.zeros(T, dtype=x.dtype)  # filled in place during backward
    flow.slot().append(norms)

    def at(t: int):
        def hook(grad: Tensor) -> None:
            norms[t] = torch.linalg.vector_norm(grad.detach())
            flow._collect()

        return hook

    return at
