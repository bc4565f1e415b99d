"""The standard cells on each path against their ``torch.nn`` twin, forward+backward.

For each cell (``lstm``, ``gru``, ``rnn-tanh``) and shape, four modules with the same weights run
in a freshly shuffled order every round, in one process: ``torch.nn.LSTM/GRU/RNN``, rnnlab on
``path="fused"`` (the same kernels), rnnlab on ``path="bptt"`` (explicit BPTT with the compiled
loops) and rnnlab on ``path="auto"``. Printed: median ms per forward+backward, the path ``auto``
took, and ``nn/bptt``, the time of ``torch.nn`` over that of explicit BPTT (above 1: BPTT faster).

    .venv/bin/python benchmarks/native_paths.py [--repeats 10] [--threads 1] [--cells lstm,gru]
        [--shapes 32x100x64x256,1x100x64x256] [--json out.json]

A shape is ``BxTxIxH``: batch, steps, input features, hidden units. ``--threads`` defaults to
PyTorch's own count (one per core). On a machine that other programs keep busy, threads that wait
for each other at every step lose most (a 2-thread run can take several times a 1-thread one):
compare runs made under the same load, or run this under ``nice -n -19``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

import torch

from rnnlab import Recurrent
from rnnlab.bptt import native
from rnnlab.runtime import tune_process

TWINS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn-tanh": torch.nn.RNN}
SHAPES = ["32x100x64x256", "32x100x64x512", "1x100x64x256", "128x100x64x256", "32x1000x64x256"]


def modules(cell: str, I: int, H: int) -> dict[str, torch.nn.Module]:
    """``torch.nn`` twin and rnnlab on each path, all with the twin's weights."""
    twin = TWINS[cell](I, H)
    out = {"torch.nn": twin}
    for path in ("fused", "bptt", "auto"):
        layer = Recurrent(cell, I, H, path=path)
        layer.load_state_dict(twin.state_dict())
        out[path] = layer
    return out


def step(module: torch.nn.Module, x: torch.Tensor) -> float:
    """Seconds of one forward+backward (gradients of every parameter, no ``.grad`` touched)."""
    params = list(module.parameters())
    t0 = time.perf_counter()
    out, _ = module(x)
    torch.autograd.grad(out.sum(), params)
    return time.perf_counter() - t0


def measure(cell: str, shape: str, repeats: int) -> dict:
    B, T, I, H = (int(v) for v in shape.split("x"))
    torch.manual_seed(0)
    mods = modules(cell, I, H)
    x = torch.randn(T, B, I)  # (T, B, I)
    times: dict[str, list[float]] = {k: [] for k in mods}
    for m in mods.values():  # warm-up; auto takes its decision here
        step(m, x)
    order = list(mods)
    for _ in range(repeats):
        random.shuffle(order)
        for k in order:
            times[k].append(step(mods[k], x))
    ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    return {
        "cell": cell,
        "batch": B,
        "steps": T,
        "input": I,
        "hidden": H,
        "ms": ms,
        "auto_path": mods["auto"].resolved_path(),
        "nn_over_bptt": ms["torch.nn"] / ms["bptt"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--cells", default=",".join(TWINS))
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    tune_process()
    torch.set_num_threads(args.threads)
    native.prepare()  # a first build is not timed
    random.seed(0)
    print(f"forward+backward, median of {args.repeats}, {args.threads} thread(s); nn/bptt = torch.nn ms / bptt ms")
    head = f"{'cell':9} {'B':>4} {'T':>5} {'I':>4} {'H':>4} {'torch.nn':>9} {'fused':>8} {'bptt':>8} {'auto':>8}"
    head += f" {'auto ->':>7} {'nn/bptt':>8}"
    print(head)
    print("-" * len(head))
    rows = []
    for shape in args.shapes.split(","):
        for cell in args.cells.split(","):
            r = measure(cell, shape, args.repeats)
            rows.append(r)
            ms = r["ms"]
            print(
                f"{cell:9} {r['batch']:>4} {r['steps']:>5} {r['input']:>4} {r['hidden']:>4} {ms['torch.nn']:>9.1f}"
                f" {ms['fused']:>8.1f} {ms['bptt']:>8.1f} {ms['auto']:>8.1f} {r['auto_path']:>7}"
                f" {r['nn_over_bptt']:>8.2f}",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
