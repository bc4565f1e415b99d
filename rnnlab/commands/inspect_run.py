"""``rnnlab inspect OUT``: a run's configuration, size and best validation loss (or, for a classifier or
tagger, its labels or tags and its validation and test scores)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

from rnnlab.models.language_model import count_parameters
from rnnlab.train import checkpoint as ckpt
from rnnlab.train import text_run


def register(sub) -> None:
    p = sub.add_parser("inspect", help="show a run's configuration, size and best validation score")
    p.add_argument("run_dir", type=Path, metavar="OUT", help="run directory")
    p.set_defaults(func=run)


def _text_report(out: Path, task: str) -> dict:
    """The report of a classifier or tagger run."""
    if task == "classify":
        from rnnlab.train.classify import load_classifier

        model, encoder, labels = load_classifier(out)
        names, vocab = {"labels": labels.names}, encoder.vocab
    else:
        from rnnlab.train.tag import load_tagger

        model, encoder = load_tagger(out)
        names, vocab = {"tags": encoder.tags.names, "scheme": encoder.scheme}, encoder.words
    results_path = out / text_run.RESULTS
    results = json.loads(results_path.read_text(encoding="utf-8")) if results_path.is_file() else {}
    keys = ("accuracy", "macro_f1", "precision", "recall", "f1")
    return {
        "run": str(out),
        "task": task,
        "model": asdict(model.config),
        "parameters": count_parameters(model),
        **names,
        "vocabulary": {"words": len(vocab), "first": vocab.tokens[:50]},
        "sizes": results.get("sizes"),
        "best_epoch": results.get("best_epoch"),
        **{s: {k: v for k, v in results[s].items() if k in keys} for s in ("val", "test") if s in results},
    }


def run(args) -> int:
    task = ckpt.task_of_run(args.run_dir)
    if task is not None:
        print(json.dumps(_text_report(args.run_dir, task), indent=2, ensure_ascii=False))
        return 0
    # inspect shows a diverged run too
    model, vocab, model_cfg, train_cfg, info = ckpt.load_model(args.run_dir, "best", finite=False)
    last = ckpt.load_model(args.run_dir, "last", finite=False)[4] if (args.run_dir / ckpt.LAST).exists() else {}
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
