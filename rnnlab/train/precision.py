"""Mixed precision for training (``--precision bf16``): bfloat16 matrix products, float32 elsewhere.

A step's forward pass and loss run under ``torch.autocast("cpu", dtype=torch.bfloat16)``: the
matrix products (the input and readout layers, and oneDNN's fused recurrent kernel) take their
operands in bfloat16 and accumulate in float32; the master weights, their gradients, the optimizer,
the loss and everything element-wise outside the kernel stay float32. Inside the kernel oneDNN
keeps ``h`` and ``c`` in bfloat16 from step to step (8 bits of mantissa: an update to ``c`` below
about 1/256 of it is lost; a cell that must count over hundreds of steps could suffer, the
character model did not). The state a layer hands on to the next chunk is made float32 again as
it leaves the layer, and is saved so in checkpoints. Evaluation, sampling and the steps that record
the gradient's flow through time (``--telemetry-every``: the explicit-BPTT path that reports
``dL/dh_t`` runs in float32 only) stay in float32.

Where it helps: CPUs that multiply bfloat16 natively, with AVX-512 BF16 (Intel Xeon since Cooper
Lake, AMD Zen 4 and later) or AMX (Intel Xeon since Sapphire Rapids). On a Xeon with AMX a step
of the default character model took 2.2 to 2.3 times less time than on the faster float32 path, and the
validation loss at equal steps stayed within 0.013 nats/char of float32's over 3000 steps
(``benchmarks/bf16_training.py``). Elsewhere bfloat16 is emulated, slower than float32, so it is
refused. It is offered to language models of LSTM cells with a forget gate: their fused kernel
is oneDNN's, which runs in bfloat16. PyTorch's fused GRU and tanh/ReLU RNN on the CPU are not
oneDNN's, and in bfloat16 they were no faster than explicit BPTT in float32 (GRU 1x256: 60 ms a
step against 51 ms); the other cells would run their step loop under autocast.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from rnnlab.layers import Recurrent

#: the tasks mixed precision has been measured on (their loss curves against float32)
TASKS = ("lm",)


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX), as oneDNN then does."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    native = any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    return native and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def check_precision(precision: str, kind: str, model: nn.Module | None = None) -> None:
    """Refuse a ``precision`` that this CPU, the task ``kind`` or ``model`` (if given: before the
    data is read, there is none yet) cannot train in well.

    Raises:
        ValueError: one line, e.g. ``"precision: bf16 needs a CPU with AVX-512 BF16 or AMX ..."``.
    """
    if precision == "fp32":
        return
    if kind not in TASKS:
        raise ValueError(f"precision: bf16 is for language models (--task lm); a {kind} run trains in fp32")
    if not native_bf16():
        raise ValueError(
            "precision: bf16 needs a CPU that multiplies bfloat16 natively (AVX-512 BF16 or AMX); "
            "this one would emulate it, slower than fp32"
        )
    layers = model.modules() if model is not None else ()
    slow = sorted({m.cell_name for m in layers if isinstance(m, Recurrent) and m.fused_mode != "LSTM"})
    if slow:
        raise ValueError(
            f"precision: bf16 speeds up the fused LSTM kernel (oneDNN's) only; cell {', '.join(slow)} "
            "trains faster in fp32"
        )


def _float_state(module: nn.Module, args, output):
    out, state = output
    return out, tuple(s.float() if s.is_floating_point() else s for s in state)


@contextlib.contextmanager
def autocast(model: nn.Module, precision: str) -> Iterator[None]:
    """Run the block (a step's forward pass and loss) in ``precision``; the state each recurrent
    layer of ``model`` returns comes out float32."""
    if precision == "fp32":
        yield
        return
    hooks = [m.register_forward_hook(_float_state) for m in model.modules() if isinstance(m, Recurrent)]
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            yield
    finally:
        for hook in hooks:
            hook.remove()
