"""``rnnlab samples OUT``: what a run's model made at each evaluation, as a timeline.

Every evaluation of a language model appends its sample to the run's ``samples.jsonl`` (a
captioner its captions) with the step, the time and the validation scores. Read in order, they
show the model learning: first the frequent characters and spaces, then words, then lines and
punctuation, then the structure of a play or of code (Karpathy 2015, "The unreasonable
effectiveness of recurrent neural networks", on samples over training).
"""

from __future__ import annotations

import json
import math

from rnnlab.commands.common import UsageError, path_arg
from rnnlab.runs import SAMPLES, read_samples
from rnnlab.tasks import read_run
from rnnlab.train.progress import format_seconds

#: how a score of the record is shown; other numbers as ``name value``, and none for ``val_bpc``
SHOWN = {
    "val_loss": lambda v: f"val {v:.4f} nats ({v / math.log(2):.3f} bits)",
    "val_bpc": lambda v: "",  # shown with the loss
}


def register(sub) -> None:
    p = sub.add_parser(
        "samples", help="print the samples a run's model made at each evaluation, as a timeline", description=__doc__
    )
    p.add_argument("run_dir", type=path_arg, metavar="OUT", help="run directory")
    p.add_argument("--last", type=int, default=0, help="only the last N samples; 0 = all")
    p.add_argument("--every", type=int, default=1, help="every Nth sample (the last one always)")
    p.add_argument("--chars", type=int, default=0, help="cut each sample to N characters; 0 = whole")
    p.add_argument("--json", action="store_true", help="print the records as JSON lines")
    p.set_defaults(func=run)


def _header(record: dict) -> str:
    parts = [f"step {record['step']}"]
    if isinstance(record.get("elapsed_s"), (int, float)):
        parts.append(format_seconds(record["elapsed_s"]))
    for key, value in record.items():
        if key in ("step", "elapsed_s", "text") or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        parts.append(SHOWN.get(key, lambda v, key=key: f"{key} {v:.4g}")(value))
    return " · ".join(p for p in parts if p)


def run(args) -> int:
    for name, least in (("last", 0), ("every", 1), ("chars", 0)):
        if getattr(args, name) < least:
            raise UsageError(f"--{name}: expected an integer >= {least}, got {getattr(args, name)}")
    read_run(args.run_dir)  # a run directory, or one line saying why not
    records = read_samples(args.run_dir)
    if not records:
        raise UsageError(
            f"OUT: {args.run_dir} has no samples ({SAMPLES} is written at each evaluation of a language model "
            "with --sample-chars above 0, or of a captioner)"
        )
    kept = [r for k, r in enumerate(records) if k % args.every == 0 or k == len(records) - 1]
    kept = kept[-args.last :] if args.last else kept
    for record in kept:
        text = record["text"][: args.chars] if args.chars else record["text"]
        if args.json:
            print(json.dumps({**record, "text": text}, ensure_ascii=False))
        else:
            print(f"==== {_header(record)} ====\n{text.strip(chr(10))}\n")
    return 0
