"""Throughput benchmarks: every cell on its fast path, its reference step loop and ``torch.nn``.

Each row times forward + backward of one layer on random data: the cell on its fastest path
(PyTorch's fused kernel or explicit BPTT), the same weights on the reference step loop, a
``torch.nn.LSTM`` of the same sizes, and, for the standard cells, their ``torch.nn`` twin with the
same weights. The modules run in turn, run after run, so that machine noise hits all alike, and
the medians are reported with their ratios. Ratios, not seconds, are comparable between machines.

Achieved GFLOP/s count the multiply-adds of the cell's weight matrices (two FLOPs each; backward
twice the forward's), the work every implementation must do; element-wise work is not counted.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn

from rnnlab.cells import CELLS
from rnnlab.layers import Recurrent
from rnnlab.nn_compat import GRU, LSTM, RNN

# cells with a torch.nn twin: built through the drop-in front class, timed against the twin
_FRONTS = {
    "lstm": (LSTM, nn.LSTM, {}),
    "gru": (GRU, nn.GRU, {}),
    "rnn-tanh": (RNN, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn-relu": (RNN, nn.RNN, {"nonlinearity": "relu"}),
}
# other cells on a fused kernel (rnn, irnn) are timed against torch.nn with the same weights
_TWIN_OF_MODE = {"RNN_TANH": (nn.RNN, {"nonlinearity": "tanh"}), "RNN_RELU": (nn.RNN, {"nonlinearity": "relu"})}


@dataclass
class BenchRow:
    cell: str
    hidden_size: int
    path: str  # the fast path: "fused" or "bptt" ("steps" for a cell that has neither)
    ms: float  # forward+backward on that path
    steps_ms: float  # the reference step loop, same weights
    lstm_ms: float  # torch.nn.LSTM of the same sizes
    gflops: float  # achieved on the fast path
    lstm_gflops: float  # achieved by torch.nn.LSTM
    twin: str | None = None  # the torch.nn module of a standard cell
    twin_ms: float | None = None

    @property
    def speedup(self) -> float:
        """Reference step loop time / fast path time."""
        return self.steps_ms / self.ms

    @property
    def vs_lstm(self) -> float:
        """Achieved GFLOP/s relative to torch.nn.LSTM's."""
        return self.gflops / self.lstm_gflops

    @property
    def ratio(self) -> float | None:
        """Fast path time / torch.nn twin time (standard cells only)."""
        return self.ms / self.twin_ms if self.twin_ms else None


def macs_per_step(module: nn.Module) -> int:
    """Multiply-adds of the weight matrices per sample and step (structural zeros excluded)."""
    if isinstance(module, nn.RNNBase):
        return sum(p.numel() for n, p in module.named_parameters() if n.startswith("weight"))
    total = 0
    for cell in module.layers:
        for name, p in cell.named_parameters():
            mask = getattr(cell, "recurrent_mask", None) if name == "weight_hh" else None
            if p.dim() == 2:
                total += int(mask.count_nonzero()) if mask is not None else p.numel()
    return total


def _build(cell: str, input_size: int, hidden: int) -> dict[str, nn.Module]:
    """The modules one row times: ``fast``, ``steps``, ``lstm`` and, for standard cells, ``twin``."""
    modules = {}
    if cell in _FRONTS:
        front, twin, kw = _FRONTS[cell]
        modules["twin"] = twin(input_size, hidden, **kw)
        modules["fast"] = front(input_size, hidden, **kw)
        modules["fast"].load_state_dict(modules["twin"].state_dict())
        modules["steps"] = front(input_size, hidden, path="steps", **kw)
    else:
        modules["fast"] = Recurrent(cell, input_size, hidden)
        modules["steps"] = Recurrent(cell, input_size, hidden, path="steps")
        if modules["fast"].fused_mode in _TWIN_OF_MODE:
            twin, kw = _TWIN_OF_MODE[modules["fast"].fused_mode]
            modules["twin"] = twin(input_size, hidden, **kw)
            modules["twin"].load_state_dict(modules["fast"].state_dict())
    modules["steps"].load_state_dict(modules["fast"].state_dict())
    modules["lstm"] = nn.LSTM(input_size, hidden)
    return modules


def _step(module: nn.Module, x: torch.Tensor) -> None:
    for p in module.parameters():
        p.grad = None
    out = module(x)[0]
    out.sum().backward()


def time_group(modules: list[nn.Module], x: torch.Tensor, repeats: int, warmup: int = 2) -> list[float]:
    """Median seconds of forward+backward for each module, measured in turn.

    The order is shuffled every round: what ran just before (a step loop leaves thousands of freed
    tensors behind) shifts a run's time by several percent, and a fixed rotation would hand that
    shift to the same module every time.
    """
    for _ in range(warmup):
        for m in modules:
            _step(m, x)
    times: list[list[float]] = [[] for _ in modules]
    order = random.Random(len(modules) * 1000 + repeats)
    for _ in range(repeats):
        for i in order.sample(range(len(modules)), len(modules)):
            start = time.perf_counter()
            _step(modules[i], x)
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def run_bench(
    cells: list[str],
    hidden_sizes: list[int],
    batch: int = 32,
    steps: int = 100,
    input_size: int = 64,
    repeats: int = 15,
    seed: int = 0,
) -> list[BenchRow]:
    """Time every cell at every hidden size: fast path, step loop, torch.nn.LSTM (and twin)."""
    torch.manual_seed(seed)
    rows = []
    for hidden in hidden_sizes:
        x = torch.randn(steps, batch, input_size)
        for cell in cells:
            modules = _build(cell, input_size, hidden)
            seconds = dict(zip(modules, time_group(list(modules.values()), x, repeats)))
            flops = {k: 6 * steps * batch * macs_per_step(modules[k]) / 1e9 for k in ("fast", "lstm")}
            twin = modules.get("twin")
            rows.append(
                BenchRow(
                    cell,
                    hidden,
                    modules["fast"].resolved_path(),
                    1e3 * seconds["fast"],
                    1e3 * seconds["steps"],
                    1e3 * seconds["lstm"],
                    flops["fast"] / seconds["fast"],
                    flops["lstm"] / seconds["lstm"],
                    f"torch.nn.{type(twin).__name__}" if twin is not None else None,
                    1e3 * seconds["twin"] if twin is not None else None,
                )
            )
    return rows


def format_table(rows: list[BenchRow]) -> str:
    """A fixed-width text table of the rows."""
    head = (
        f"{'cell':<14}{'hidden':>6} {'path':<6}{'ms':>8}{'steps ms':>10}{'speed-up':>9}"
        f"{'GFLOP/s':>9}{'x LSTM':>8}  {'torch.nn twin':<15}{'ratio':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        twin = f"{r.twin:<15}{r.ratio:>6.2f}" if r.twin else f"{'-':<15}{'':>6}"
        lines.append(
            f"{r.cell:<14}{r.hidden_size:>6} {r.path:<6}{r.ms:>8.1f}{r.steps_ms:>10.1f}{r.speedup:>9.2f}"
            f"{r.gflops:>9.1f}{r.vs_lstm:>8.2f}  {twin}"
        )
    return "\n".join(lines)


def rows_to_json(rows: list[BenchRow], config: dict) -> dict:
    """JSON-ready record of a benchmark run."""
    return {
        "config": config,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "rows": [{**asdict(r), "speedup": r.speedup, "vs_lstm": r.vs_lstm, "ratio": r.ratio} for r in rows],
    }


DEFAULT_CELLS = [c for c in CELLS if c != "graph"]  # a graph cell needs a spec: --cells graph:lstm
