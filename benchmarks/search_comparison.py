"""The cell search's comparison table (Jozefowicz, Zaremba & Sutskever 2015, at the scale of a small
machine): every cell trained exactly as the search evaluates a candidate (``evaluate_cell``: the
same steps, width, optimiser and scoring), on each task and for several seeds, as tasks of the Dask
engine. Prints, per cell and task, the mean score over the seeds with its range, the mean relative
to the GRU's (seed by seed: the GRU of seed s is the reference of every cell of seed s), and the
minimum over the tasks of that mean (the search's fitness).

    .venv/bin/python benchmarks/search_comparison.py [--cells rnn-tanh,lstm,...,runs/search/best/01-x.json]
        [--tasks arithmetic,xml,ptb] [--seeds 0,1,2] [--steps 1000] [--hidden-size 128] [--workers 2]
        [--json results.json]

A cell is a built-in spec name, ``lstm-nofb`` (the ``lstm`` spec without its forget-gate bias of
1, so that bias starts like every other) or a spec file. ``--json`` keeps every score, and a file
that already holds some is read first, so an interrupted run goes on where it stopped.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from rnnlab.cells.named import load_spec
from rnnlab.fileio import atomic_write_json
from rnnlab.search.driver import relative
from rnnlab.search.engine import Engine
from rnnlab.search.evaluate import directions, evaluate_cell

CELLS = "rnn-tanh,lstm,lstm-nofb,lstm-1997,gru,mut1,mut2,mut3"
REFERENCE = "gru"


def spec_of(name: str) -> dict:
    if name == "lstm-nofb":
        spec = load_spec("lstm")
        spec["nodes"]["f"].pop("bias")
        return spec
    return load_spec(name)


def run(cells: list[str], tasks: list[str], seeds: list[int], args, scores: dict, save) -> None:
    """Fill ``scores[cell][task][seed]`` with the evaluations not in it yet."""
    specs = {c: spec_of(c) for c in cells}
    todo = [(c, t, s) for s in seeds for t in tasks for c in cells if str(s) not in scores.get(c, {}).get(t, {})]
    print(f"{len(todo)} trainings to run on {args.workers} workers", flush=True)
    with Engine(workers=args.workers) as engine:
        futures = {}
        for cell, task, seed in todo:
            settings = {"steps": args.steps, "hidden_size": args.hidden_size, "seed": seed}
            futures[engine.submit(evaluate_cell, specs[cell], task, settings)] = (cell, task, seed)
        for future in engine.as_completed(list(futures)):
            cell, task, seed = futures[future]
            try:
                value = future.result()["value"]
            except Exception as error:  # a cell that cannot train scores nothing
                print(f"{cell} {task} seed {seed}: {type(error).__name__}: {error}", flush=True)
                value = float("nan")
            scores.setdefault(cell, {}).setdefault(task, {})[str(seed)] = value
            print(f"{cell:>12} {task:>10} seed {seed}: {value:.4f}", flush=True)
            save()


def _num(value: float) -> str:
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"  # perplexities, accuracies


def table(cells: list[str], tasks: list[str], seeds: list[int], scores: dict) -> str:
    higher = directions(tasks)
    head = ["cell", *(f"{t} (mean, range)" for t in tasks), *(f"relative {t}" for t in tasks), "min"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    # per task, the seeds every cell was scored with (a run stopped early leaves some out)
    done = {t: [s for s in seeds if all(str(s) in scores.get(c, {}).get(t, {}) for c in cells)] for t in tasks}
    for cell in cells:
        means, rels = [], []
        for task in tasks:
            values = [scores[cell][task][str(s)] for s in done[task]]
            means.append(f"{_num(statistics.fmean(values))} ({_num(min(values))}-{_num(max(values))})")
            ref = [scores[REFERENCE][task][str(s)] for s in done[task]]
            rels.append(statistics.fmean(relative(v, r, higher[task]) for v, r in zip(values, ref)))
        row = [cell, *means, *(f"{r:.2f}" for r in rels), f"{min(rels):.2f}"]
        lines.append("| " + " | ".join(row) + " |")
    counts = ", ".join(f"{t}: seeds {','.join(map(str, done[t]))}" for t in tasks)
    return "\n".join(lines) + f"\n\n({counts})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", default=CELLS)
    parser.add_argument("--tasks", default="arithmetic,xml,ptb")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cells = args.cells.split(",")
    if REFERENCE not in cells:
        cells.append(REFERENCE)  # every score is relative to it
    tasks, seeds = args.tasks.split(","), [int(s) for s in args.seeds.split(",")]
    scores = json.loads(args.json.read_text()) if args.json and args.json.exists() else {}

    def save() -> None:
        if args.json:
            atomic_write_json(args.json, scores)

    run(cells, tasks, seeds, args, scores, save)
    print(f"\n{args.steps} steps, {args.hidden_size} units, seeds {args.seeds}\n")
    print(table(cells, tasks, seeds, scores))


if __name__ == "__main__":
    main()
