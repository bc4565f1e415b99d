"""How fast can explicit BPTT be? Time the GEMMs alone and compare with the paths.

For a cell whose work is ``G`` gate blocks over an input of ``D`` and a hidden state of ``H``, one
forward+backward over ``T`` steps must do at least these matrix products: the input projection of
all steps, ``T`` recurrent products forward and ``T`` backward (each depends on the previous one),
the input gradient, and the two weight gradients. This script times exactly those GEMMs, in the
way the explicit-BPTT path runs them, and prints them beside the reference step loop and the
explicit-BPTT path of the same cell, all measured in turn in one process:

- the per-step products on one row block of the batch, single-threaded, with MKL's packed GEMM
  where available: with several threads each runs the whole time loop on its own rows
  (``row_blocks``), so one block's time is the loops' time if the threads overlap perfectly;
- the products over all steps at once on all threads.

``GEMM ms`` is their sum, and ``steps ms / GEMM ms`` the largest speed-up any implementation doing
the same arithmetic this way could reach on this machine. ``peak ms`` is the same arithmetic at
the rate of a large single-threaded GEMM (``PEAK_SIZE`` cubed) on every thread: the floor of
any float32 implementation, whatever its shapes. For the standard cells (``lstm``, ``gru``,
``rnn-tanh``) ``torch.nn``'s twin runs beside them: ``nn/GEMM`` and ``nn/peak`` bound how much
faster than ``torch.nn`` explicit BPTT, and any float32 implementation, could be.

    .venv/bin/python benchmarks/gemm_floor.py [--hidden 256] [--batch 32] [--threads 1]
        [--cells lstm,gru,rnn-tanh,lstm-1997,lstm-cifg,...]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import time
from collections.abc import Callable, Iterator

import torch

from rnnlab import Recurrent
from rnnlab.bptt.common import Matmul, row_blocks
from rnnlab.runtime import tune_process

GATES = {"lstm": 4, "gru": 3, "rnn-tanh": 1}  # the standard cells, then those without a torch.nn twin
GATES |= {"lstm-1997": 3, "lstm-cifg": 3, "lstm-peephole": 4, "lstm-ln": 4, "mut1": 1, "mut2": 2, "mut3": 2}
TWINS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn-tanh": torch.nn.RNN}
RECURRENT_BLOCKS = {"mut1": [1, 1], "mut2": [2, 1], "mut3": [1, 1, 1]}  # MUT: several H x H products per step
UNSPLIT = {"lstm-ln", "mut1", "mut2", "mut3"}  # cells whose compiled loops run a batch in one block
PEAK_SIZE = 1536  # sides of the GEMM whose rate stands for the peak


def gemms(T: int, B: int, D: int, H: int, cell: str, blocks: int = 1) -> tuple[Callable, Callable, int]:
    """The GEMMs one forward+backward of ``cell`` needs: ``(per_block, shared, flops)``.

    ``per_block()`` runs the per-step recurrent products of one of ``blocks`` row blocks (run it
    single-threaded when ``blocks > 1``, as each thread of the compiled loops does), ``shared()``
    the products over all steps; ``flops`` counts the whole batch's multiply-adds twice."""
    G = GATES[cell]
    widths = [k * H for k in RECURRENT_BLOCKS.get(cell, [G])]
    rows = B // blocks
    x = torch.randn(T * B, D)
    w_ih = torch.randn(3 * H if cell.startswith("mut") else G * H, D)
    rec = [(Matmul(torch.randn(n, H), rows), Matmul(torch.randn(H, n), rows)) for n in widths]
    h = torch.randn(rows, H)
    d_pre = [torch.randn(rows, n) for n in widths]
    d_all = torch.randn(T * B, w_ih.shape[0])
    hs = torch.randn(T * B, H)

    def per_block() -> None:
        for _ in range(T):
            for fwd, _ in rec:
                fwd(h)
        for _ in range(T):
            for (_, bwd), d in zip(rec, d_pre):
                bwd(d)

    def shared() -> None:
        x @ w_ih.t()  # input projection
        d_all @ w_ih  # input gradient
        d_all.t() @ x  # input weight gradient
        for n in widths:
            d_all[:, :n].t() @ hs  # recurrent weight gradients

    flops = 2 * T * B * (3 * D * w_ih.shape[0] + 3 * H * sum(widths))
    return per_block, shared, flops


def peak_rate() -> float:
    """Multiply-adds x 2 per second of one thread on a large float32 GEMM (best of 3)."""
    a, b = torch.randn(PEAK_SIZE, PEAK_SIZE), torch.randn(PEAK_SIZE, PEAK_SIZE)
    with threads(1):
        a @ b
        best = min(_timed(lambda: a @ b) for _ in range(3))
    return 2 * PEAK_SIZE**3 / best


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """PyTorch's intra-op thread count set to ``n`` for the block."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


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
    peak = peak_rate() * args.threads
    print(
        f"batch {B}, T {T}, input {D}, hidden {H}, {args.threads} thread(s); medians of "
        f"{args.repeats}; peak {peak / 1e9:.0f} GFLOP/s ({args.threads} x a {PEAK_SIZE}^3 GEMM on one thread)"
    )
    heads = f"{'steps ms':>9}{'bptt ms':>9}{'nn ms':>8}{'GEMM ms':>9}{'speed-up':>10}{'ceiling':>9}{'nn/GEMM':>9}"
    print(f"{'cell':<14}{heads}{'peak ms':>9}{'nn/peak':>9}{'blocks':>7}")
    for cell in args.cells.split(","):
        fast = Recurrent(cell, D, H, path="bptt")
        layers = {"steps": Recurrent(cell, D, H, path="steps"), "bptt": fast}
        if cell in TWINS:
            layers["nn"] = TWINS[cell](D, H)
        for layer in layers.values():
            layer.load_state_dict(fast.state_dict())

        def fwd_bwd(layer):
            return lambda: layer(x)[0].sum().backward()

        # as the compiled loops split this batch (those of lstm-ln and MUT do not)
        blocks = 1 if cell in UNSPLIT else row_blocks(B, fast.layers[0].weight_hh)
        per_block, shared, flops = gemms(T, B, D, H, cell, blocks)

        # each thread's own loop, single-threaded as the compiled loops run it: timed apart, before the
        # rounds, since a change of the thread count makes oneDNN's kernel set itself up again
        with threads(1 if blocks > 1 else args.threads):
            per_block()
            block_ms = 1e3 * statistics.median(_timed(per_block) for _ in range(args.repeats))
        runs = {k: fwd_bwd(m) for k, m in layers.items()} | {"shared": shared}
        times = {k: [] for k in runs}
        shuffle = random.Random(0)  # a new order every round, as rnnlab bench does
        for r in range(args.repeats + 2):
            for k in shuffle.sample(list(runs), len(runs)):
                took = _timed(runs[k])
                if r >= 2:
                    times[k].append(took)
        ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        ms["gemm"], ms["peak"] = block_ms + ms["shared"], 1e3 * flops / peak
        nn = f"{ms['nn']:>8.1f}" if "nn" in ms else f"{'-':>8}"
        bound = f"{ms['nn'] / ms['gemm']:>9.2f}" if "nn" in ms else f"{'-':>9}"
        bound_peak = f"{ms['nn'] / ms['peak']:>9.2f}" if "nn" in ms else f"{'-':>9}"
        print(
            f"{cell:<14}{ms['steps']:>9.1f}{ms['bptt']:>9.1f}{nn}{ms['gemm']:>9.1f}"
            f"{ms['steps'] / ms['bptt']:>10.2f}{ms['steps'] / ms['gemm']:>9.2f}{bound}"
            f"{ms['peak']:>9.1f}{bound_peak}{blocks:>7}"
        )


if __name__ == "__main__":
    main()
