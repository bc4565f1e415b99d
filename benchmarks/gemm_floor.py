"""How fast can explicit BPTT be? Time the GEMMs alone and compare with the paths.

For a cell whose work is ``G`` gate blocks over an input of ``D`` and a hidden state of ``H``, one
forward+backward over ``T`` steps must do at least these matrix products: the input projection of
all steps, ``T`` recurrent products forward and ``T`` backward (each depends on the previous one),
the input gradient, and the two weight gradients. This script times exactly those GEMMs, in the
same way the explicit-BPTT path runs them (MKL's packed GEMM per step where available), and
prints them beside the reference step loop and the explicit-BPTT path of the same cell, all
measured in turn in one process. ``steps ms / GEMM ms`` is the largest speed-up any implementation
doing the same arithmetic could reach on this machine. For the standard cells (``lstm``, ``gru``,
``rnn-tanh``) ``torch.nn``'s twin runs beside them, and ``nn / GEMM`` bounds how much faster than
``torch.nn`` any float32 implementation of the same arithmetic could be.

    .venv/bin/python benchmarks/gemm_floor.py [--hidden 256] [--batch 32] [--threads 1]
        [--cells lstm,gru,rnn-tanh,lstm-1997,lstm-cifg,...]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from rnnlab import Recurrent
from rnnlab.bptt.common import Matmul
from rnnlab.runtime import tune_process

GATES = {"lstm": 4, "gru": 3, "rnn-tanh": 1}  # the standard cells, then those without a torch.nn twin
GATES |= {"lstm-1997": 3, "lstm-cifg": 3, "lstm-peephole": 4, "lstm-ln": 4, "mut1": 1, "mut2": 2, "mut3": 2}
TWINS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn-tanh": torch.nn.RNN}
RECURRENT_BLOCKS = {"mut1": [1, 1], "mut2": [2, 1], "mut3": [1, 1, 1]}  # MUT: several H x H products per step


def gemms(T: int, B: int, D: int, H: int, cell: str):
    """A closure running the GEMMs one forward+backward of ``cell`` needs."""
    G = GATES[cell]
    blocks = RECURRENT_BLOCKS.get(cell, [G])
    x = torch.randn(T * B, D)
    w_ih = torch.randn(3 * H if cell.startswith("mut") else G * H, D)
    rec = [(Matmul(torch.randn(k * H, H), B), Matmul(torch.randn(H, k * H), B)) for k in blocks]
    h = torch.randn(B, H)
    d_pre = [torch.randn(B, k * H) for k in blocks]
    d_all = torch.randn(T * B, w_ih.shape[0])
    hs = torch.randn(T * B, H)

    def run() -> None:
        x @ w_ih.t()  # input projection
        for _ in range(T):
            for fwd, _ in rec:
                fwd(h)
        for _ in range(T):
            for (_, bwd), d in zip(rec, d_pre):
                bwd(d)
        d_all @ w_ih  # input gradient
        d_all.t() @ x  # input weight gradient
        for k in blocks:
            d_all[:, : k * H].t() @ hs  # recurrent weight gradients

    return run


def main() -> None:
    tune_process()  # as the command line does
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--cells", default=",".join(GATES))
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    unknown = sorted(set(args.cells.split(",")) - set(GATES))
    if unknown:
        parser.error(f"--cells: unknown {', '.join(unknown)}; known: {', '.join(GATES)}")
    torch.set_num_threads(args.threads)
    T, B, D, H = 100, args.batch, 64, args.hidden
    x = torch.randn(T, B, D)
    print(f"batch {B}, T {T}, input {D}, hidden {H}, {args.threads} thread(s); medians of {args.repeats}")
    heads = f"{'steps ms':>9}{'bptt ms':>9}{'nn ms':>8}{'GEMM ms':>9}{'speed-up':>10}{'ceiling':>9}{'nn/GEMM':>9}"
    print(f"{'cell':<14}{heads}")
    for cell in args.cells.split(","):
        fast = Recurrent(cell, D, H, path="bptt")
        layers = {"steps": Recurrent(cell, D, H, path="steps"), "bptt": fast}
        if cell in TWINS:
            layers["nn"] = TWINS[cell](D, H)
        for layer in layers.values():
            layer.load_state_dict(fast.state_dict())

        def fwd_bwd(layer):
            return lambda: layer(x)[0].sum().backward()

        runs = {k: fwd_bwd(m) for k, m in layers.items()} | {"gemm": gemms(T, B, D, H, cell)}
        times = {k: [] for k in runs}
        shuffle = random.Random(0)  # a new order every round, as rnnlab bench does
        for r in range(args.repeats + 2):
            for k in shuffle.sample(list(runs), len(runs)):
                start = time.perf_counter()
                runs[k]()
                if r >= 2:
                    times[k].append(time.perf_counter() - start)
        ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        nn = f"{ms['nn']:>8.1f}" if "nn" in ms else f"{'-':>8}"
        bound = f"{ms['nn'] / ms['gemm']:>9.2f}" if "nn" in ms else f"{'-':>9}"
        print(
            f"{cell:<14}{ms['steps']:>9.1f}{ms['bptt']:>9.1f}{nn}{ms['gemm']:>9.1f}"
            f"{ms['steps'] / ms['bptt']:>10.2f}{ms['steps'] / ms['gemm']:>9.2f}{bound}"
        )


if __name__ == "__main__":
    main()
