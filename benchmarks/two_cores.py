"""Two cores where the batch is too small to split by rows (batch < 8 on 2 threads).

Three ways to keep both cores busy, each against the way the library runs otherwise and against
``torch.nn``, all in one process, every variant once per round in a freshly shuffled order; the
figures are medians of the rounds, in wall-clock milliseconds (what two cores save is wall time).

1. ``directions``: a bidirectional layer forward-only (``torch.inference_mode``): the two
   directions one after another, each step's GEMM on both threads (``apart``), against the two
   side by side, one thread each (``together``, ``csrc/infer.cpp`` ``infer_directions``);
   ``apart/1t`` is ``apart`` on one thread, what the threads inside each GEMM give.
2. ``training``: a bidirectional layer's explicit-BPTT loops at one row block: the compiled forward
   and backward loops of the two directions one after another on both threads (``loops apart``),
   against the two directions' loops side by side on two Python threads, one intra-op thread each
   (``loops together``; the bindings release the GIL). ``loops 1t`` is ``loops apart`` on one
   thread, ``1t/2`` half of it: what the two directions side by side would take with nothing lost
   to the threads;
   ``threads``, starting and joining the Python threads alone. ``step`` is a whole
   forward+backward of the layer (rnnlab ``path="bptt"`` and ``torch.nn``), for scale.
3. ``wavefront``: a 2-layer LSTM forward-only: layer by layer (``apart``, the library), against
   a prototype compiled here (``WAVEFRONT_CPP``, with ``torch.utils.cpp_extension.load_inline``)
   in which layer 1 runs ``K`` steps behind layer 0 on a second thread, its input side one GEMM
   per chunk of ``K`` steps (``wave K``; ``wave 1`` is the wavefront of single steps), and the
   prototype's layers one after another (``proto apart``, to show it matches the library).

    PYTHONPATH=. .venv/bin/python benchmarks/two_cores.py [--parts directions,training,wavefront]
        [--cells lstm,gru,rnn-tanh] [--batches 1,2,4] [--hidden 256,512] [--steps 100] [--input 64]
        [--chunks 1,5,20] [--repeats 15] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import threading
import time
from collections.abc import Callable

import torch
from torch import nn

from rnnlab import Recurrent
from rnnlab.bptt import infer, native
from rnnlab.bptt.common import Matmul, project
from rnnlab.bptt.elman import CODES
from rnnlab.bptt.lstm import MODES
from rnnlab.runtime import one_thread, tune_process

TWINS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn-tanh": nn.RNN}
GATES = {"lstm": 4, "gru": 3, "rnn-tanh": 1}


def race(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median ms of each variant over ``repeats`` rounds (after one warm-up round)."""
    times: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(repeats + 1):
        order = list(variants)
        random.shuffle(order)
        for k in order:
            t0 = time.perf_counter()
            variants[k]()
            if r:
                times[k].append(1e3 * (time.perf_counter() - t0))
    return {k: statistics.median(v) for k, v in times.items()}


def side_by_side(*jobs: Callable[[], object]) -> None:
    """Run the jobs at once, each on a new Python thread with one intra-op thread (the compiled
    loops release the GIL). New threads each time: a long-lived second thread that had run MKL
    slowed this thread's later 2-thread GEMMs several times over. So the figures include starting
    the threads and their first use of memory (see ``threads`` in the training table)."""
    with one_thread():  # PyTorch's count, MKL's with it, which new threads read
        threads = [threading.Thread(target=job) for job in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def pair(cell: str, I: int, H: int, layers: int, bidirectional: bool) -> tuple[nn.Module, Recurrent]:
    kw = {"nonlinearity": "tanh"} if cell == "rnn-tanh" else {}
    twin = TWINS[cell](I, H, layers, bidirectional=bidirectional, **kw)
    ours = Recurrent(cell, I, H, layers, bidirectional=bidirectional, path="bptt")
    ours.load_state_dict(twin.state_dict())
    return twin, ours


def forward_only(module: nn.Module, x: torch.Tensor, max_batch: int | None = None) -> Callable[[], object]:
    def run():
        if max_batch is not None:
            infer.BOTH_DIRECTIONS_MAX_BATCH = max_batch
        with torch.inference_mode():
            return module(x)

    return run


def directions(cell: str, B: int, T: int, I: int, H: int, repeats: int) -> dict[str, float]:
    twin, ours = pair(cell, I, H, 1, True)
    x = torch.randn(T, B, I)
    apart, together = forward_only(ours, x, 0), forward_only(ours, x, 1 << 30)
    torch.testing.assert_close(apart()[0], together()[0], atol=2e-5, rtol=1e-4)

    def apart_one_thread():
        with one_thread():
            apart()

    return race(
        {"torch.nn": forward_only(twin, x), "apart": apart, "together": together, "apart/1t": apart_one_thread},
        repeats,
    )


def loop_jobs(compiled, cell: str, B: int, T: int, H: int) -> tuple[list, list]:
    """One direction's compiled forward loop and backward loop at one row block, on random data."""
    G = GATES[cell]
    u, h0, d_hs = torch.randn(T, B, G * H), torch.zeros(B, H), torch.randn(T, B, H)
    w = torch.randn(G * H, H) / H**0.5
    rec, rec_t = Matmul(w, B), Matmul(w.t(), B)
    saved: dict = {}
    if cell == "lstm":
        c0 = torch.zeros(B, H)
        fwd = lambda: saved.update(o=compiled.lstm_forward(u, h0, c0, rec.weight, rec.packed, None, MODES["lstm"], 1))  # noqa: E731
        bwd = lambda: compiled.lstm_backward(  # noqa: E731
            d_hs, None, saved["o"][0], saved["o"][2], c0, rec_t.weight, rec_t.packed, None, 0, False, 1
        )
    elif cell == "gru":
        b_hn = torch.zeros(H)
        fwd = lambda: saved.update(o=compiled.gru_forward(u, h0, rec.weight, rec.packed, b_hn, 1))  # noqa: E731
        bwd = lambda: compiled.gru_backward(d_hs, False, h0, *saved["o"], rec_t.weight, rec_t.packed, False, 1)  # noqa: E731
    else:
        code = CODES["tanh"]
        fwd = lambda: saved.update(o=compiled.elman_forward(u, h0, rec.weight, rec.packed, code, 1))  # noqa: E731
        bwd = lambda: compiled.elman_backward(d_hs, False, saved["o"], rec_t.weight, rec_t.packed, code, False, 1)  # noqa: E731
    return fwd, bwd


def training(cell: str, B: int, T: int, I: int, H: int, repeats: int) -> dict[str, float]:
    compiled = native.loops(torch.zeros(1))
    (f0, b0), (f1, b1) = loop_jobs(compiled, cell, B, T, H), loop_jobs(compiled, cell, B, T, H)
    twin, ours = pair(cell, I, H, 1, True)
    x = torch.randn(T, B, I, requires_grad=True)

    def step(module):
        return lambda: module(x)[0].sum().backward()

    def apart():
        f0(), f1(), b0(), b1()

    def apart_one_thread():
        with one_thread():
            apart()

    def together():
        side_by_side(f0, f1)
        side_by_side(b0, b1)

    variants = {"torch.nn": step(twin), "step": step(ours), "loops apart": apart, "loops 1t": apart_one_thread}
    noop = lambda: None  # noqa: E731
    variants.update(
        {"loops together": together, "threads": lambda: (side_by_side(noop, noop), side_by_side(noop, noop))}
    )
    ms = race(variants, repeats)
    return {**ms, "1t/2": ms["loops 1t"] / 2}


WAVEFRONT_CPP = r"""
#include <torch/extension.h>

#include <atomic>

#include "common.h"

// One LSTM step for B rows: pre-activations u + y (B, 4H), biases in u; h, c updated in place,
// h also written to o (B, H).
static void lstm_rows(const float* u, const float* y, float* h, float* c, float* o, int64_t B, int64_t H) {
  for (int64_t b = 0; b < B; ++b) {
    const float *ub = u + b * 4 * H, *yb = y + b * 4 * H;
    float *hb = h + b * H, *cb = c + b * H, *ob = o + b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const auto pre = [&](int64_t k) { return ub[k * H + j] + yb[k * H + j]; };
      const float i = sigm(pre(0)), f = sigm(pre(1)), g = std::tanh(pre(2)), og = sigm(pre(3));
      const float cc = f * cb[j] + i * g;
      cb[j] = cc;
      hb[j] = ob[j] = og * std::tanh(cc);
    }
  }
}

// Two LSTM layers over u0 (T, B, 4H), layer 0's input side with its biases: layer 0 on one
// thread, layer 1 on another K steps behind (its input side one GEMM per chunk of K steps). With
// threads = 1 the two run one after another on this thread, layer 1's input side then one GEMM.
at::Tensor wavefront(const at::Tensor& u0, at::Tensor h0, at::Tensor c0, at::Tensor h1, at::Tensor c1,
                     const at::Tensor& w_hh0, const c10::optional<at::Tensor>& p_hh0, const at::Tensor& w_ih1,
                     const at::Tensor& b1, const at::Tensor& w_hh1, const c10::optional<at::Tensor>& p_hh1,
                     int64_t K, bool together) {
  at::NoGradGuard no_grad;
  const int64_t T = u0.size(0), B = u0.size(1), H = h0.size(1);
  at::Tensor out0 = at::empty({T, B, H}, u0.options()), out1 = at::empty({T, B, H}, u0.options());
  const Product rec0{w_hh0, p_hh0, B}, rec1{w_hh1, p_hh1, B};
  std::atomic<int64_t> done{0};
  const auto layer0 = [&]() {
    for (int64_t t = 0; t < T; ++t) {
      const at::Tensor y = rec0(h0);
      lstm_rows(u0[t].data_ptr<float>(), y.data_ptr<float>(), h0.data_ptr<float>(), c0.data_ptr<float>(),
                out0[t].data_ptr<float>(), B, H);
      done.store(t + 1, std::memory_order_release);
    }
  };
  const auto layer1 = [&]() {
    for (int64_t k0 = 0; k0 < T; k0 += K) {
      const int64_t k1 = std::min(T, k0 + K);
      while (done.load(std::memory_order_acquire) < k1) {
      }
      const at::Tensor u1 = at::addmm(b1, out0.slice(0, k0, k1).reshape({-1, H}), w_ih1.t()).contiguous();
      for (int64_t t = k0; t < k1; ++t) {
        const at::Tensor y = rec1(h1);
        lstm_rows(u1.data_ptr<float>() + (t - k0) * B * 4 * H, y.data_ptr<float>(), h1.data_ptr<float>(),
                  c1.data_ptr<float>(), out1[t].data_ptr<float>(), B, H);
      }
    }
  };
  if (!together) {
    layer0();
    layer1();
    return out1;
  }
  at::parallel_for(0, 2, 1, [&](int64_t p0, int64_t p1) {
    at::NoGradGuard inner;
    for (int64_t p = p0; p < p1; ++p) p == 0 ? layer0() : layer1();
  });
  return out1;
}
"""


def wavefront_prototype():
    """The wavefront prototype, compiled once (beside the library's build)."""
    from torch.utils.cpp_extension import load_inline

    build = native.build_root() / "two_cores_wavefront"
    build.mkdir(parents=True, exist_ok=True)
    return load_inline(
        "two_cores_wavefront", WAVEFRONT_CPP, functions=["wavefront"], extra_cflags=native.FLAGS,
        extra_ldflags=["-lmvec", "-fopenmp"], extra_include_paths=[str(native.CSRC)], build_directory=str(build),
    )  # fmt: skip


def pipeline(proto, ours: Recurrent, x: torch.Tensor, K: int, together: bool = True) -> torch.Tensor:
    """Layer 1 of a 2-layer LSTM ``K`` steps behind layer 0, the two on two threads (or, with
    ``together=False``, one after another on this thread's threads): the prototype's output."""
    (c0, c1), B, H = ours.layers, x.shape[1], ours.hidden_size
    with torch.inference_mode():
        u0 = project(x, c0.weight_ih, c0.bias_ih + c0.bias_hh).contiguous()
        rec0, rec1 = Matmul(c0.weight_hh, B), Matmul(c1.weight_hh, B)
        state = [torch.zeros(B, H) for _ in range(4)]
        b1 = c1.bias_ih + c1.bias_hh
        return proto.wavefront(
            u0, *state, rec0.weight, rec0.packed, c1.weight_ih, b1, rec1.weight, rec1.packed, K, together
        )


def wavefront(cell: str, B: int, T: int, I: int, H: int, repeats: int, chunks: list[int]) -> dict[str, float]:
    twin, ours = pair(cell, I, H, 2, False)
    x, proto = torch.randn(T, B, I), wavefront_prototype()
    apart = forward_only(ours, x)
    for K in chunks:
        torch.testing.assert_close(pipeline(proto, ours, x, K), apart()[0], atol=2e-5, rtol=1e-4)
    variants = {
        "torch.nn": forward_only(twin, x),
        "apart": apart,
        "proto apart": lambda: pipeline(proto, ours, x, T, False),
    }
    variants.update({f"wave {K}": (lambda K=K: pipeline(proto, ours, x, K)) for K in chunks})
    return race(variants, repeats)


def table(title: str, rows: list[tuple[str, dict[str, float]]], ratios: list[tuple[str, str]]) -> None:
    """Print the medians and the ratios ``a/b`` (> 1: ``b`` is faster than ``a``)."""
    names = list(rows[0][1])
    heads = [f"{a}/{b}" for a, b in ratios]
    width = max(map(len, names + heads)) + 2
    print(f"\n{title}: median ms; a/b = a's time over b's (> 1: b is faster)")
    print(f"{'case':<16}" + "".join(f"{n:>{width}}" for n in names + heads))
    for case, ms in rows:
        cells = [f"{ms[n]:>{width}.3f}" for n in names] + [f"{ms[a] / ms[b]:>{width}.2f}" for a, b in ratios]
        print(f"{case:<16}" + "".join(cells), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ints = lambda s: [int(v) for v in s.split(",")]  # noqa: E731
    ap.add_argument("--parts", default="directions,training,wavefront", help="which of the three to run")
    ap.add_argument("--cells", default="lstm,gru,rnn-tanh", help="cells, of lstm, gru, rnn-tanh")
    ap.add_argument("--batches", type=ints, default=[1, 2, 4], help="batch sizes")
    ap.add_argument("--hidden", type=ints, default=[256, 512], help="hidden sizes")
    ap.add_argument("--steps", type=int, default=100, help="sequence length T")
    ap.add_argument("--input", type=int, default=64, help="input features I")
    ap.add_argument(
        "--chunks", type=ints, default=[1, 5, 20], help="steps layer 1 runs behind layer 0 in the wavefront"
    )
    ap.add_argument("--repeats", type=int, default=15, help="timed rounds (medians)")
    ap.add_argument("--threads", type=int, default=2, help="PyTorch's intra-op threads")
    args = ap.parse_args()
    tune_process()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    if native.loops(torch.zeros(1)) is None:
        raise SystemExit("two_cores: the compiled loops are not available here (rnnlab build)")
    load = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load {load:.2f}")
    T, I, parts = args.steps, args.input, args.parts.split(",")
    cases = [(c, H, B) for c in args.cells.split(",") for H in args.hidden for B in args.batches]
    if "directions" in parts:
        rows = [(f"{c} H{H} B{B}", directions(c, B, T, I, H, args.repeats)) for c, H, B in cases]
        ratios = [("torch.nn", "apart"), ("torch.nn", "together"), ("apart", "together"), ("apart/1t", "apart")]
        table(f"directions: bidirectional layer forward-only, T {T}, I {I}", rows, ratios)
    if "training" in parts:
        rows = [(f"{c} H{H} B{B}", training(c, B, T, I, H, args.repeats)) for c, H, B in cases]
        ratios = [("torch.nn", "step"), ("loops apart", "loops together"), ("loops apart", "1t/2")]
        table(f"training: bidirectional layer, loops at one row block, T {T}, I {I}", rows, ratios)
    if "wavefront" in parts:
        cases = [(c, H, B) for c, H, B in cases if c == "lstm"]  # the prototype is an LSTM's
        rows = [(f"{c} H{H} B{B}", wavefront(c, B, T, I, H, args.repeats, args.chunks)) for c, H, B in cases]
        ratios = [("torch.nn", "apart"), ("apart", "proto apart")] + [("apart", f"wave {K}") for K in args.chunks]
        table(f"wavefront: 2-layer stack forward-only, T {T}, I {I}", rows, ratios)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
