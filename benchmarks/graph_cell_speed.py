"""Speed of the cells built from specs against the built-in cells, both on the reference step loop.

Forward and backward of one layer over T steps (default T = 50, batch 32, input and hidden 128, so
that MUT1 and MUT2 take their paper's form), the built-in cell (``Recurrent(name, path="steps")``)
and the spec's (``Recurrent("graph:" + name)``, which only has the step loop) timed in turn, run
after run, in one process; the medians and their ratio are printed (spec / built-in: 1.0 = as fast).

    .venv/bin/python benchmarks/graph_cell_speed.py [--cells lstm,gru] [--repeats 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnnlab.cells.named import builtin_specs
from rnnlab.layers import Recurrent


def seconds(module: Recurrent, x: torch.Tensor) -> float:
    tick = time.perf_counter()
    out, state = module(x)
    (out.sum() + sum(s.sum() for s in state)).backward()
    return time.perf_counter() - tick


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", default=",".join(builtin_specs()), help="built-in specs to time")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    H = args.hidden
    x = torch.randn(args.steps, args.batch, H)
    print(f"forward+backward, T {args.steps}, batch {args.batch}, input = hidden = {H}; median of {args.repeats}")
    print(f"{'cell':<12}{'built-in ms':>12}{'spec ms':>10}{'ratio':>8}")
    for name in args.cells.split(","):
        modules = [Recurrent(name, H, H, path="steps"), Recurrent(f"graph:{name}", H, H, path="steps")]
        times: list[list[float]] = [[], []]
        for k in range(args.repeats + 2):
            for m, t in zip(modules, times):
                elapsed = seconds(m, x)
                if k >= 2:  # warm-up runs left out
                    t.append(elapsed)
        builtin, spec = (1e3 * statistics.median(t) for t in times)
        print(f"{name:<12}{builtin:>12.1f}{spec:>10.1f}{spec / builtin:>8.2f}")


if __name__ == "__main__":
    main()
