"""``path="auto"`` for the standard cells: the fused kernel or explicit BPTT, whichever is faster here.

Neither path wins everywhere. On a CPU, oneDNN's fused LSTM/GRU/RNN kernels lose to the explicit
BPTT loops at moderate batches (one packed GEMM and one fused element-wise pass per step), while
at batch 1 or on a GPU (cuDNN) the kernel is hard to beat. So the choice is measured, not
assumed: the first forward call of a shape times a few calls of each path on that shape and keeps
the faster one for the rest of the process.

- The key holds what decides the speed: the cell and its options, input and hidden sizes, layers
  and directions, the batch rounded up to a power of two, the measured steps, dtype, device,
  PyTorch's thread count, the layout (``batch_first``: explicit BPTT then reads a transposed
  view) and the dropout between layers, whether the batch is padded with lengths (the fused
  kernel then runs through packing), whether gradients are taken (forward+backward in training,
  forward alone under ``no_grad``) and the training mode. The timed calls take the same branches
  the layer's forward does.
- The timing runs on ``min(T, MEASURE_STEPS)`` steps of made-up input (more where only a
  longer timing reaches the real call's large buffers, :func:`measured_steps`), with the layer's own
  weights, and takes gradients with ``torch.autograd.grad`` (no ``.grad`` is touched) under a
  forked RNG (no random stream moves): two to ``ROUNDS`` calls of each path, stopping once
  ``BUDGET_S`` seconds have passed (never before two rounds: large layers take longer).
- It is only done where it can matter and cannot start anything slow: float32 on the CPU, the
  compiled BPTT loops already built (the trainers build them before their time budget), and work
  of at least ``MIN_WORK`` elements per call; not under ``torch.compile``, autocast (where explicit
  BPTT is the step loop) or ``torch.distributed`` (each rank would time, and might choose, on
  its own). Everywhere else, and with ``RNNLAB_AUTO_TIMING=0``, the fused kernel stays first,
  bit-identical to ``torch.nn``.
- The seconds spent timing are counted (:func:`spent`, wall and CPU), and the trainers leave them
  out of their time budget, as they do a first build of the compiled loops.
- Explicit BPTT is kept only if it is at least ``MARGIN`` faster: where the two are level, the
  fused kernel's exact equality with ``torch.nn`` is worth more.

Known limit: costs that only lengths past those timed have are not seen (it was 32 steps,
which missed oneDNN's LSTM kernel taking 2.1 times its 64-step time at 100 steps). glibc maps blocks above 32 MiB
(its largest threshold) fresh from the kernel at every call, so once buffers pass that size each
call pays page faults: at batch 128, hidden 256, a GRU's forward+backward took none on 64 steps
and about 10,000 on 100 (either path), and the gap between the paths moved with it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable

import torch

from rnnlab.bptt import native

BUDGET_S = 0.3  # rough cap on one measurement, reached after the second round at most
MEASURE_STEPS = (
    128  # steps timed at most: per-step costs settle before, and buffers reach the sizes that fault pages in
)
LARGE_BUFFER = 32 << 20  # bytes from which glibc maps a block fresh, and the compiled loops pool it
LONGEST_TIMING = 1024  # steps measured_steps times at most (a small batch needs thousands to get there)
MIN_WORK = 1 << 14  # steps * batch * gate units below which the choice is not worth timing
MARGIN = 0.95  # explicit BPTT must take at most this share of the fused kernel's time
ROUNDS = 5  # timed calls of each path at most (at least 2)
DECISIVE = 1.25  # after 2 rounds, a gap this wide ends the timing early

_choices: dict[Hashable, str] = {}
_preset: dict[str, str] = {}  # decisions handed over by a run resumed (the key's text -> path)
_timings: dict[Hashable, dict[str, float]] = {}
_spent = {"wall": 0.0, "cpu": 0.0}  # seconds spent timing paths in this process, by clock


def enabled() -> bool:
    """Whether ``path="auto"`` times the paths (``RNNLAB_AUTO_TIMING=0`` turns it off)."""
    return os.environ.get("RNNLAB_AUTO_TIMING", "1") != "0"


def bucket(n: int) -> int:
    """``n`` rounded up to a power of two: batches of one bucket share a decision."""
    return 1 << max(0, int(n) - 1).bit_length()


def worth_timing(steps: int, batch: int, gate_units: int, dtype: torch.dtype, device: torch.device) -> bool:
    """Whether a shape is one where the choice is measured rather than the fused kernel taken."""
    return enabled() and dtype == torch.float32 and device.type == "cpu" and steps * batch * gate_units >= MIN_WORK


def choose(key: Hashable, make_runs: Callable[[], dict[str, Callable[[], None]]]) -> str:
    """The fastest path for ``key``, timed on first ask and cached; later asks cost a lookup.

    ``make_runs()`` (called on the first ask only) gives path name -> one call. Its first entry
    is the default: another wins only when it takes at most ``MARGIN`` of its time. Timings are
    the minimum over rounds, the paths taking turns, so that a burst of other work on a busy
    machine slows both rather than one.
    """
    if key in _choices:
        return _choices[key]
    if repr(key) in _preset:  # taken by the process that started the run: the same arithmetic
        _choices[key], _timings[key] = _preset[repr(key)], {}
        return _choices[key]
    wall0, cpu0 = time.monotonic(), time.process_time()
    try:
        choice, best = _measure(make_runs())
    finally:
        _spent["wall"] += time.monotonic() - wall0
        _spent["cpu"] += time.process_time() - cpu0
    _choices[key], _timings[key] = choice, best
    return choice


def _measure(runs: dict[str, Callable[[], None]]) -> tuple[str, dict[str, float]]:
    """The chosen path and the best time of each (see :func:`choose`)."""
    names = list(runs)
    best: dict[str, float] = {}
    with torch.random.fork_rng(devices=[]):
        start = time.perf_counter()
        for round_ in range(ROUNDS):  # the first round doubles as warm-up: the minimum discards it
            for name in names if round_ % 2 == 0 else reversed(names):
                t0 = time.perf_counter()
                runs[name]()
                best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)
            spread = max(best.values()) / min(best.values())
            if round_ >= 1 and (time.perf_counter() - start > BUDGET_S or spread > DECISIVE):
                break
    default = names[0]
    fastest = min(names, key=best.__getitem__)
    return (fastest if best[fastest] <= MARGIN * best[default] else default), best


def spent(clock: str = "wall") -> float:
    """Seconds this process has spent timing paths, on the ``"wall"`` or ``"cpu"`` (process
    time) clock: the trainers leave them out of their time budget."""
    return _spent[clock]


def measured_steps(steps: int, batch: int, gate_units: int) -> int:
    """How many of ``steps`` to time: ``min(steps, MEASURE_STEPS)``, or enough for a layer's gate
    buffer (``steps x batch x gate_units`` floats) to pass ``LARGE_BUFFER`` where the real call's
    does. Past that size glibc maps the fused kernel's buffers fresh at every call (page faults)
    and the compiled loops take theirs from their pool: at batch 32, hidden 256, 1,000 steps an
    LSTM on explicit BPTT took 0.72 of the fused kernel's time; timed on 128 steps it took 0.88-0.91
    (near the margin, and a run in the bench kept the kernel), on 256 steps 0.70-0.74. Where that
    would take more than ``LONGEST_TIMING`` steps (small batches), the usual timing stays."""
    per_step = batch * gate_units * 4
    needed = -(-LARGE_BUFFER // per_step)
    if steps < needed or needed <= MEASURE_STEPS or needed > LONGEST_TIMING:
        return min(steps, MEASURE_STEPS)
    return needed


def fused_or_bptt(layer, steps: int, batch: int, padded: bool = False, input_grad: bool = False) -> str:
    """``"fused"`` or ``"bptt"`` for a :class:`rnnlab.layers.Recurrent` on ``steps x batch``:
    measured (once per key) where that is worth it, else the fused kernel.

    ``padded``: the call reads a padded batch with lengths. The fused kernel then runs through
    packing (a sort, a pack and an unpack) and explicit BPTT stops each sequence at its length,
    so both are timed so, on made-up lengths from ``T`` down to ``T / 2``: timed on a full batch
    instead, the fused kernel looked faster than it is for the classifiers and taggers.

    ``input_grad``: the input or state wants a gradient, so backward runs even with frozen weights;
    it is timed with the gradient of the input."""
    weight = layer.layers[0].weight_hh
    gate_units = weight.shape[0] * len(layer.layers)  # G*H per layer and direction
    if not worth_timing(steps, batch, gate_units, weight.dtype, weight.device) or not native.ready():
        return "fused"
    if torch.compiler.is_compiling() or torch.is_autocast_enabled(weight.device.type) or _distributed():
        return "fused"  # not traceable; the step loop under autocast; ranks could choose apart
    params = [p for p in layer.parameters() if p.requires_grad]
    grad = torch.is_grad_enabled() and (bool(params) or input_grad)
    T = measured_steps(steps, batch, weight.shape[0])
    cell = layer.layers[0]
    key = (type(cell).__name__, cell.extra_repr(), layer.num_layers, layer.bidirectional, bucket(batch), bucket(T),
           weight.dtype, str(weight.device), torch.get_num_threads(), layer.batch_first, layer.dropout, padded, grad,
           layer.training)  # fmt: skip

    def runs() -> dict[str, Callable[[], None]]:
        made_up = torch.Generator().manual_seed(0)
        shape = (batch, T) if layer.batch_first else (T, batch)  # the layer's own layout, as forward gets it
        given = torch.rand(*shape, layer.input_size, generator=made_up).to(weight)
        wrt = params + [given.requires_grad_()] if input_grad else params
        state = layer.init_state(batch, weight.device, weight.dtype)
        lengths = torch.linspace(T, (T + 1) // 2, batch).round().to(torch.int64) if padded else None

        def call(path: str) -> Callable[[], None]:
            def once() -> None:
                with torch.set_grad_enabled(grad):  # the branches forward takes, in its own method
                    out = layer._forward_on(path, given, state, lengths)[0]
                    if grad:
                        torch.autograd.grad(out.sum(), wrt)

            return once

        return {"fused": call("fused"), "bptt": call("bptt")}

    return choose(key, runs)


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def decisions() -> dict[Hashable, tuple[str, dict[str, float]]]:
    """Every decision taken in this process: key -> (path, best seconds per path)."""
    return {k: (v, dict(_timings[k])) for k, v in _choices.items()}


def record() -> dict[str, str]:
    """Every decision of this process and those handed to it, keyed by the key's text: what a
    run's checkpoint keeps, so that the process that resumes it takes the same paths and goes on
    bit for bit (on another path it would agree to float rounding only)."""
    return {**_preset, **{repr(k): v for k, v in _choices.items()}}


def preset(saved: dict[str, str]) -> None:
    """Take ``saved`` (from :func:`record`) as decisions already made, for their keys."""
    _preset.update({str(k): v for k, v in saved.items() if v in ("fused", "bptt")})


def forget() -> None:
    """Drop every cached decision (the next forward call of each shape times again)."""
    _choices.clear()
    _timings.clear()
    _preset.clear()
