"""Pieces shared by the explicit-BPTT paths: projections, weight gradients, gradient recording.

Every path follows one plan (the one cuDNN and oneDNN use): the input projections of all steps
as one GEMM; per step only the recurrent product and an element-wise update that saves what
backward needs; backward per step only the element-wise gradient and one GEMM with ``W_hh``;
the weight gradients afterwards as one GEMM each over all steps.
"""

from __future__ import annotations

import functools
import threading

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

# grad * y (1 - y) and grad * (1 - y^2) through the saved outputs y, one pass each; with
# grad_input= they write into a given buffer
sigmoid_backward = torch.ops.aten.sigmoid_backward
tanh_backward = torch.ops.aten.tanh_backward


def project(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x W^T + b`` for all steps as one GEMM: ``(T, B, D) -> (T, B, N)``."""
    flat = x.reshape(-1, x.shape[-1])
    out = flat @ weight.t() if bias is None else torch.addmm(bias, flat, weight.t())
    return out.view(*x.shape[:-1], weight.shape[0])


def first_order(backward):
    """``once_differentiable``, and a clear error where a higher derivative is asked for.

    The backward passes are written by hand and have no derivative of their own. Under
    ``create_graph=True`` (double backward, ``gradgradcheck``, gradient penalties) the plain
    decorator would drop the terms that pass through the saved activations without a word.
    """
    inner = once_differentiable(backward)

    @functools.wraps(backward)
    def checked(ctx, *grads):
        if torch.is_grad_enabled():  # autograd runs backward in grad mode only for create_graph=True
            raise RuntimeError(
                "the explicit-BPTT path computes first derivatives only; for higher ones run this "
                "layer with path='steps' (or 'fused' where a fused kernel exists)"
            )
        return inner(ctx, *grads)

    return checked


def _mkl_packing() -> bool:
    try:
        w = torch.ones(2, 2)
        packed = torch.ops.mkl._mkl_reorder_linear_weight(w, 1)
        return bool(torch.ops.mkl._mkl_linear(torch.ones(1, 2), packed, w, None, 1).eq(2).all())
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


PACKED_GEMM = _mkl_packing()


class Matmul:
    """``a @ W^T`` for many ``a`` of one batch size: the per-step recurrent product.

    On CPUs where PyTorch carries MKL, a float32 ``W`` is packed once into MKL's GEMM layout
    (``torch.ops.mkl``, the packed linear PyTorch's own compiler uses), which saves re-packing it
    at each of the ``T`` steps; elsewhere (float64, other devices) a plain ``addmm``.
    """

    def __init__(self, weight: Tensor, batch: int) -> None:
        self.weight, self.batch = weight, batch
        self.packed = None
        if PACKED_GEMM and weight.dtype == torch.float32 and weight.device.type == "cpu" and batch > 0:
            self.weight = weight.contiguous()
            self.packed = torch.ops.mkl._mkl_reorder_linear_weight(self.weight, batch)

    def __call__(self, a: Tensor) -> Tensor:
        if self.packed is not None:
            return torch.ops.mkl._mkl_linear(a, self.packed, self.weight, None, self.batch)
        return a @ self.weight.t()

    def add_to(self, out: Tensor, a: Tensor) -> Tensor:
        """``out += a @ W^T`` in place."""
        if self.packed is not None:
            return out.add_(self(a))
        return out.addmm_(a, self.weight.t())

    def plus(self, u: Tensor, a: Tensor, out: Tensor) -> Tensor:
        """``out = u + a @ W^T``."""
        if self.packed is not None:
            return torch.add(u, self(a), out=out)
        return out.copy_(u).addmm_(a, self.weight.t())


MIN_BLOCK_ROWS = 4  # fewest batch rows a thread's block of the compiled loops gets
ROW_BLOCKS: int | None = None  # a fixed number of row blocks (tests); None: row_blocks decides
# The largest recurrent weight (one direction's W_hh, bytes) the loops split a batch for: each
# thread then reads all of it at every step, which pays while it stays in the thread's core's L2
# (2 MiB a core on the 2-core machine, half of it left for the rest). Forward+backward at batch
# 32, T 100, 2 threads, quiet machine, ms in row blocks / one block with two-thread GEMMs: LSTM
# H 256 (1 MiB) 22.3 / 23.2, GRU H 256 (0.75 MiB) 17.0 / 18.0, GRU H 320 (1.2 MiB) 27.1 / 26.9,
# LSTM H 320 (1.6 MiB) 37.3 / 35.4, GRU H 512 (3 MiB) 68.5 / 58.4, LSTM H 512 (4 MiB) 90.2 / 79.3;
# forward alone, LSTM H 256 6.5 / 7.4, H 512 31.4 / 25.4.
ROW_BLOCK_MAX_WEIGHT = 1 << 20


def row_blocks(batch: int, weight: Tensor) -> int:
    """Into how many row blocks the compiled loops split a batch for the recurrent weight
    ``weight``: one per intra-op thread, each running the whole time loop on its rows with
    single-threaded GEMMs (see ``csrc/common.h``), as long as a block keeps ``MIN_BLOCK_ROWS``
    rows and the weight takes at most ``ROW_BLOCK_MAX_WEIGHT`` bytes; else 1 (MKL and the
    element-wise passes then spread each step over the threads)."""
    if ROW_BLOCKS is not None:
        return max(1, min(ROW_BLOCKS, batch))
    if weight.numel() * weight.element_size() > ROW_BLOCK_MAX_WEIGHT:
        return 1
    return max(1, min(torch.get_num_threads(), batch // MIN_BLOCK_ROWS))


def loop_product(weight: Tensor, batch: int, compiled: bool) -> tuple[Matmul, int]:
    """The per-step product for a batch of ``batch`` rows and the row blocks to run it in: for the
    compiled loops ``row_blocks`` blocks and the weight packed for one block's rows (each block's
    thread then uses it as it is, instead of packing it again for its rows), else one block and
    the weight packed for the whole batch."""
    blocks = row_blocks(batch, weight) if compiled else 1
    return Matmul(weight, batch // blocks), blocks


def both_biases(b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor | None:
    """The sum of the two biases that always appear together, or ``None``."""
    return None if b_ih is None else b_ih + b_hh


def weight_grad(d_pre: Tensor, inputs: Tensor) -> Tensor:
    """``dL/dW`` for ``pre_t = W a_t`` summed over all steps: ``d_pre (T, B, N)``, ``inputs (T, B, K)``."""
    return d_pre.reshape(-1, d_pre.shape[-1]).t() @ inputs.reshape(-1, inputs.shape[-1])


def recurrent_weight_grad(d_pre: Tensor, h0: Tensor, hs: Tensor) -> Tensor:
    """``dL/dW_hh`` when step ``t`` reads ``h_{t-1}``: ``h0`` for step 0, ``hs[t-1]`` after."""
    grad = d_pre[0].t() @ h0
    if d_pre.shape[0] > 1:
        grad.addmm_(d_pre[1:].reshape(-1, d_pre.shape[-1]).t(), hs[:-1].reshape(-1, hs.shape[-1]))
    return grad


class GradientFlow:
    """Record ``||dL/dh_t||`` at every step of every explicit-BPTT layer run inside this block.

    Use it around the forward pass; the norms arrive during ``backward()``::

        with GradientFlow() as flow:
            out, _ = layer(x)
        out.sum().backward()
        flow.norms  # one (T,) tensor per layer and direction, in the order they ran forward

    ``dL/dh_t`` is the total gradient reaching the hidden state at step ``t`` (from the output at
    ``t`` and from later steps); the norm is taken over the whole batch. Inside the block, layers
    on ``path="auto"`` take their explicit-BPTT path even where a fused kernel exists.
    """

    _active = threading.local()

    def __init__(self) -> None:
        self.norms: list[Tensor] = []
        self._slots: list[list] = []

    def __enter__(self) -> GradientFlow:
        self._outer = GradientFlow.current()
        GradientFlow._active.flow = self
        return self

    def __exit__(self, *exc) -> None:
        GradientFlow._active.flow = self._outer

    @classmethod
    def current(cls) -> GradientFlow | None:
        """The recorder of the innermost active block, or ``None``."""
        return getattr(cls._active, "flow", None)

    def slot(self) -> list:
        """A place for one layer's norms, kept in forward order."""
        slot: list = []
        self._slots.append(slot)
        return slot

    def _collect(self) -> None:
        self.norms = [s[0] for s in self._slots if s]


def recording(ctx) -> bool:
    """Whether a :class:`GradientFlow` asked for this layer's norms in forward: only then does
    backward keep ``dL/dh_t`` of every step, else one step's at a time."""
    return ctx.flow_slot is not None


def record_norms(ctx, dh: Tensor | None) -> None:
    """Hand ``||dL/dh_t||`` of every step (``dh (T, B, H)``) to the block that asked in forward
    (``dh`` is ``None`` where none asked)."""
    if ctx.flow_slot is not None:
        ctx.flow_slot[:] = [torch.linalg.vector_norm(dh.detach(), dim=(1, 2))]
        ctx.flow._collect()


def save(ctx, *tensors: Tensor | None) -> None:
    """End of a forward: save what backward reads, and take a slot from the active
    :class:`GradientFlow`, if any."""
    ctx.flow = GradientFlow.current()
    ctx.flow_slot = ctx.flow.slot() if ctx.flow is not None else None
    ctx.save_for_backward(*tensors)


def own_contiguous(d_out: Tensor) -> tuple[Tensor, bool]:
    """The outputs' gradient as a contiguous tensor, and whether that is a private copy, which
    backward may then overwrite with a gradient of the same shape instead of allocating one.

    An incoming gradient that is contiguous already may be shared (the caller's ``grad_outputs``,
    or a tensor another node still reads) and is never written; one that is not (``sum``'s
    gradient is an expanded scalar) is copied here anyway.
    """
    dense = d_out.contiguous()
    return dense, dense is not d_out


def gradient_buffer(d_out: Tensor | None, like: Tensor) -> Tensor:
    """A private, contiguous copy of the outputs' gradient (zeros if none came), which the
    backward loop then adds each step's recurrent gradient into."""
    if d_out is None:
        return torch.zeros_like(like, memory_format=torch.contiguous_format)
    return d_out.clone(memory_format=torch.contiguous_format)
