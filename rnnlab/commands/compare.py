"""``rnnlab compare NAME --cells a,b,c``: train several cells on the same task and plot them together.

Each cell trains in turn (same task seed, same training seed, so the same batches) into
``OUT/<cell>/``; then ``OUT/compare.png`` (the test metric of every cell against steps, with the
baseline) and ``OUT/compare.json`` are written and a table is printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnlab.cells import CELLS
from rnnlab.commands.common import UsageError, csv_of
from rnnlab.commands.task import add_run_flags, defaults_epilog, given_fields
from rnnlab.data.tasks import make_task
from rnnlab.fileio import atomic_write_json
from rnnlab.train.progress import Progress, format_seconds
from rnnlab.train.task_config import resolve_configs
from rnnlab.train.task_loop import TaskTrainer, check_output

DEFAULT_CELLS = ["rnn-tanh", "irnn", "lstm", "gru"]
OUTPUTS = ("compare.json", "compare.png")


def register(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="train several cells on the same task; one plot and one table",
        description=__doc__,
        epilog=defaults_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--cells", type=csv_of(str), default=DEFAULT_CELLS, help="comma-separated cells (default: %(default)s)"
    )
    p.add_argument("--out", type=Path, default=None, help="folder of the runs (default: runs/compare-NAME)")
    add_run_flags(p)
    p.set_defaults(func=run)


def format_table(rows: list[dict], metric: str, baseline: float) -> str:
    """A fixed-width table of the runs (one row per cell) and the baseline."""
    head = f"{'cell':<12} {'params':>8} {'steps':>7} {'time':>7} {'final ' + metric:>14} {'best ' + metric:>14}  target"
    lines = [head, "-" * len(head)]
    for r in rows:
        target = r["target"]
        if target is None:
            reach = "-"
        elif target["reached"]:
            reach = f"step {target['step']} ({target['seconds'] / 60:.1f} min)"
        else:
            reach = "not reached"
        flag = " (diverged)" if r["diverged"] else ""
        lines.append(
            f"{r['cell']:<12} {r['parameters']:>8,} {r['steps']:>7} {format_seconds(r['seconds']):>7} "
            f"{r['final'][metric]:>14.4g} {r['best'][metric]:>14.4g}  {reach}{flag}"
        )
    lines.append(f"{'baseline':<12} {'':>8} {'':>7} {'':>7} {baseline:>14.4g}")
    return "\n".join(lines)


def run(args) -> int:
    cells = args.cells
    unknown = [c for c in cells if c not in CELLS]
    if unknown:
        raise UsageError(f"--cells: unknown {', '.join(unknown)}; known: {', '.join(CELLS)}")
    if not cells or len(set(cells)) != len(cells):
        raise UsageError(f"--cells: expected distinct cell names, got {','.join(cells) or 'none'}")
    given = given_fields(args)
    configs = {cell: resolve_configs(args.task, cell, given) for cell in cells}  # every error before any run
    task = make_task(args.task, given.get("steps"), given.get("data_seed", 0))
    out = args.out or Path("runs") / f"compare-{args.task}"
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} exists and is not a directory")
    done = [n for n in OUTPUTS if (out / n).exists()]
    if done and not args.force:
        raise UsageError(f"--out: {out} already holds a comparison ({', '.join(done)}); use --force to replace it")
    for cell in cells:
        check_output(out / cell, args.force)
    progress = Progress(sys.stdout)
    summaries, records, interrupted = [], {}, False
    for cell, (model_cfg, train_cfg) in configs.items():
        progress.log(f"==== {cell} ({len(summaries) + 1}/{len(cells)}) ====")
        trainer = TaskTrainer(out / cell, model_cfg, train_cfg, force=args.force, progress=progress)
        summary = trainer.run()
        summaries.append({k: summary[k] for k in ("cell", "parameters", "steps", "seconds", "final", "best")})
        summaries[-1].update(target=summary["target"], diverged=summary["diverged"], run=str(out / cell))
        records[cell] = trainer.records
        if summary["interrupted"]:
            interrupted = True
            break
    from rnnlab.viz.tasks import plot_comparison

    plot_comparison(records, task, out / "compare.png", title=f"{task.name}, T = {task.steps}")
    baseline = task.baseline
    table = {"task": task.name, "T": task.steps, "metric": task.metric, "baseline": baseline, "runs": summaries}
    atomic_write_json(out / "compare.json", table)
    progress.log(f"\n{task.describe()}\n" + format_table(summaries, task.metric, baseline[task.metric]))
    progress.log(f"wrote {out / 'compare.png'} and {out / 'compare.json'}")
    return 130 if interrupted else 0
