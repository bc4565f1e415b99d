"""``rnnlab train``: train a character language model (new run, or ``--resume``)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from rnnlab.commands.common import UsageError
from rnnlab.configs import add_flags, from_args, validate_before_data
from rnnlab.models.language_model import ModelConfig
from rnnlab.train import checkpoint as ckpt
from rnnlab.train.config import TrainConfig
from rnnlab.train.loop import Trainer
from rnnlab.train.progress import Progress

MODEL_FLAGS = tuple(f.name for f in dataclasses.fields(ModelConfig) if f.name != "vocab_size")
VOCAB_FLAGS = ("level", "tokenizer", "max_vocab", "min_freq")  # the saved vocabulary is kept on resume


def register(sub) -> None:
    p = sub.add_parser("train", help="train a character language model", description=__doc__)
    p.add_argument("--out", type=Path, default=None, help="run directory (default: runs/<data name>)")
    p.add_argument("--resume", type=Path, default=None, metavar="OUT", help="continue the run in OUT exactly")
    p.add_argument("--force", action="store_true", help="replace a run already in --out")
    p.add_argument(
        "--task",
        choices=("lm", "classify", "tag"),
        default="lm",
        help="lm: a language model (the flags below); classify: texts to labels; tag: a tag per token "
        "(see rnnlab train --task classify --help, rnnlab train --task tag --help)",
    )
    add_flags(p, ModelConfig, skip=("vocab_size",))
    add_flags(p, TrainConfig)
    p.set_defaults(func=run)


def default_out(data: str) -> Path:
    return Path("runs") / (Path(data.rstrip("/*")).stem or "run")


def run(args) -> int:
    if args.resume is not None:
        given = [f"--{n.replace('_', '-')}" for n in MODEL_FLAGS if getattr(args, n) is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: the architecture of a resumed run is fixed")
        given = [f"--{n.replace('_', '-')}" for n in VOCAB_FLAGS if getattr(args, n) is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: the vocabulary of a resumed run is fixed")
        if args.out is not None and args.out != args.resume:
            raise UsageError("--out: a resumed run stays in its directory; give only --resume OUT")
        _, _, saved, _ = ckpt.read_config(args.resume)
        out, model_cfg, cfg = args.resume, ModelConfig(), from_args(TrainConfig, args, base=saved)
        if not (out / ckpt.LAST).exists():
            raise UsageError(f"--resume: {out} has no {ckpt.LAST} to resume from (it saved nothing: start it again)")
    else:
        model_cfg, cfg = from_args(ModelConfig, args), from_args(TrainConfig, args)
        validate_before_data(model_cfg, ("vocab_size",))
        out = args.out or default_out(cfg.data)
    progress = Progress(sys.stdout)
    trainer = Trainer(out, model_cfg, cfg, resume=args.resume is not None, force=args.force, progress=progress)
    resolved = {"model": dataclasses.asdict(trainer.model.config), "train": dataclasses.asdict(cfg)}
    progress.log("config: " + json.dumps(resolved))
    summary = trainer.run()
    if summary.get("diverged"):  # the trainer said where and what it kept
        return 1
    if summary["interrupted"]:
        progress.log(f"resume with: rnnlab train --resume {out}")
        return 130
    progress.log(f"sample with: rnnlab sample {out}")
    return 0
