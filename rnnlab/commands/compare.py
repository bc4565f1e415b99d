"""``rnnlab compare NAME --cells a,b,c``: train several cells on the same task and plot them together.

Each cell trains in turn (same task seed, same training seed, so the same batches) into
``OUT/<cell>/``; then ``OUT/compare.png`` (the test metric of every cell against steps, with the
baseline) and ``OUT/compare.json`` are written and a table is printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnlab.commands.common import UsageError, csv_of, path_arg
from rnnlab.commands.reports import draw
from rnnlab.commands.task import add_run_flags, defaults_epilog, task_fields
from rnnlab.fileio import atomic_write_json
from rnnlab.tasks.compare import compare_cells
from rnnlab.train.progress import Progress, format_seconds

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
    group = add_run_flags(p)
    group.add_argument("--out", type=path_arg, default=None, help="folder of the runs (default: runs/compare-NAME)")
    p.set_defaults(func=run)


def format_table(rows: list[dict], metric: str, baseline: float) -> str:
    """A fixed-width table of the runs (one row per cell, see :func:`rnnlab.tasks.compare.brief`) and the baseline."""
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
        final, best = (f"{p[metric]:>14.4g}" if p else f"{'-':>14}" for p in (r["final"], r["best"]))
        lines.append(
            f"{r['cell']:<12} {r['parameters']:>8,} {r['steps']:>7} {format_seconds(r['seconds']):>7} "
            f"{final} {best}  {reach}{flag}"
        )
    lines.append(f"{'baseline':<12} {'':>8} {'':>7} {'':>7} {baseline:>14.4g}")
    return "\n".join(lines)


def run(args) -> int:
    out = args.out or Path("runs") / f"compare-{args.task}"
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} exists and is not a directory")
    done = [n for n in OUTPUTS if (out / n).exists()]
    if done and not args.force:
        raise UsageError(f"--out: {out} already holds a comparison ({', '.join(done)}); use --force to replace it")
    progress = Progress(sys.stdout)
    result = compare_cells(args.task, args.cells, task_fields(args), out, args.force, progress)
    task = result.task
    for cell, summary in result.summaries.items():
        if not summary["diverged"]:
            draw(out / cell, "sequence", result.clip_norms[cell], summary, task)
    from rnnlab.viz.tasks import plot_comparison

    plot_comparison(result.records, task, out / "compare.png", title=f"{task.name}, T = {task.steps}")
    table = result.table()
    atomic_write_json(out / "compare.json", table)
    progress.log(f"\n{task.describe()}\n" + format_table(table["runs"], task.metric, task.baseline[task.metric]))
    progress.log(f"wrote {out / 'compare.png'} and {out / 'compare.json'}")
    return 130 if result.interrupted else 0
