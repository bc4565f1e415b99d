"""``rnnlab eval OUT``: a run's scores on its validation or test split, as JSON.

A language model: its loss on the split, or on any text (nats, bits, perplexity). A
sequence-to-sequence run: BLEU and chrF (``sacrebleu``), exact match, loss and BLEU by source
length of the split translated with ``--beam``.
"""

from __future__ import annotations

import json
import math

from rnnlab.commands.common import UsageError, path_arg
from rnnlab.data.corpora import load_corpus
from rnnlab.fileio import strict_json
from rnnlab.tasks import read_run
from rnnlab.tasks.lm import evaluate, load_ids, load_model
from rnnlab.train.options import RunConfig


def register(sub) -> None:
    p = sub.add_parser("eval", help="validation loss of a trained model")
    p.add_argument("run_dir", type=path_arg, metavar="OUT", help="run directory")
    p.add_argument("--data", default=None, help="text to evaluate on in full (default: the run's validation split)")
    p.add_argument(
        "--split",
        choices=("valid", "test", "test_heldout"),
        default=None,
        help="the run's split to evaluate on (valid; test_heldout: digit-scenes's held-out combinations)",
    )
    p.add_argument("--checkpoint", choices=("best", "last"), default="best", help="which weights to use")
    p.add_argument(
        "--beam", type=int, default=None, help="seq2seq and caption runs: beam width (default: the run's --test-beam)"
    )
    p.set_defaults(func=run)


def run(args) -> int:
    kind = read_run(args.run_dir).kind
    if kind in ("seq2seq", "caption"):
        return _seq2seq(args) if kind == "seq2seq" else _caption(args)
    if kind != "lm":
        raise UsageError(f"OUT: {args.run_dir} is a {kind} run; eval scores language models, seq2seq and caption runs")
    if args.beam is not None:
        raise UsageError("--beam: for seq2seq and caption runs only")
    if args.split == "test_heldout":
        raise UsageError("--split test_heldout: digit-scenes caption runs only")
    model, vocab, _, train_cfg, info = load_model(args.run_dir, args.checkpoint)
    unit = "character" if vocab.unit == "char" else vocab.unit
    if args.data is not None and args.split is not None:
        raise UsageError("--split: names a split of the run's own data; --data is evaluated whole")
    if args.data is None:
        split = args.split or "valid"
        ids = load_ids(train_cfg, vocab, only=(split,))[1]
        if split not in ids:
            held_out = "ptb has one; train with --test-fraction to hold one out"
            raise UsageError(f"--split: {train_cfg.data} has no {split} split ({held_out})")
        ids, source = ids[split], f"{train_cfg.data} ({ {'valid': 'validation'}.get(split, split) } split)"
    else:
        text, source = load_corpus(args.data), args.data
        missing = vocab.missing(text)
        if missing:
            shown = " ".join(repr(c) for c in missing[:20])
            raise ValueError(f"data: {len(missing)} character(s) outside the model's vocabulary: {shown}")
        ids = vocab.encode(text)
    if len(ids) <= train_cfg.seq_len:
        raise ValueError(f"data: {len(ids)} {unit}s; evaluation needs more than {train_cfg.seq_len}")
    loss = evaluate(model, ids, train_cfg.seq_len, exact=True)
    result = {
        "data": source,
        f"{unit}s": len(ids) - 1,
        "loss_nats": loss,
        f"bits_per_{vocab.unit}": loss / math.log(2),
        "perplexity": math.exp(loss) if loss < 700 else math.inf,  # math.exp raises past ~709
        "checkpoint_step": info.get("step"),
    }
    print(json.dumps(strict_json(result), indent=2, allow_nan=False))  # a non-finite figure is null
    return 0


def _seq2seq(args) -> int:
    from rnnlab.tasks.seq2seq import load_splits, load_translator, split_scores

    beam = _check_split_args(args, "seq2seq")
    if args.split == "test_heldout":
        raise UsageError("--split test_heldout: digit-scenes caption runs only")
    translator = load_translator(args.run_dir)
    seed = read_run(args.run_dir, "seq2seq").section("run", RunConfig).seed
    split = "test" if args.split == "test" else "val"
    pairs = load_splits(translator.data, seed)[split]
    scores = split_scores(translator, pairs, beam or translator.data.test_beam)
    result = {"data": translator.data.data, "split": split, **scores}
    print(json.dumps(strict_json(result), indent=2, allow_nan=False, ensure_ascii=False))
    return 0


def _check_split_args(args, kind: str) -> int | None:
    """The checks a seq2seq and a caption run share; returns ``--beam``."""
    if args.data is not None:
        raise UsageError(f"--data: a {kind} run is scored on its own splits (--split valid or test)")
    if args.checkpoint != "best":
        raise UsageError(f"--checkpoint: a {kind} run is scored with its best weights")
    if args.beam is not None and args.beam < 1:
        raise UsageError(f"--beam: expected an integer >= 1, got {args.beam}")
    return args.beam


def _caption(args) -> int:
    from rnnlab.tasks.caption import SCENES, CaptionTask, load_describer, split_scores

    beam = _check_split_args(args, "caption")
    run = read_run(args.run_dir, "caption")

    describer, data = load_describer(args.run_dir)
    split = {"test": "test", "test_heldout": "test_heldout"}.get(args.split, "val")
    if split == "test_heldout" and data.data != SCENES:
        raise UsageError(f"--split: {data.data} has no test_heldout split (only {SCENES} has)")
    task = CaptionTask.from_run(run, 1, run.section("run", RunConfig).seed)
    if split not in task.splits:
        raise UsageError(f"--split: {data.data} has no {split} split (only digit-scenes has test_heldout)")
    scores = split_scores(task, describer, split, beam or data.test_beam)
    result = {"data": data.data, "split": split, "images": len(task.splits[split]), **scores}
    print(json.dumps(strict_json(result), indent=2, allow_nan=False, ensure_ascii=False))
    return 0
