"""``rnnlab train --task classify|tag``: train a text classifier or a sequence tagger.

``--task classify``: many to one. ``--data`` is a CSV or TSV file with a header row (label and
text columns, named by ``--label-column`` / ``--text-column``) or a named set: pang-lee (4,000
movie-review sentences, positive / negative), pang-lee-reviews (1,500 whole reviews), tweets
(38,158 tweets, negative / neutral / positive). Prints validation scores each epoch, then the
test accuracy and macro-F1 of the best weights next to a TF-IDF + logistic regression baseline.

``--task tag``: many to many. ``--data`` is a CoNLL file (a token and its tag column(s) a line, a
blank line between sentences) or a named set: conll2003 (named entities), conll2003-pos,
conll2003-chunk. Prints entity precision, recall and F1 (CoNLL's scoring) each epoch, then on test.

Both write OUT/config.json, OUT/model.safetensors (best weights), OUT/metrics.jsonl and
OUT/results.json; a classifier also OUT/confusion.png. Use them with ``rnnlab predict OUT "text"``
and ``rnnlab tag OUT "a sentence"``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnlab.commands.common import Parser
from rnnlab.configs import add_flags, from_args, validate_before_data
from rnnlab.models.classifier import ClassifierConfig
from rnnlab.models.tagger import TaggerConfig
from rnnlab.train.progress import Progress
from rnnlab.train.text_config import ClassifyConfig, TagConfig

TASKS = ("classify", "tag")
_CONFIGS = {"classify": (ClassifierConfig, ClassifyConfig), "tag": (TaggerConfig, TagConfig)}
_SIZES = {"classify": ("vocab_size", "num_classes"), "tag": ("vocab_size", "num_chars", "num_tags")}


def task_of(argv: list[str]) -> str | None:
    """The task of ``rnnlab train --task classify|tag ...`` (else ``None``: the language model)."""
    if argv[:1] != ["train"]:
        return None
    for i, arg in enumerate(argv):
        value = (
            arg.split("=", 1)[1]
            if arg.startswith("--task=")
            else argv[i + 1]
            if arg == "--task" and i + 1 < len(argv)
            else None
        )
        if value in TASKS:
            return value
    return None


def build_parser(task: str) -> Parser:
    model_cls, train_cls = _CONFIGS[task]
    p = Parser(
        prog=f"rnnlab train --task {task}",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--task", choices=TASKS, required=True, help="classify (many to one) or tag (many to many)")
    p.add_argument("--out", type=Path, default=None, help=f"run directory (default: runs/{task}-<data name>)")
    p.add_argument("--force", action="store_true", help="replace a run already in --out")
    add_flags(p, model_cls, skip=_SIZES[task])
    add_flags(p, train_cls)
    p.set_defaults(func=run)
    return p


def parse(argv: list[str]) -> argparse.Namespace | None:
    """Parsed arguments if ``argv`` is a classify or tag training command, else ``None``."""
    task = task_of(argv)
    return build_parser(task).parse_args(argv[1:]) if task else None


def run(args: argparse.Namespace) -> int:
    model_cls, train_cls = _CONFIGS[args.task]
    model_cfg, cfg = from_args(model_cls, args), from_args(train_cls, args)
    validate_before_data(model_cfg, _SIZES[args.task])
    out = args.out or Path("runs") / f"{args.task}-{Path(cfg.data).stem or 'run'}"
    progress = Progress(sys.stdout)
    if args.task == "classify":
        from rnnlab.train.classify import train_classifier

        results = train_classifier(out, model_cfg, cfg, args.force, progress)
        rows = [(f"rnn ({model_cfg.cell}, {model_cfg.pooling} pooling)", results["test"])]
        if "baseline" in results:
            rows.append(("tf-idf + logistic regression", results["baseline"]["test"]))
        progress.log(f"test ({results['sizes']['test']:,} examples):           accuracy  macro-F1")
        for name, s in rows:
            progress.log(f"  {name:<34} {s['accuracy']:.4f}    {s['macro_f1']:.4f}")
        if (out / "confusion.png").exists():  # drawn for up to 50 classes
            progress.log(f"confusion matrix: {out / 'confusion.png'}")
        progress.log(f'predict with: rnnlab predict {out} "some text"')
    else:
        from rnnlab.train.tag import train_tagger

        results = train_tagger(out, model_cfg, cfg, args.force, progress)
        t = results["test"]
        if "f1" in t:
            progress.log(
                f"test: precision {t['precision']:.4f}  recall {t['recall']:.4f}  F1 {t['f1']:.4f}  "
                f"({t['entities']:,} entities; token accuracy {t['accuracy']:.4f})"
            )
            for kind, s in t["per_type"].items():
                progress.log(
                    f"  {kind:<8} P {s['precision']:.4f}  R {s['recall']:.4f}  F1 {s['f1']:.4f}  ({s['support']})"
                )
        else:
            progress.log(f"test: token accuracy {t['accuracy']:.4f}")
        progress.log(f'tag with: rnnlab tag {out} "a sentence"')
    progress.log(
        f"best epoch {results['best_epoch']} of {results['epochs']} ({results['stopped']}); "
        f"{results['epoch_s']:.0f} s an epoch"
    )
    return 130 if results["interrupted"] else 0
