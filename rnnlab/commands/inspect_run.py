"""``rnnlab inspect OUT``: a run's configuration, size and best validation loss."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

from rnnlab.models.language_model import count_parameters
from rnnlab.train import checkpoint as ckpt


def register(sub) -> None:
    p = sub.add_parser("inspect", help="show a run's configuration, size and best validation loss")
    p.add_argument("run_dir", type=Path, metavar="OUT", help="run directory")
    p.set_defaults(func=run)


def run(args) -> int:
    model, vocab, model_cfg, train_cfg, info = ckpt.load_model(args.run_dir, "best")
    last = ckpt.load_model(args.run_dir, "last")[4] if (args.run_dir / ckpt.LAST).exists() else {}
    best = info.get("val_loss")
    report = {
        "run": str(args.run_dir),
        "model": asdict(model_cfg),
        "parameters": count_parameters(model),
        "vocabulary": "".join(vocab.chars)
        if vocab.unit == "char"
        else {"words": len(vocab), "first": vocab.chars[:50]},
        "train": asdict(train_cfg),
        "best": {"step": info.get("step"), "val_loss": best, "val_bpc": best / math.log(2) if best else None},
        "last": {"step": last.get("step"), "elapsed_s": last.get("elapsed_s")},
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0
