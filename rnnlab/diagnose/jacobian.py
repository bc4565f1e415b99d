"""Step Jacobians along a real trajectory and the recurrent matrices' spectra.

The gradient through time is a product of step Jacobians ``J_t = ds_t/ds_{t-1}``; for the Elman
RNN ``J_t = diag(f'(net_t)) W``, so its singular values and ``W``'s eigenvalues against the unit
circle say whether the product shrinks or grows. For cells with more state than ``h`` (LSTM's
``c``, SCRN's context) ``s`` is the whole floating-point state: the gradient travels through all
of it, and LSTM's cell is exactly the path (the "gradient highway") that ``dh_t/dh_{t-1}`` alone
would miss.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.cells.base import Cell, State
from rnnlab.runtime import one_thread


def _float_slots(state: State) -> list[int]:
    return [i for i, s in enumerate(state) if s.is_floating_point()]


def step_jacobian(cell: Cell, x: Tensor, state: State) -> Tensor:
    """``ds_t/ds_{t-1}`` for one sequence: ``x (D,)``, ``state`` entries ``(1, ...)`` -> ``(S, S)``.

    ``S`` is the size of the floating-point state entries together (integer entries such as
    Clockwork's step counter are held fixed).
    """
    # The step is the same function for every row of a batch, so one batched pass gives all of
    # it: row i of the batch starts from the same state and backward sends e_i into its output.
    slots = _float_slots(state)
    S = sum(state[i][0].numel() for i in slots)
    with torch.enable_grad():
        copies = [s.detach().expand(S, *s.shape[1:]).clone() for s in state]
        for i in slots:
            copies[i].requires_grad_(True)
        _, new = cell(x.detach().unsqueeze(0).expand(S, -1), tuple(copies))
        out = torch.cat([new[i].reshape(S, -1) for i in slots], dim=1)  # (S, S)
        eye = torch.eye(S, dtype=out.dtype, device=out.device)
        grads = torch.autograd.grad(out, [copies[i] for i in slots], grad_outputs=eye, allow_unused=True)
    rows = [torch.zeros_like(copies[i]) if g is None else g for i, g in zip(slots, grads)]
    return torch.cat([r.reshape(S, -1) for r in rows], dim=1)  # row i: d out_i / d s


def jacobian_spectrum(cell: Cell, inputs: Tensor, states: list[State], initial: State) -> dict[str, Tensor]:
    """Singular values of the step Jacobians of sequence 0 along a trajectory.

    Args:
        cell: the layer's cell.
        inputs: the layer's inputs ``(T, B, D)``.
        states: the state after each step (from :func:`rnnlab.diagnose.flow.trace`).
        initial: the state before the first step.

    Returns:
        ``sigma_max (T,)``: the largest singular value of each ``J_t``; ``log10_product (T,)``:
        ``log10 ||J_t ··· J_1||_2`` (kept finite by renormalising the running product each step).
    """
    sigma, log_product = [], []
    product, scale = None, 0.0
    before = initial
    for t in range(inputs.shape[0]):
        prev = tuple(s[:1] for s in before)
        jac = step_jacobian(cell, inputs[t, 0], prev)  # (S, S)
        with one_thread():
            sigma.append(torch.linalg.matrix_norm(jac, ord=2))
            product = jac if product is None else jac @ product
            norm = torch.linalg.matrix_norm(product, ord=2)
        if norm > 0:
            scale += float(norm.log10())
            product = product / norm
        else:
            scale = float("-inf")
        log_product.append(scale)
        before = states[t]
    return {"sigma_max": torch.stack(sigma).detach(), "log10_product": torch.tensor(log_product, dtype=torch.float64)}


def recurrent_blocks(cell: Cell) -> dict[str, Tensor]:
    """The square ``H x H`` blocks of the cell's recurrent matrices, named by gate where known.

    Every parameter ``weight_h*`` with ``k * H`` rows and ``H`` columns gives ``k`` blocks
    (``weight_hh`` of an LSTM: ``i, f, g, o``). A cell's recurrent mask (Clockwork's block
    structure) is applied first. A cell with ``recurrent_weights()`` (a graph cell) names its own.
    """
    H = cell.hidden_size
    if hasattr(cell, "recurrent_weights"):
        return {k: w.detach() for k, w in cell.recurrent_weights().items()}
    blocks = {}
    for name, w in cell.named_parameters():
        if not name.startswith("weight_h") or w.dim() != 2 or w.shape[1] != H or w.shape[0] % H:
            continue
        w = w.detach()
        mask = getattr(cell, "recurrent_mask", None)
        if name == "weight_hh" and mask is not None:
            w = w * mask
        chunks = w.split(H)
        labels = cell.gate_names if name == "weight_hh" and len(cell.gate_names) == len(chunks) else None
        for k, chunk in enumerate(chunks):
            key = f"{name}[{labels[k]}]" if labels else (name if len(chunks) == 1 else f"{name}[{k}]")
            blocks[key] = chunk
    return blocks


def eigenvalues(cell: Cell) -> dict[str, Tensor]:
    """Complex eigenvalues of each of :func:`recurrent_blocks`."""
    with one_thread():
        return {k: torch.linalg.eigvals(w.double()) for k, w in recurrent_blocks(cell).items()}
