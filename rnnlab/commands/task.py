"""``rnnlab task NAME``: train one cell on a long-range task (adding, copy, arithmetic, xml, sequential digits)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from rnnlab.cells.named import label
from rnnlab.commands.common import UsageError, path_arg
from rnnlab.commands.parallel import add_nproc, run_parallel
from rnnlab.commands.reports import finish
from rnnlab.commands.train import add_options
from rnnlab.configs import add_flags, given_fields
from rnnlab.data.tasks import TASKS
from rnnlab.models.sequence import SequenceConfig
from rnnlab.tasks import SequenceTask, resume
from rnnlab.tasks.sequence import CELL_DEFAULTS, TASK_CELL_DEFAULTS, TASK_DEFAULTS, resolve_configs
from rnnlab.train.options import OptimConfig, RunConfig
from rnnlab.train.progress import Progress
from rnnlab.train.trainer import Trainer

NOT_FLAGS = ("task", "cell")  # the positional NAME and --cell / --cells


def _per_task() -> set[str]:
    tables = (TASK_DEFAULTS, CELL_DEFAULTS, TASK_CELL_DEFAULTS)
    return {name for table in tables for d in table.values() for name in d}


def add_run_flags(p: argparse.ArgumentParser, name_optional: bool = False) -> argparse._ArgumentGroup:
    """NAME and the flags of :class:`SequenceConfig`, :class:`OptimConfig` and :class:`RunConfig`,
    grouped; every flag defaults to ``None`` so that only what the user typed overrides the
    per-task defaults. Returns the run group."""
    p.add_argument("task", metavar="NAME", nargs="?" if name_optional else None, help="task: " + ", ".join(TASKS))
    varies = _per_task()
    add_flags(p.add_argument_group("model"), SequenceConfig, skip=NOT_FLAGS, varies=varies)
    group = add_options(p, "sequence", varies)
    group.add_argument("--force", action="store_true", help="replace a run already in --out")
    return group


def defaults_epilog() -> str:
    """The per-task and per-cell defaults, for ``--help``."""
    lines = ["per-task defaults:"]
    lines += [f"  {task}: " + ", ".join(f"{k}={v}" for k, v in d.items()) for task, d in TASK_DEFAULTS.items()]
    lines += ["per-cell changes to them:"]
    lines += [f"  {cell}: " + ", ".join(f"{k}={v}" for k, v in d.items()) for cell, d in CELL_DEFAULTS.items()]
    lines += ["per task and cell:"]
    lines += [f"  {t} {c}: " + ", ".join(f"{k}={v}" for k, v in d.items()) for (t, c), d in TASK_CELL_DEFAULTS.items()]
    return "\n".join(lines)


def task_fields(args: argparse.Namespace) -> dict:
    """The config fields the user set on the command line."""
    given = given_fields(args, SequenceConfig, OptimConfig, RunConfig)
    return {k: v for k, v in given.items() if k not in NOT_FLAGS}


def register(sub) -> None:
    p = sub.add_parser(
        "task",
        help="train a cell on a long-range task (adding, copy, arithmetic, xml, digits) against its baseline",
        description=__doc__,
        epilog=defaults_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--cell", default="lstm", help="recurrent cell, or graph:PATH.json / graph:NAME (default: lstm)")
    group = add_run_flags(p, name_optional=True)
    group.add_argument("--out", type=path_arg, default=None, help="run directory (default: runs/task-NAME-CELL)")
    group.add_argument("--resume", type=path_arg, default=None, metavar="OUT", help="continue the run in OUT exactly")
    add_nproc(group)
    p.set_defaults(func=run)


def run(args) -> int:
    return run_parallel(args, SequenceTask.parallel, "sequence", lambda progress: _train(args, progress))


def _train(args, progress: Progress) -> int:
    given = task_fields(args)
    if args.resume is not None:
        fixed = [f"--{n.replace('_', '-')}" for n in given if n in SequenceConfig.__dataclass_fields__]
        if fixed or args.task:
            raise UsageError(f"{', '.join(fixed) or 'NAME'}: the task and model of a resumed run are fixed")
        trainer = resume(args.resume, given, progress)
    else:
        if not args.task:
            raise UsageError("NAME: give a task (" + ", ".join(TASKS) + ") or --resume OUT")
        model_cfg, optim, opts = resolve_configs(args.task, args.cell, given)
        out = args.out or Path("runs") / f"task-{args.task}-{label(args.cell)}"
        trainer = Trainer(SequenceTask(model_cfg, optim.batch_size, opts.seed), out, optim, opts, progress, args.force)
    sections = {**trainer.task.sections(), "optim": trainer.optim, "run": trainer.cfg}
    progress.log("config: " + json.dumps({k: dataclasses.asdict(v) for k, v in sections.items()}))
    return finish(trainer, progress)
