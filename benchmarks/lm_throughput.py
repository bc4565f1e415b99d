"""Training throughput of `rnnlab train` against a bare PyTorch loop of the same model.

Both train the same architecture (embedding 64 -> one LSTM layer -> linear, Adam, clipping at
norm 5) on the same Shakespeare characters with the same batch shape, in one process, in
alternating blocks. The rnnlab side is the real trainer, data pipeline, progress reporting,
evaluation and checkpoints included (evaluation every `--eval-every` steps, default as in
`rnnlab train`).

    .venv/bin/python benchmarks/charlm_throughput.py [--steps 1000] [--hidden 256]
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from rnnlab.data import CharVocab, StreamBatches, load_corpus
from rnnlab.models.language_model import ModelConfig
from rnnlab.train.config import TrainConfig
from rnnlab.train.loop import Trainer
from rnnlab.train.progress import Progress


def bare_loop(ids: torch.Tensor, vocab_size: int, hidden: int, batch: int, seq: int, steps: int) -> float:
    """Chars per second of a plain embedding + nn.LSTM + linear + Adam loop."""
    embed, lstm, head = nn.Embedding(vocab_size, 64), nn.LSTM(64, hidden), nn.Linear(hidden, vocab_size)
    params = [*embed.parameters(), *lstm.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=5e-3)
    batches = StreamBatches(ids, batch, seq)
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
    return steps * batch * seq / (time.perf_counter() - start)


def rnnlab_loop(hidden: int, batch: int, seq: int, steps: int, eval_every: int) -> float:
    """Chars per second of the real trainer, wall clock from the first step to the saved run."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(seq_len=seq, batch_size=batch, max_steps=steps, time_budget="", eval_every=eval_every)
        trainer = Trainer(
            Path(tmp) / "run", ModelConfig(hidden_size=hidden), cfg, progress=Progress(open("/dev/null", "w"))
        )
        start = time.perf_counter()
        trainer.run()
        return steps * batch * seq / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--eval-every", type=int, default=TrainConfig.eval_every)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    text = load_corpus("shakespeare")
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text[: int(len(text) * 0.9)])
    ours, bare = [], []
    for _ in range(args.rounds):
        torch.manual_seed(0)
        bare.append(bare_loop(ids, len(vocab), args.hidden, args.batch, args.seq, args.steps))
        ours.append(rnnlab_loop(args.hidden, args.batch, args.seq, args.steps, args.eval_every))
    o, b = max(ours), max(bare)
    print(f"LSTM 1x{args.hidden}, batch {args.batch} x {args.seq}, {args.steps} steps, eval every {args.eval_every}")
    print(f"bare PyTorch loop : {b / 1000:7.1f}k chars/s  (rounds: {', '.join(f'{v / 1000:.1f}k' for v in bare)})")
    print(f"rnnlab train      : {o / 1000:7.1f}k chars/s  (rounds: {', '.join(f'{v / 1000:.1f}k' for v in ours)})")
    print(f"ratio rnnlab / bare: {o / b:.3f}")


if __name__ == "__main__":
    main()
