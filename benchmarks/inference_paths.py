"""Inference against ``torch.nn``: forward-only layers, and sampling one character at a time.

Layers: for each cell (``lstm``, ``gru``, ``rnn-tanh``) and shape, ``torch.nn.LSTM/GRU/RNN`` and
rnnlab with the same weights run forward under ``torch.inference_mode`` in a freshly shuffled order
every round, in one process: rnnlab on ``path="bptt"`` (which, with no gradient wanted, is the
forward-only path of :mod:`rnnlab.bptt.infer`) and on ``path="auto"``. Printed: median ms per
forward, ``nn/infer``, the time of ``torch.nn`` over that of the forward-only path, and ``GEMMs``,
the time of the matrix products alone that any forward of the shape must do (the floor).

Sampling: characters per second of a 2 x 512 LSTM character model (embedding 64), batch 1, the
state carried: a step loop over ``torch.nn`` modules (embedding -> ``torch.nn.LSTM`` -> Linear),
the model's own modules one character at a time, and :func:`rnnlab.generate.generate` (one
compiled call per character). All three choose with :func:`rnnlab.generate.pick`.

    PYTHONPATH=. .venv/bin/python benchmarks/inference_paths.py [--repeats 15] [--threads 2,1]
        [--cells lstm,gru] [--shapes 32x100x64x256,...] [--chars 400] [--clock wall|cpu] [--json out.json]

On a machine other processes keep busy, wall-clock times swing with their load; with one thread,
``--clock cpu`` times this thread's CPU time instead, which they do not inflate.

A shape is ``BxTxIxH``: batch, steps, input features, hidden units.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from native_paths import SHAPES, TWINS  # the cells and shapes of the forward+backward table (run as a script)

from rnnlab import Recurrent
from rnnlab.bptt import native
from rnnlab.bptt.common import Matmul
from rnnlab.data.vocab import CharVocab
from rnnlab.generate import generate, pick
from rnnlab.models.language_model import LanguageModel, ModelConfig
from rnnlab.runtime import tune_process

GATES = {"lstm": 4, "gru": 3, "rnn-tanh": 1}
CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}
clock = time.perf_counter  # set by --clock


def layers(cell: str, I: int, H: int) -> dict[str, torch.nn.Module]:
    twin = TWINS[cell](I, H)
    out = {"torch.nn": twin}
    for path in ("bptt", "auto"):
        layer = Recurrent(cell, I, H, path=path)
        layer.load_state_dict(twin.state_dict())
        out[path] = layer
    return out


def gemm_floor_ms(cell: str, B: int, T: int, I: int, H: int, repeats: int) -> float:
    """Median ms of the GEMMs any forward must do: the input side of all steps, and ``T`` recurrent
    products one after another (MKL's packed GEMM, as the forward-only path runs them)."""
    G = GATES[cell]
    x, w_ih, h = torch.randn(T * B, I), torch.randn(G * H, I), torch.randn(B, H)
    rec = Matmul(torch.randn(G * H, H), B)
    times = []
    for _ in range(repeats + 1):
        t0 = clock()
        x @ w_ih.t()
        for _ in range(T):
            rec(h)
        times.append(1e3 * (clock() - t0))
    return statistics.median(times[1:])


def seconds(run: Callable[[], object]) -> float:
    t0 = clock()
    run()
    return clock() - t0


def shuffled_medians(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each run: one warm-up round (``auto`` takes its decision there), then
    ``repeats`` rounds, each in a fresh random order, so that a burst of load hits all alike."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    order = list(runs)
    for round_ in range(repeats + 1):
        random.shuffle(order)
        for k in order:
            took = seconds(runs[k])
            if round_:
                times[k].append(took)
    return {k: statistics.median(v) for k, v in times.items()}


@torch.inference_mode()
def measure_layer(cell: str, shape: str, repeats: int) -> dict:
    B, T, I, H = (int(v) for v in shape.split("x"))
    torch.manual_seed(0)
    mods = layers(cell, I, H)
    x = torch.randn(T, B, I)  # (T, B, I)
    runs = {k: (lambda m=m: m(x)) for k, m in mods.items()}
    ms = {k: 1e3 * v for k, v in shuffled_medians(runs, repeats).items()}
    ms["gemm floor"] = gemm_floor_ms(cell, B, T, I, H, repeats)
    return {"cell": cell, "shape": shape, "ms": ms, "auto_path": mods["auto"].resolved_path(),
            "nn_over_infer": ms["torch.nn"] / ms["bptt"]}  # fmt: skip


def char_model(V: int = 96) -> tuple[LanguageModel, CharVocab]:
    vocab = CharVocab.from_text("".join(chr(32 + i) for i in range(V - 1)) + "\n")
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=len(vocab.chars), hidden_size=512, num_layers=2, embedding_size=64)
    return LanguageModel(config).eval(), vocab


def sampling_rates(chars: int, repeats: int) -> dict[str, float]:
    """Median characters per second of each way to sample ``chars`` characters."""
    model, vocab = char_model()
    V = len(vocab.chars)
    emb, lstm, lin = torch.nn.Embedding(V, 64), torch.nn.LSTM(64, 512, 2), torch.nn.Linear(512, V)
    emb.load_state_dict(model.embedding.state_dict())
    lstm.load_state_dict(model.rnn.state_dict())
    lin.load_state_dict(model.readout.state_dict())

    @torch.no_grad()
    def torch_nn() -> None:
        idx, state, gen = 0, None, torch.Generator().manual_seed(0)
        for _ in range(chars):
            y, state = lstm(emb(torch.tensor([[idx]])), state)
            idx = pick(lin(y[0, 0]), 0.8, 0, 1.0, gen)

    @torch.no_grad()
    def modules() -> None:
        logits, state = model(torch.tensor([[0]]))
        gen = torch.Generator().manual_seed(0)
        for _ in range(chars):
            logits, state = model(torch.tensor([[pick(logits[0, 0], 0.8, 0, 1.0, gen)]]), state)

    def rnnlab_generate() -> None:
        for _ in generate(model, vocab, "", chars, 0.8, generator=torch.Generator().manual_seed(0)):
            pass

    runs = {"torch.nn loop": torch_nn, "model modules loop": modules, "rnnlab generate": rnnlab_generate}
    return {k: chars / v for k, v in shuffled_medians(runs, repeats).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", default="2,1")
    parser.add_argument("--cells", default=",".join(TWINS))
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--chars", type=int, default=400, help="characters per sampling run (0: no sampling)")
    parser.add_argument("--json", default=None, help="also write the rows here")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="cpu: this thread's CPU time, which other processes' load does not inflate; "
                        "one thread only (other threads' work is not counted)")  # fmt: skip
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    if args.clock == "cpu" and args.threads != "1":
        parser.error("--clock cpu counts the calling thread only: use it with --threads 1")
    tune_process()
    native.prepare()  # a first build is not timed
    random.seed(0)
    rows: list[dict] = []
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        load = os.getloadavg()[0]
        what = f"median of {args.repeats} ({args.clock} ms), {threads} thread(s), load {load:.1f}"
        print(f"\nforward under inference_mode, {what}")
        head = f"{'cell':9} {'shape BxTxIxH':>16} {'torch.nn':>9} {'infer':>8} {'auto':>8} {'auto ->':>7}"
        head += f" {'nn/infer':>8} {'GEMMs':>8}"
        print(head + "\n" + "-" * len(head))
        for shape in args.shapes.split(",") if args.shapes else []:
            for cell in args.cells.split(","):
                r = measure_layer(cell, shape, args.repeats)
                rows.append({**r, "threads": threads})
                ms = r["ms"]
                line = f"{cell:9} {shape:>16} {ms['torch.nn']:>9.2f} {ms['bptt']:>8.2f} {ms['auto']:>8.2f}"
                print(line + f" {r['auto_path']:>7} {r['nn_over_infer']:>8.2f} {ms['gemm floor']:>8.2f}", flush=True)
        if args.chars:
            rates = sampling_rates(args.chars, max(3, args.repeats // 3))
            rows.append({"sampling": rates, "threads": threads})
            base = rates["torch.nn loop"]
            print(f"sampling, 2 x 512 LSTM, batch 1, {threads} thread(s): chars/s (x torch.nn loop)")
            for k, v in rates.items():
                print(f"  {k:20} {v:8.0f}  ({v / base:.2f}x)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
