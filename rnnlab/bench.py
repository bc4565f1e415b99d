"""Throughput benchmarks: rnnlab layers against the matching ``torch.nn`` module, same process.

Each row times forward + backward of one layer on random data, interleaving the rnnlab module
and its reference run by run so that machine noise hits both alike, and reports medians and
their ratio (rnnlab / reference; 1.00 means equal speed). Ratios, not seconds, are comparable
between machines.
"""

from __future__ import annotations

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
_REFERENCE_OF_MODE = {
    "LSTM": (nn.LSTM, {}),
    "GRU": (nn.GRU, {}),
    "RNN_TANH": (nn.RNN, {"nonlinearity": "tanh"}),
    "RNN_RELU": (nn.RNN, {"nonlinearity": "relu"}),
    None: (nn.LSTM, {}),
}


@dataclass
class BenchRow:
    cell: str
    hidden_size: int
    path: str  # "fused" or "steps"
    ms: float
    reference: str
    reference_ms: float

    @property
    def ratio(self) -> float:
        return self.ms / self.reference_ms


def _build(cell: str, input_size: int, hidden: int) -> tuple[nn.Module, nn.Module, str]:
    if cell in _FRONTS:
        front, twin, kw = _FRONTS[cell]
        ref = twin(input_size, hidden, **kw)
        ours = front(input_size, hidden, **kw)
        ours.load_state_dict(ref.state_dict())
        return ours, ref, f"torch.nn.{twin.__name__}"
    ours = Recurrent(cell, input_size, hidden)
    twin, kw = _REFERENCE_OF_MODE[ours.fused_mode]
    ref = twin(input_size, hidden, **kw)
    if ours.fused_mode is not None:  # same weights, so both do the same arithmetic
        ref.load_state_dict(ours.state_dict())
    return ours, ref, f"torch.nn.{twin.__name__}"


def _step(module: nn.Module, x: torch.Tensor) -> None:
    for p in module.parameters():
        p.grad = None
    out = module(x)[0]
    out.sum().backward()


def time_pair(a: nn.Module, b: nn.Module, x: torch.Tensor, repeats: int, warmup: int = 2) -> tuple[float, float]:
    """Median seconds of forward+backward for ``a`` and ``b``, measured alternately."""
    for _ in range(warmup):
        _step(a, x)
        _step(b, x)
    ta, tb = [], []
    for r in range(repeats):
        first, second = (a, b) if r % 2 == 0 else (b, a)
        for module in (first, second):
            start = time.perf_counter()
            _step(module, x)
            (ta if module is a else tb).append(time.perf_counter() - start)
    return statistics.median(ta), statistics.median(tb)


def run_bench(
    cells: list[str],
    hidden_sizes: list[int],
    batch: int = 32,
    steps: int = 100,
    input_size: int = 64,
    repeats: int = 15,
    seed: int = 0,
) -> list[BenchRow]:
    """Time every cell at every hidden size against its ``torch.nn`` reference."""
    torch.manual_seed(seed)
    rows = []
    for hidden in hidden_sizes:
        x = torch.randn(steps, batch, input_size)
        for cell in cells:
            ours, ref, ref_name = _build(cell, input_size, hidden)
            path = "fused" if getattr(ours, "fused_mode", None) else "steps"
            t_ours, t_ref = time_pair(ours, ref, x, repeats)
            rows.append(BenchRow(cell, hidden, path, 1e3 * t_ours, ref_name, 1e3 * t_ref))
    return rows


def format_table(rows: list[BenchRow]) -> str:
    """A fixed-width text table of the rows."""
    head = f"{'cell':<12} {'hidden':>6} {'path':<6} {'rnnlab ms':>10} {'reference':<14} {'ref ms':>9} {'ratio':>6}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.cell:<12} {r.hidden_size:>6} {r.path:<6} {r.ms:>10.2f} {r.reference:<14} "
            f"{r.reference_ms:>9.2f} {r.ratio:>6.2f}"
        )
    return "\n".join(lines)


def rows_to_json(rows: list[BenchRow], config: dict) -> dict:
    """JSON-ready record of a benchmark run."""
    return {
        "config": config,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "rows": [{**asdict(r), "ratio": r.ratio} for r in rows],
    }


DEFAULT_CELLS = list(CELLS)
