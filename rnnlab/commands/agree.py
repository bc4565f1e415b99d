"""``rnnlab agree RUN [RUN ...]``: the subject-verb agreement probe over growing distances.

For each word-level run, minimal pairs built from its vocabulary ("the company that bought the
banks in the city was / were") are scored, and the accuracy of preferring the agreeing verb is
reported per number of intervening words; ``--out`` gets ``agreement.json`` and
``agreement.png`` (one line per run, labelled by its cell).
"""

from __future__ import annotations

from pathlib import Path

from rnnlab.commands.common import UsageError, path_arg
from rnnlab.data.words import WordVocab
from rnnlab.fileio import atomic_write_json
from rnnlab.interpret.agreement import accuracy_by_distance, make_pairs
from rnnlab.tasks.lm import load_model


def register(sub) -> None:
    p = sub.add_parser("agree", help="subject-verb agreement of word models over distance", description=__doc__)
    p.add_argument("runs", type=path_arg, nargs="+", metavar="RUN", help="run directories of word-level models")
    p.add_argument("--max-distance", type=int, default=15, help="most words between subject and verb")
    p.add_argument("--pairs", type=int, default=200, help="minimal pairs per distance")
    p.add_argument("--seed", type=int, default=0, help="seed of the pair generator")
    p.add_argument("--out", type=path_arg, default=Path("runs/agreement"), help="folder for agreement.json and .png")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out: {args.out} exists and is not a folder")
    results, table = {}, {}
    for run_dir in args.runs:
        model, vocab, cfg, _, _ = load_model(run_dir)
        if not isinstance(vocab, WordVocab):
            raise UsageError(f"RUN: {run_dir} is a {vocab.unit}-level model; the probe needs word-level runs")
        pairs = make_pairs(vocab, args.max_distance, args.pairs, args.seed)
        label = f"{run_dir} ({cfg.cell} {cfg.num_layers}x{cfg.hidden_size})"
        if label in results:
            raise UsageError(f"RUN: {run_dir} is named twice")
        results[label] = accuracy_by_distance(model, vocab, pairs)
        table[label] = {"run": str(run_dir), "cell": cfg.cell, "by_distance": results[label]}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "agreement.json", {"pairs_per_distance": args.pairs, "seed": args.seed, "runs": table})
    from rnnlab.viz.agreement import plot_agreement

    plot_agreement(results, args.out / "agreement.png")
    labels = list(results)
    print("distance  " + "  ".join(f"{label[:28]:>28}" for label in labels))
    for d in next(iter(results.values())):
        print(f"{d:8d}  " + "  ".join(f"{results[label][d]['accuracy']:28.3f}" for label in labels))
    print(f"wrote {args.out / 'agreement.json'} and {args.out / 'agreement.png'}")
    return 0
