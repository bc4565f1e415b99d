"""``rnnlab eval OUT``: validation loss of a run in nats and bits per character, as JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rnnlab.data.corpora import load_corpus
from rnnlab.data.stream import split_text
from rnnlab.train.checkpoint import load_model
from rnnlab.train.loop import evaluate


def register(sub) -> None:
    p = sub.add_parser("eval", help="validation loss of a trained model")
    p.add_argument("run_dir", type=Path, metavar="OUT", help="run directory")
    p.add_argument("--data", default=None, help="text to evaluate on in full (default: the run's validation split)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best", help="which weights to use")
    p.set_defaults(func=run)


def run(args) -> int:
    model, vocab, _, train_cfg, info = load_model(args.run_dir, args.checkpoint)
    if args.data is None:
        text = split_text(load_corpus(train_cfg.data), train_cfg.val_fraction)[1]
        source = f"{train_cfg.data} (validation split)"
    else:
        text, source = load_corpus(args.data), args.data
    missing = vocab.missing(text)
    if missing:
        shown = " ".join(repr(c) for c in missing[:20])
        raise ValueError(f"data: {len(missing)} character(s) outside the model's vocabulary: {shown}")
    ids = vocab.encode(text)
    if len(ids) <= train_cfg.seq_len:
        raise ValueError(f"data: {len(ids)} characters; evaluation needs more than {train_cfg.seq_len}")
    loss = evaluate(model, ids, train_cfg.seq_len)
    result = {
        "data": source,
        "characters": len(ids) - 1,
        "loss_nats": loss,
        "bits_per_char": loss / math.log(2),
        "perplexity": math.exp(loss),
        "checkpoint_step": info.get("step"),
    }
    print(json.dumps(result, indent=2))
    return 0
