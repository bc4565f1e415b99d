"""Peak memory of one training step: rnnlab's layers on each path against their ``torch.nn`` twin.

Each configuration runs alone in a fresh process, which builds the model, takes two warm-up
steps (libraries loaded, oneDNN primitives made, ``path="auto"`` decided), drops the gradients,
and then measures one step (forward, backward; the optimizer is left out, as it is the same for
every implementation). Three figures, in MiB:

- ``held``: the resident set after the forward pass over the one before it, what is held for
  backward (the activations, and everything the forward left behind).
- ``peak``: the highest resident set during the step (``VmHWM``, reset before the step through
  ``/proc/self/clear_refs``) over the one before it.
- ``saved``: the bytes autograd keeps for backward, summed over the tensors that
  ``torch.autograd.graph.saved_tensors_hooks`` sees, each storage once, the parameters and the
  input left out: what the graph between forward and backward costs, without the allocator.
- ``touched``: the part of ``saved`` in pages that are resident after the forward pass
  (``mincore``). oneDNN sizes the workspace of ``torch.nn``'s recurrent kernels for the largest
  case and writes only part of it; pages never written cost no memory.

glibc is told to map every block of 64 KiB or more fresh from the kernel and to return it when
freed (``mallopt``), and to hand back the heap's free pages before the step (``malloc_trim``), so
that the resident set follows the memory in use. (The command line's
:func:`rnnlab.runtime.tune_process` keeps freed blocks for reuse instead: faster, and it holds on
to the peak after the step, but the peak itself is the same memory.)

    .venv/bin/python benchmarks/peak_memory.py [--repeats 3] [--threads 1] [--json out.json]
        [--configs lstm:32x100x64x256,lm:1x256,...] [--figures]

A configuration is ``CELL:BxTxIxH`` (one layer of ``lstm``, ``gru`` or ``rnn-tanh`` on random
input, loss the sum of its outputs) or ``lm:LxH`` (the character language model of ``rnnlab
train``: embedding 64, ``L`` layers of ``H`` LSTM units, vocabulary 78, batch 32, 64 steps,
cross-entropy); for these, the implementation ``bf16`` is the fused kernel under ``rnnlab train
--precision bf16``'s mixed precision.

``--figures`` prints what this measured here (torch 2.13, one thread), with what explicit BPTT
holds for backward and what its backward adds.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import torch

CONFIGS = [
    "lstm:32x100x64x256",
    "lstm:32x100x64x512",
    "gru:32x100x64x256",
    "gru:32x100x64x512",
    "rnn-tanh:32x100x64x256",
    "rnn-tanh:32x100x64x512",
    "lm:1x256",
    "lm:2x256",
]
IMPLS = ("torch.nn", "fused", "bptt", "auto", "bf16")  # bf16: language models only
TWINS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn-tanh": torch.nn.RNN}
LM_BATCH, LM_STEPS, LM_EMBEDDING, LM_VOCAB = 32, 64, 64, 78
MIB = 1 << 20
FIGURES = ("held_mib", "peak_mib", "saved_mib", "touched_mib")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)

MEASURED = """\
MiB over the resident set before the step; medians of 3 processes (torch 2.13, one thread, load
average 5 on 2 cores; bf16 from an earlier run: the fused kernel, which explicit BPTT does not touch)
config               held: nn  bptt   bf16 | peak: nn   bptt  bf16 | saved: nn (touched)  bptt
lstm 32x100x64x256       19.1  19.0        |     52.6   36.8       |       52.0 (19.1)   18.8
lstm 32x100x64x512       37.9  37.8        |    109.5   77.6       |      102.4 (37.9)   37.6
gru  32x100x64x256       23.2  15.7        |     35.4   30.7       |       21.9 (22.4)   15.7
gru  32x100x64x512       46.7  31.4        |     71.6   65.9       |       43.8 (45.6)   31.3
rnn  32x100x64x256        7.2   3.3        |     12.1    7.4       |        3.2  (3.3)    3.2
rnn  32x100x64x512        7.1   6.6        |     19.3   15.7       |        6.3  (6.7)    6.3
lm 1x256 (B 32, T 64)    13.4  13.6    7.9 |     35.6   26.0  22.4 |       34.6 (13.4)   13.2
lm 2x256                 25.6  25.5   15.2 |     52.1   38.3  33.2 |       68.0 (25.6)   25.2
path="fused" measures as torch.nn (the same kernels); path="auto" as the path it took.

In units of T*B*H floats (3.1 MiB at 32x100x256, 6.3 at 512), what explicit BPTT holds between
forward and backward, and what backward adds on top:

- LSTM: holds the gates (4), h and c (2), as much as oneDNN's workspace touches; tanh(c_t) is
  taken again from c_t in backward (one tanh an element). Backward adds a private copy of the
  outputs' gradient (1, where that arrives as an expanded scalar or strided) and the gates'
  gradients (4): 11 units, 0.7 of torch.nn's peak (oneDNN's backward allocates workspaces as
  large as the forward's). Writing the gates' gradients over the saved gates would save 4 more,
  but a second backward through a retained graph would then read gradients as gates.
- GRU: holds r, z, n, y_n = W_hn h + b_hn and h (5). Backward adds the outputs' gradient (1),
  over which dN is written where it is a private copy (else dN takes 1 more), and ONE buffer of
  gate gradients (3): [dR, dZ, dY_n] for dW_hh, then dN written over dY_n for the input side.
- Elman: holds h (1); backward writes d_pre over the private copy of the outputs' gradient (1;
  one more where the gradient arrives contiguous, from a readout layer, as it may be shared).
- dL/dh_t of every step (1) is kept only inside a GradientFlow block, which records its norms.
The rest of the peak: the weight gradients' GEMMs, MKL's packed weights, the input side's
gradient through the projection.

bf16 (rnnlab train --precision bf16, the fused kernel under autocast): 0.6 of fp32's memory.
"""


def status_kib(field: str) -> int:
    """A ``/proc/self/status`` figure (``VmRSS``, ``VmHWM``) in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    """Set ``VmHWM`` to the present resident set (Linux 4.0 and later)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


class SavedBytes:
    """Sum the storages autograd saves for backward inside the block, each once, but ``skip``."""

    def __init__(self, skip: list[torch.Tensor]) -> None:
        self.skip = {t.untyped_storage().data_ptr() for t in skip}
        self.seen: dict[int, int] = {}
        self.hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in self.skip:
            self.seen[storage.data_ptr()] = storage.nbytes()
        return t

    def __enter__(self) -> SavedBytes:
        self.hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.hooks.__exit__(*exc)

    @property
    def total(self) -> int:
        return sum(self.seen.values())

    def resident(self) -> int:
        """Bytes of the saved storages in resident pages (those in pages shared by several counted once)."""
        libc, page = ctypes.CDLL(None), os.sysconf("SC_PAGE_SIZE")
        pages: set[int] = set()
        for ptr, size in self.seen.items():
            first, end = ptr // page * page, ptr + size
            count = (end - first + page - 1) // page
            vec = (ctypes.c_ubyte * count)()
            if libc.mincore(ctypes.c_void_p(first), ctypes.c_size_t(end - first), vec) == 0:
                pages.update(first + k * page for k in range(count) if vec[k] & 1)
        return len(pages) * page


def build(config: str, impl: str):
    """``(module, input, loss_fn)`` of a configuration on an implementation."""
    from rnnlab import Recurrent
    from rnnlab.models.language_model import LanguageModel, ModelConfig, loss_of
    from rnnlab.train.precision import autocast

    torch.manual_seed(0)
    kind, shape = config.split(":")
    if kind == "lm":
        layers, hidden = (int(v) for v in shape.split("x"))
        cfg = ModelConfig(vocab_size=LM_VOCAB, hidden_size=hidden, num_layers=layers, embedding_size=LM_EMBEDDING)
        model = LanguageModel(cfg)
        if impl == "torch.nn":  # the same model around torch.nn.LSTM (it takes a state of None alike)
            model.rnn = torch.nn.LSTM(LM_EMBEDDING, hidden, layers)
        else:
            model.rnn.path = "fused" if impl == "bf16" else impl
        ids = torch.randint(0, LM_VOCAB, (LM_STEPS + 1, LM_BATCH))
        how = "bf16" if impl == "bf16" else "fp32"

        def lm_loss(m, ids):
            with autocast(m, how):
                return loss_of(m(ids[:-1])[0], ids[1:])

        return model, ids, lm_loss
    B, T, I, H = (int(v) for v in shape.split("x"))
    model = TWINS[kind](I, H) if impl == "torch.nn" else Recurrent(kind, I, H, path=impl)
    return model, torch.randn(T, B, I), lambda m, x: m(x)[0].sum()


def measure(config: str, impl: str, threads: int) -> dict:
    """One configuration on one implementation, in this (fresh) process."""
    libc = ctypes.CDLL(None)
    libc.mallopt(M_MMAP_THRESHOLD, 64 * 1024)  # a fixed threshold also stops glibc raising it
    libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024)
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    model, x, loss_fn = build(config, impl)
    params = list(model.parameters())
    for _ in range(2):
        loss_fn(model, x).backward()
    path = getattr(getattr(model, "rnn", model), "_auto_choice", None) if impl == "auto" else impl
    for p in params:
        p.grad = None
    libc.malloc_trim(0)  # hand back the free pages of the heap, which the step would otherwise reuse unseen
    before = status_kib("VmRSS")
    reset_peak()
    with SavedBytes([*params, x]) as saved:
        loss = loss_fn(model, x)
    held, touched = status_kib("VmRSS"), saved.resident()
    loss.backward()
    peak = status_kib("VmHWM")
    return {
        "config": config,
        "impl": impl,
        "path": path,
        "held_mib": (held - before) / 1024,
        "peak_mib": (peak - before) / 1024,
        "saved_mib": saved.total / MIB,
        "touched_mib": touched / MIB,
    }


def in_child(config: str, impl: str, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--child", config, impl, "--threads", str(threads)]
    root = str(Path(__file__).resolve().parents[1])  # this checkout's rnnlab, whichever one is installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode:
        raise RuntimeError(f"{config} {impl}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--figures", action="store_true", help="print the figures measured here, and stop")
    args = parser.parse_args()
    if args.figures:
        print(MEASURED)
        return
    if args.child:
        print(json.dumps(measure(*args.child, args.threads)))
        return
    print(f"one training step, MiB over the resident set before it; medians of {args.repeats} processes")
    print(f"{'config':<24}{'impl':<10}{'path':<9}{'held':>7}{'peak':>7}{'saved':>7}{'touched':>8}{'peak/nn':>8}")
    rows = []
    for config in args.configs.split(","):
        base = None
        for impl in args.impls.split(","):
            if impl == "bf16" and not config.startswith("lm:"):
                continue
            runs = [in_child(config, impl, args.threads) for _ in range(args.repeats)]
            for path in sorted({r["path"] for r in runs}):  # auto may choose apart in other processes
                some = [r for r in runs if r["path"] == path]
                row = {**some[0], **{k: statistics.median(r[k] for r in some) for k in FIGURES}}
                base = row if impl == "torch.nn" else base
                ratio = f"{row['peak_mib'] / base['peak_mib']:8.2f}" if base else ""
                taken = path if len(some) == len(runs) else f"{path} {len(some)}/{len(runs)}"
                print(
                    f"{config:<24}{impl:<10}{taken:<9}"
                    + "".join(f"{row[k]:{w}.1f}" for k, w in zip(FIGURES, (7, 7, 7, 8)))
                    + ratio,
                    flush=True,
                )
                rows.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
