"""Training throughput of image captioning: `rnnlab train --task caption` against bare PyTorch.

The rnnlab side is the real `Trainer` on a real `CaptionTask`: per step the task's batch and loss,
backward, clipping at norm 5 with its report, Adam, the progress line and the telemetry (the
gradient-flow record every 50 steps included), as `rnnlab train` runs it. The data are
digit-scenes canvases drawn by `rnnlab.data.scenes` (64x64, one caption of 6 to 16 words each,
31 words), only fewer of them (`--scenes`, default 2,000 instead of 20,000) so that building the
task takes seconds; the step does not depend on the set's size. Each round is a whole run of
`--steps` steps with one evaluation at its end (greedy captions of the 64 validation images, the
checkpoints, the final beam search): the speed reported is the trainer's own `images_per_s` of its
training steps (what `metrics.jsonl` shows users), and the wall clock of the whole run beside it.

The bare side trains `Bare`, the same maths written directly with torch.nn, on the same batches (a
second task with the same seed deals them): uint8 images / 255 * 2 - 1 -> Conv2d/BatchNorm2d/ReLU
stages (the first three with 2x2 max pooling) -> an 8x8 grid of 128 features (dropout) ->
h_0, c_0 = tanh(W v + b) of the grid's mean v -> embedding (dropout) -> `torch.nn.LSTM` over the
whole caption -> additive attention over the 64 cells and tanh(W_c [c; h]) (`--attention soft`)
or h itself (`none`, Show and Tell) -> dropout -> readout; cross-entropy over the non-pad words
plus the doubly stochastic penalty sum_i (1 - sum_t a_ti)^2 (weight 1) with attention; Adam at
the same rate, `clip_grad_norm_` 5.

    PYTHONPATH=. .venv/bin/python benchmarks/caption_throughput.py [--attention none] [--steps 50]
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.data.captions import CAPTION_SETS, Captioned
from rnnlab.data.symbols import PAD
from rnnlab.models.captioner import CaptionConfig
from rnnlab.tasks.caption import CaptionDataConfig, CaptionTask
from rnnlab.train import OptimConfig, RunConfig, Trainer
from rnnlab.train.progress import Progress

SET = "digit-scenes-bench"  # registered below: digit-scenes with fewer scenes
LR = 1e-3


def register_scenes(train: int) -> None:
    """Add :data:`SET` to the named caption sets: ``train`` digit-scenes canvases for training, 64
    for validation and 8 for testing, drawn as ``digit-scenes`` draws them (RGB, 64 px)."""
    from rnnlab.data import scenes

    def load(size: int) -> dict[str, list[Captioned]]:
        made = scenes.make_scenes(0, {"train": train, "valid": 64, "test": 8})
        names = {"train": "train", "valid": "val", "test": "test"}
        return {
            names[split]: [
                Captioned(f"{names[split]}/{k}", np.repeat(s.image[:, :, None], 3, axis=2), [s.caption], s.layout)
                for k, s in enumerate(made[split])
            ]
            for split in names
        }

    CAPTION_SETS[SET] = load


class Bare(nn.Module):
    """The reference: the captioner's computation written directly with torch.nn."""

    def __init__(self, c: CaptionConfig) -> None:
        super().__init__()
        E, H, V = c.embedding_size, c.hidden_size, c.vocab_size
        layers, previous = [], 3
        for k, channels in enumerate(c.channel_list()):
            layers += [nn.Conv2d(previous, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
            if k < 3:
                layers.append(nn.MaxPool2d(2))
            previous = channels
        D = previous
        self.encoder = nn.Sequential(*layers)
        self.embed = nn.Embedding(V, E, padding_idx=PAD)
        self.lstm = nn.LSTM(E, H)
        self.init_h, self.init_c = nn.Linear(D, H), nn.Linear(D, H)
        self.soft = c.attention == "soft"
        if self.soft:
            self.w_q, self.w_k, self.v = nn.Linear(H, H), nn.Linear(D, H, bias=False), nn.Linear(H, 1, bias=False)
            self.combine = nn.Linear(D + H, H, bias=False)
        self.drop = nn.Dropout(c.dropout)
        self.readout = nn.Linear(H, V)

    def forward(self, images: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor | None]:
        """Logits ``(T, B, V)`` and the attention ``(T, B, G)`` (``None`` without)."""
        features = self.encoder(images.float() / 255.0 * 2.0 - 1.0)  # (B, D, 8, 8)
        grid = self.drop(features.flatten(2).transpose(1, 2))  # (B, G, D)
        mean = grid.mean(dim=1)
        h0 = torch.tanh(self.init_h(mean)).unsqueeze(0)  # (1, B, H)
        c0 = torch.tanh(self.init_c(mean)).unsqueeze(0)
        out, _ = self.lstm(self.drop(self.embed(tgt_in)), (h0, c0))  # (T, B, H)
        if not self.soft:
            return self.readout(self.drop(out)), None
        q = out.transpose(0, 1)  # (B, T, H)
        scores = self.v(torch.tanh(self.w_q(q).unsqueeze(2) + self.w_k(grid).unsqueeze(1))).squeeze(-1)  # (B, T, G)
        weights = torch.softmax(scores, dim=-1)
        context = torch.bmm(weights, grid)  # (B, T, D)
        attended = torch.tanh(self.combine(torch.cat([context, q], dim=-1))).transpose(0, 1)  # (T, B, H)
        return self.readout(self.drop(attended)), weights.transpose(0, 1)


def bare_loss(model: Bare, images: Tensor, tgt_in: Tensor, tgt_out: Tensor) -> Tensor:
    """Cross-entropy over the non-pad words plus the doubly stochastic penalty (weight 1)."""
    logits, weights = model(images, tgt_in)
    loss = nn.functional.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD)
    if weights is not None:
        valid = (tgt_out != PAD).unsqueeze(-1).float()  # (T, B, 1)
        loss = loss + ((1.0 - (weights * valid).sum(dim=0)) ** 2).sum() / valid.sum()  # over the words, as rnnlab
    return loss


def bare_loop(task: CaptionTask, steps: int) -> float:
    """Images per second of ``steps`` training steps of :class:`Bare` on ``task``'s batches."""
    torch.manual_seed(0)
    model = Bare(task.model.config)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    images = 0
    start = time.perf_counter()
    for _ in range(steps):
        *batch, _ = task.next_batch()  # images, words in, words out (and the weight of a process's part: 1)
        loss = bare_loss(model, *batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        loss.item()
        images += batch[0].shape[0]
    return images / (time.perf_counter() - start)


def rnnlab_loop(m: CaptionConfig, d: CaptionDataConfig, o: OptimConfig, r: RunConfig) -> tuple[float, float]:
    """Images per second of the real trainer: over its training steps (its ``images_per_s``), and
    over the whole run (the final evaluation, checkpoints and results included)."""
    with tempfile.TemporaryDirectory() as tmp:
        task = CaptionTask(m, d, o.batch_size, r.seed)
        trainer = Trainer(task, Path(tmp) / "run", o, r, progress=Progress(open("/dev/null", "w")))
        start = time.perf_counter()
        trainer.run()
        whole = r.max_steps * o.batch_size / (time.perf_counter() - start)
        records = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
        return [x["images_per_s"] for x in records if x.get("images_per_s")][-1], whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attention", choices=["soft", "none"], default="soft")
    parser.add_argument("--steps", type=int, default=50, help="steps per round and side (50: one gradient-flow record)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--scenes", type=int, default=2000, help="training canvases drawn")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    register_scenes(args.scenes)
    d = CaptionDataConfig(data=SET, eval_images=64, shown=0, test_beam=1)
    o = OptimConfig(optimizer="adam", lr=LR, schedule="constant", batch_size=args.batch_size, clip_norm=5.0)
    r = RunConfig(time_budget="", max_steps=args.steps, eval_every=args.steps, seed=1234)
    m = CaptionConfig(attention=args.attention)
    feeder = CaptionTask(CaptionConfig(attention=args.attention), d, args.batch_size, r.seed)  # the bare side's batches
    bare_loop(feeder, 2)  # warm-up
    ours, whole, bare = [], [], []
    for k in range(args.rounds):
        feeder.batches = type(feeder.batches)([len(c) for _, c in feeder.pairs], args.batch_size, r.seed)
        bare.append(bare_loop(feeder, args.steps))
        steps, run = rnnlab_loop(CaptionConfig(attention=args.attention), d, o, r)
        ours.append(steps)
        whole.append(run)
        print(f"round {k + 1}: bare {bare[-1]:6.1f} images/s, rnnlab {ours[-1]:6.1f} images/s "
              f"(whole run {whole[-1]:6.1f}), ratio {ours[-1] / bare[-1]:.3f}")  # fmt: skip
    print(f"caption: {m.channels} conv encoder, LSTM {m.hidden_size}, embedding {m.embedding_size}, "
          f"attention {m.attention}, handover {m.handover}, vocab {feeder.model.config.vocab_size}, "
          f"batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    rows = (("bare PyTorch        ", bare), ("rnnlab train steps  ", ours), ("rnnlab train (whole)", whole))
    for name, values in rows:
        rounds = ", ".join(f"{v:.1f}" for v in values)
        print(f"{name}: {statistics.median(values):7.1f} images/s median  (rounds: {rounds})")
    ratios = [a / b for a, b in zip(ours, bare)]
    print(f"ratio rnnlab / bare (training steps): median {statistics.median(ratios):.3f}  "
          f"(rounds: {', '.join(f'{x:.3f}' for x in ratios)})")  # fmt: skip


if __name__ == "__main__":
    main()
