"""Mixed precision on the CPU: bf16 matrix products for the character language model.

Mixed precision here means what ``torch.autocast("cpu", dtype=torch.bfloat16)`` does: matrix
products (and oneDNN's recurrent kernel) in bfloat16, everything else, the master weights, the
optimizer and the state carried from chunk to chunk in float32. (Within a chunk oneDNN's bf16
LSTM keeps ``h`` and ``c`` in bfloat16 from step to step: with the forget gate at 1 and ``i g =
0.001`` a step, ``c`` stays at 1.0 over 64 steps where float32 reaches 1.064.) Three measurements:

- ``gemm``: the matrix products of one training step of the default character model (batch 32,
  64 steps, embedding 64, vocabulary 78), each timed in float32 (``torch.mm``), float32 through
  MKL's packed GEMM (what the explicit-BPTT loops use per step), and bfloat16 with the operands
  ready or cast at each call (what autocast does to activations).
- ``step``: one whole training step of the language model (forward, loss, backward, Adam), on
  the fused kernel and on explicit BPTT, in float32 and under autocast. Under autocast explicit
  BPTT gives way to the step loop (:func:`rnnlab.bptt.run_sequence`), which this shows the price of.
- ``curve``: the default Shakespeare model trained by the one trainer in float32 and in bf16
  with the same seed and the same number of steps; validation loss against steps and seconds.

    .venv/bin/python benchmarks/bf16_training.py gemm [--hidden 256,512] [--threads 1]
    .venv/bin/python benchmarks/bf16_training.py step [--models 1x256,2x256,1x512]
    .venv/bin/python benchmarks/bf16_training.py curve [--steps 1500] [--out runs/bf16-curve]

The figures measured here (Xeon with AMX, one thread) are in ``FIGURES`` below, printed by
``bf16_training.py figures``: bf16 took 2.1 to 2.7 times less time per step and its validation loss
stayed with fp32's at equal steps, so ``rnnlab train`` offers ``--precision bf16`` (LSTM models:
GRU and RNN gain nothing, their fused kernels on the CPU are not oneDNN's).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import time
from pathlib import Path

import torch

from rnnlab.bptt.common import Matmul
from rnnlab.runtime import tune_process

T, B, E, V = 64, 32, 64, 78  # the default character model's chunk, streams, embedding, vocabulary

FIGURES = """\
Measured on a Xeon with AMX and AVX-512 BF16 (2 cores shared with other jobs), one thread, CPU
seconds, torch 2.13:

GEMMs of one training step of the default character model (T 64, B 32, E 64, V 78), microseconds
                        fp32  fp32 packed   bf16  bf16 with the cast
  input projection H256  3119        -       593    600
  recurrent fwd H256      158      118        65     68   (x 64 steps, and as much backward)
  dW_hh H256             7765        -      1130   2495
  decoder H256            608        -       125    291
  all of one step H256  33.1 ms (best fp32)  11.7 ms   16.0 ms with casts
  all of one step H512   116 ms               39 ms    50 ms with casts
  3200x512x2048 (reference) 46.1 ms fp32, 6.4 ms bf16

One training step (forward, loss, backward, Adam), ms
  model   fp32 fused  fp32 bptt  fp32 steps  bf16 fused  bf16 "bptt" (= the step loop)
  1x256      47.2       52.0       81.3        20.7        75.4
  2x256     102.8      104.7      183.7        41.9       169.8
  1x512     159.2      151.1      203.6        55.7       156.5
  gru 1x256   72.6       50.5        87.3        59.9        87.5
  gru 1x512  211.1      145.2       231.4       162.9       205.5
  rnn 1x256   28.7       23.2        39.8        25.4        46.3
  rnn 1x512   74.5       57.1        86.8        52.9        77.6   (rnn-tanh)
A second run of the LSTM rows: 49.9 53.7 96.9 22.5 91.3 / 108.5 114.5 221.1 45.5 206.0 / 161.8
154.2 220.3 73.1 181.7; with 2 threads (CPU time of both, on a loaded machine) 1x256: fp32 bptt
166.6, bf16 fused 73.1. For the LSTM, bf16 on the fused kernel (oneDNN's bf16 LSTM) takes 2.1 to
2.7 times less time than the faster fp32 path. PyTorch's fused GRU and RNN on the CPU are not
oneDNN's: in bf16 they are slower than fp32 explicit BPTT (but the RNN at 512, by 7 %), so
--precision bf16 is offered to LSTM models only. Under autocast explicit BPTT gives way to the
step loop: 1.5 times slower than fp32 explicit BPTT for the LSTM at 1x256, and 3.6 times slower
than bf16 on the fused kernel.

The default Shakespeare model (lstm 1x256, batch 32, 64 steps, Adam 5e-3 cosine to 0 over 3000
steps, seed 1234), trained by rnnlab train --precision fp32 / bf16, one thread, --clock cpu:
  step   val fp32  val bf16   CPU s fp32  CPU s bf16
   500    1.7606    1.7633       26.3        12.1
  1000    1.6744    1.6738       54.2        24.4
  2000    1.5971    1.5850      111.1        49.5
  3000    1.5578    1.5479      171.5        74.1
At equal steps bf16 stays within 0.013 nats/char of fp32 (above it by 0.003 at most); at equal
time it is ahead: at 74 s fp32 was at step about 1350 with 1.64. fp32's final loss (1.558 after
171 s) bf16 reached by step 2500, after 61 s: 2.8 times sooner.
The same for 2 layers (lstm 2x256, seed 7, 2000 steps, curve --layers 2 --steps 2000 --seed 7):
  step   val fp32  val bf16   CPU s fp32  CPU s bf16
  1000    1.6561    1.6445      153.1        51.7
  2000    1.5865    1.5839      300.4       102.2
bf16 at or below fp32 at every evaluation but the first (1.8900 against 1.8888), 2.9 times less
CPU time. One seed each: the gaps at equal steps are within what another seed moves.

It helps on CPUs that multiply bf16 natively: AVX-512 BF16 (Intel Cooper Lake and later Xeons,
AMD Zen 4 and later) and AMX (Intel Sapphire Rapids and later). Elsewhere PyTorch emulates bf16,
slower than fp32, and rnnlab train --precision bf16 is refused.
"""


def timed(fn, calls: int) -> float:
    """CPU seconds of the process per call of ``fn``: on a machine shared with other jobs the
    wall clock counts their time too, the CPU time of one thread's work does not."""
    t0 = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - t0) / calls


def medians(runs: dict, rounds: int, target_s: float = 0.02) -> dict[str, float]:
    """Median seconds per call of each of ``runs``, measured in a shuffled order every round."""
    calls = {k: max(1, int(target_s / max(timed(fn, 2), 1e-7))) for k, fn in runs.items()}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        order = list(runs)
        random.shuffle(order)
        for k in order:
            times[k].append(timed(runs[k], calls[k]))
    return {k: statistics.median(v) for k, v in times.items()}


def gemm_shapes(H: int) -> list[tuple[str, int, int, int, int]]:
    """``(name, M, K, N, times per step)``: the products ``(M, K) x (K, N)`` of one training step."""
    G = 4 * H
    return [
        ("input projection", T * B, E, G, 1),
        ("recurrent forward", B, H, G, T),
        ("recurrent backward", B, G, H, T),
        ("input gradient", T * B, G, E, 1),
        ("dW_ih", G, T * B, E, 1),
        ("dW_hh", G, T * B, H, 1),
        ("decoder", T * B, H, V, 1),
        ("decoder dX", T * B, V, H, 1),
        ("decoder dW", V, T * B, H, 1),
    ]


def gemm_variants(M: int, K: int, N: int) -> dict:
    a, w = torch.randn(M, K), torch.randn(N, K)  # a @ w.t(), as a linear layer
    a16, w16 = a.bfloat16(), w.bfloat16()
    runs = {
        "fp32": lambda: a @ w.t(),
        "bf16": lambda: a16 @ w16.t(),
        "bf16+cast": lambda: a.bfloat16() @ w16.t(),
    }
    if M <= 64:  # the per-step products: MKL's packed GEMM, as explicit BPTT runs them
        packed = Matmul(w, M)
        runs["fp32 packed"] = lambda: packed(a)
    return runs


def run_gemm(args) -> None:
    print(f"GEMM (M, K) x (K, N), median microseconds per call of {args.rounds} rounds; threads {args.threads}")
    head = f"{'product':<20}{'M x K x N':>17}{'fp32':>9}{'packed':>9}{'bf16':>9}{'bf16+cast':>10}{'fp32/bf16':>10}"
    shapes = [("reference", 3200, 512, 2048, 1)]
    for H in (int(h) for h in args.hidden.split(",")):
        shapes += [(f"{n} H{H}", M, K, N, k) for n, M, K, N, k in gemm_shapes(H)]
    print(head)
    totals: dict[str, dict[str, float]] = {}
    for name, M, K, N, per_step in shapes:
        us = {k: v * 1e6 for k, v in medians(gemm_variants(M, K, N), args.rounds).items()}
        packed = f"{us['fp32 packed']:9.1f}" if "fp32 packed" in us else f"{'-':>9}"
        print(
            f"{name:<20}{f'{M}x{K}x{N}':>17}{us['fp32']:9.1f}{packed}{us['bf16']:9.1f}{us['bf16+cast']:10.1f}"
            f"{us['fp32'] / us['bf16']:10.2f}"
        )
        if name != "reference":
            total = totals.setdefault(name.rsplit(" ", 1)[1], {})
            best32 = min(us["fp32"], us.get("fp32 packed", us["fp32"]))
            for k, v in (("fp32", best32), ("bf16", us["bf16"]), ("bf16+cast", us["bf16+cast"])):
                total[k] = total.get(k, 0.0) + v * per_step / 1000
    for H, total in totals.items():
        print(
            f"all GEMMs of one step, {H}: fp32 (best of plain/packed) {total['fp32']:.2f} ms, "
            f"bf16 {total['bf16']:.2f} ms, bf16 with casts {total['bf16+cast']:.2f} ms"
        )


def language_model(cell: str, layers: int, hidden: int, path: str):
    from rnnlab.models.language_model import LanguageModel, ModelConfig

    torch.manual_seed(0)
    config = ModelConfig(vocab_size=V, cell=cell, hidden_size=hidden, num_layers=layers, embedding_size=E)
    model = LanguageModel(config)
    model.rnn.path = path
    return model


def training_step(model, precision: str):
    """A closure running one step on random characters, the state carried in float32."""
    from rnnlab.models.language_model import loss_of

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    ids = torch.randint(0, V, (T + 1, B))
    carry = [None]
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        ctx = torch.autocast("cpu", dtype=dtype) if precision == "bf16" else contextlib.nullcontext()
        with ctx:
            logits, state = model(ids[:-1], carry[0])
            loss = loss_of(logits.float(), ids[1:])
        carry[0] = tuple(s.detach().float() for s in state)
        loss.backward()
        optimizer.step()

    return step


def run_step(args) -> None:
    print(
        f"one training step of a {args.cell} model (batch {B}, {T} steps, Adam), median CPU ms of "
        f"{args.rounds} rounds; threads {args.threads}"
    )
    variants = [("fp32", "fused"), ("fp32", "bptt"), ("fp32", "steps"), ("bf16", "fused"), ("bf16", "bptt")]
    print(f"{'model':<8}" + "".join(f"{p + ' ' + path:>13}" for p, path in variants))
    for spec in args.models.split(","):
        layers, hidden = (int(v) for v in spec.split("x"))
        runs = {
            f"{p} {path}": training_step(language_model(args.cell, layers, hidden, path), p) for p, path in variants
        }
        for fn in runs.values():  # warm-up: the compiled loops, oneDNN's primitives
            fn()
        ms = {k: v * 1e3 for k, v in medians(runs, args.rounds, target_s=0.0).items()}
        print(f"{spec:<8}" + "".join(f"{ms[f'{p} {path}']:13.1f}" for p, path in variants))


def train(out: Path, precision: str, args) -> None:
    """The default Shakespeare model by ``rnnlab train`` for ``args.steps`` steps in ``precision``."""
    from rnnlab.cli import main as cli

    flags = ["--max-steps", str(args.steps), "--time-budget", "", "--eval-every", str(args.eval_every)]
    flags += ["--threads", str(args.threads), "--clock", "cpu", "--sample-chars", "0", "--seed", str(args.seed)]
    flags += ["--num-layers", str(args.layers), "--telemetry-every", "0"]
    if cli(["train", *flags, "--precision", precision, "--out", str(out), "--force"]):
        raise SystemExit(f"the {precision} run failed")


def at_time(records: list[dict], seconds: float) -> float | None:
    """The validation loss of a run at ``seconds``, interpolated between its evaluations."""
    for a, b in zip(records, records[1:]):
        if a["elapsed_s"] <= seconds <= b["elapsed_s"]:
            w = (seconds - a["elapsed_s"]) / max(b["elapsed_s"] - a["elapsed_s"], 1e-9)
            return a["val_loss"] + w * (b["val_loss"] - a["val_loss"])
    return None


def run_curve(args) -> None:
    from rnnlab.runs import read_metrics

    runs = {}
    for precision in ("fp32", "bf16"):
        out = Path(args.out) / precision
        if not args.compare_only:
            train(out, precision, args)
        runs[precision] = [r for r in read_metrics(out) if r.get("val_loss") is not None]
    fp32, bf16 = runs["fp32"], runs["bf16"]
    print("validation loss (nats/char) at equal steps; seconds are CPU seconds of the process (--clock cpu)")
    print(f"{'step':>6}{'fp32':>9}{'bf16':>9}{'fp32 s':>9}{'bf16 s':>9}{'fp32 at bf16 s':>16}")
    for a, b in zip(fp32, bf16):
        same_time = at_time(fp32, b["elapsed_s"])
        shown = f"{same_time:16.4f}" if same_time is not None else f"{'-':>16}"
        print(
            f"{a['step']:>6}{a['val_loss']:9.4f}{b['val_loss']:9.4f}{a['elapsed_s']:9.1f}{b['elapsed_s']:9.1f}{shown}"
        )
    reached = next((r for r in bf16 if r["val_loss"] <= fp32[-1]["val_loss"]), None)
    if reached is not None:
        print(
            f"fp32's final {fp32[-1]['val_loss']:.4f} after {fp32[-1]['elapsed_s']:.0f} s: bf16 was there by step "
            f"{reached['step']}, {reached['elapsed_s']:.0f} s"
        )


def main() -> None:
    tune_process()  # as the command line does
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("gemm", "step", "curve", "figures"))
    parser.add_argument("--hidden", default="256,512")
    parser.add_argument("--models", default="1x256,2x256,1x512", help="step: LAYERSxHIDDEN, ...")
    parser.add_argument("--cell", default="lstm", help="step: lstm, gru, rnn-tanh")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3000, help="curve: steps of each run")
    parser.add_argument("--eval-every", type=int, default=250, help="curve: steps between evaluations")
    parser.add_argument("--seed", type=int, default=1234, help="curve: the seed of both runs")
    parser.add_argument("--layers", type=int, default=1, help="curve: LSTM layers of the model")
    parser.add_argument("--out", default="runs/bf16-curve", help="curve: where the two runs go (OUT/fp32, OUT/bf16)")
    parser.add_argument("--compare-only", action="store_true", help="curve: compare the runs already in OUT")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.what == "figures":
        print(FIGURES)
        return
    {"gemm": run_gemm, "step": run_step, "curve": run_curve}[args.what](args)


if __name__ == "__main__":
    main()
