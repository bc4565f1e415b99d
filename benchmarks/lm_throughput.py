"""Training throughput of `rnnlab train` against a bare PyTorch loop of the same model.

Both train the same architecture on the same tokens with the same batch shape, optimizer and
clipping at norm 5, in one process, in alternating blocks. The rnnlab side is the real trainer,
data pipeline, progress reporting, evaluation and checkpoints included (evaluation every
`--eval-every` steps, default as in `rnnlab train`).

- `--level char` (default): Shakespeare characters, embedding 64 -> one LSTM layer of
  `--hidden` (256) -> linear, Adam lr 5e-3, batch 32 x 64.
- `--level word`: Penn Treebank words (10,000), Zaremba et al. 2014 "small": embedding 200 ->
  two LSTM layers of 200 -> linear, SGD lr 1, batch 20 x 20.

    .venv/bin/python benchmarks/lm_throughput.py [--level word] [--steps 1000]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from rnnlab.data import StreamBatches
from rnnlab.models.language_model import ModelConfig
from rnnlab.tasks.lm import LanguageModelTask, LMDataConfig, load_ids
from rnnlab.train import OptimConfig, RunConfig, Trainer
from rnnlab.train.progress import Progress

PRESETS = {
    "char": {"model": dict(hidden_size=256, embedding_size=64, num_layers=1),
             "data": dict(data="shakespeare", seq_len=64), "optim": dict(batch_size=32, optimizer="adam", lr=5e-3)},
    "word": {"model": dict(hidden_size=200, embedding_size=200, num_layers=2),
             "data": dict(data="ptb", level="word", seq_len=20), "optim": dict(batch_size=20, optimizer="sgd", lr=1.0)},
}  # fmt: skip
OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}


def bare_loop(ids: torch.Tensor, vocab_size: int, m: ModelConfig, d: LMDataConfig, o: OptimConfig, steps: int) -> float:
    """Tokens per second of a plain embedding + nn.LSTM + linear loop."""
    embed, head = nn.Embedding(vocab_size, m.embedding_size), nn.Linear(m.hidden_size, vocab_size)
    lstm = nn.LSTM(m.embedding_size, m.hidden_size, m.num_layers)
    params = [*embed.parameters(), *lstm.parameters(), *head.parameters()]
    opt = OPTIMIZERS[o.optimizer](params, lr=o.lr)
    batches = StreamBatches(ids, o.batch_size, d.seq_len)
    state = None
    start = time.perf_counter()
    for _ in range(steps):
        x, y, new = batches.next()
        out, state = lstm(embed(x), None if new else state)
        state = tuple(s.detach() for s in state)
        loss = nn.functional.cross_entropy(head(out).reshape(-1, vocab_size), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        loss.item()
    return steps * o.batch_size * d.seq_len / (time.perf_counter() - start)


def rnnlab_loop(m: ModelConfig, d: LMDataConfig, o: OptimConfig, r: RunConfig) -> tuple[float, float]:
    """Tokens per second of the real trainer: wall clock from the first step to the saved run
    (evaluations, checkpoints and figures included), and over its training steps alone."""
    with tempfile.TemporaryDirectory() as tmp:
        task = LanguageModelTask(m, d, o.batch_size, r.seed)
        trainer = Trainer(task, Path(tmp) / "run", o, r, progress=Progress(open("/dev/null", "w")))
        start = time.perf_counter()
        trainer.run()
        whole = r.max_steps * o.batch_size * d.seq_len / (time.perf_counter() - start)
        records = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
        steps = [r["chars_per_s"] for r in records if r["chars_per_s"]]
        return whole, sum(steps) / len(steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", choices=PRESETS, default="char")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--hidden", type=int, default=None, help="units per layer (default: the preset's)")
    parser.add_argument("--eval-every", type=int, default=None, help="default: 500 (char), 2323 = an epoch (word)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    preset = PRESETS[args.level]
    extra = {"hidden_size": args.hidden} if args.hidden else {}
    every = args.eval_every or {"char": RunConfig.eval_every, "word": 2323}[args.level]
    d, o = LMDataConfig(**preset["data"]), OptimConfig(**preset["optim"])
    r = RunConfig(max_steps=args.steps, time_budget="", eval_every=every)
    vocab, ids, _ = load_ids(d)
    ours, steps, bare = [], [], []
    for _ in range(args.rounds):
        torch.manual_seed(0)
        m = ModelConfig(**{**preset["model"], **extra})
        bare.append(bare_loop(ids["train"], len(vocab), m, d, o, args.steps))
        whole, per_step = rnnlab_loop(m, d, o, r)
        ours.append(whole)
        steps.append(per_step)
    best, b, unit = max(ours), max(bare), vocab.unit
    print(f"{d.data}: LSTM {m.num_layers}x{m.hidden_size}, batch {o.batch_size} x {d.seq_len}, {o.optimizer}, "
          f"{args.steps} steps, eval every {every}")  # fmt: skip
    rows = [("bare PyTorch loop ", bare), ("rnnlab train      ", ours), ("rnnlab steps alone", steps)]
    for name, values in rows:
        rounds = ", ".join(f"{v / 1000:.1f}k" for v in values)
        print(f"{name}: {max(values) / 1000:7.1f}k {unit}s/s  (rounds: {rounds})")
    print(f"ratio rnnlab / bare: {best / b:.3f} (whole run), {max(steps) / b:.3f} (training steps)")


if __name__ == "__main__":
    main()
