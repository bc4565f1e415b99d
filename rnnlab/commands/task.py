"""``rnnlab task NAME``: train one cell on a long-range task (adding, copy, sequential digits)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from rnnlab.configs import field_kind, flag_parser
from rnnlab.data.tasks import TASKS
from rnnlab.models.sequence import SequenceConfig
from rnnlab.train.progress import Progress
from rnnlab.train.task_config import CELL_DEFAULTS, TASK_CELL_DEFAULTS, TASK_DEFAULTS, TaskTrainConfig, resolve_configs
from rnnlab.train.task_loop import TaskTrainer

# flags named as a Keras / char-rnn user would type them, besides the field's own --field-name
ALIASES = {"steps": ("-T", "--steps"), "hidden_size": ("--hidden", "--hidden-size"), "num_layers": ("--layers",)}
NOT_FLAGS = ("task", "cell")  # the positional NAME and --cell / --cells


def _per_task(name: str) -> bool:
    tables = (TASK_DEFAULTS, CELL_DEFAULTS, TASK_CELL_DEFAULTS)
    return any(name in d for table in tables for d in table.values())


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """The flags of every field of :class:`SequenceConfig` and :class:`TaskTrainConfig`, plus --out/--force.

    Every flag defaults to ``None`` so that only what the user typed overrides the per-task defaults.
    """
    p.add_argument("task", metavar="NAME", help="task: " + ", ".join(TASKS))
    for cls in (SequenceConfig, TaskTrainConfig):
        group = p.add_argument_group(cls.__name__)
        for f in dataclasses.fields(cls):
            if f.name in NOT_FLAGS:
                continue
            names = ALIASES.get(f.name, ()) + ("--" + f.name.replace("_", "-"),)
            names = tuple(dict.fromkeys(names))  # keep order, drop repeats
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            shown = "per task, see below" if _per_task(f.name) else default
            help_text = f.metadata.get("help", "")
            help_text += "" if "default" in help_text else f" (default: {shown})"
            kind = field_kind(cls, f.name)
            if kind is bool:
                group.add_argument(*names, dest=f.name, action="store_const", const=True, default=None, help=help_text)
            else:
                group.add_argument(
                    *names,
                    dest=f.name,
                    type=flag_parser(kind),
                    default=None,
                    metavar="N" if f.name == "steps" else None,
                    help=help_text,
                )
    p.add_argument("--force", action="store_true", help="replace a run already in --out")


def defaults_epilog() -> str:
    """The per-task and per-cell defaults, for ``--help``."""
    lines = ["per-task defaults:"]
    lines += [f"  {task}: " + ", ".join(f"{k}={v}" for k, v in d.items()) for task, d in TASK_DEFAULTS.items()]
    lines += ["per-cell changes to them:"]
    lines += [f"  {cell}: " + ", ".join(f"{k}={v}" for k, v in d.items()) for cell, d in CELL_DEFAULTS.items()]
    lines += ["per task and cell:"]
    lines += [f"  {t} {c}: " + ", ".join(f"{k}={v}" for k, v in d.items()) for (t, c), d in TASK_CELL_DEFAULTS.items()]
    return "\n".join(lines)


def given_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields the user set on the command line."""
    names = [f.name for cls in (SequenceConfig, TaskTrainConfig) for f in dataclasses.fields(cls)]
    return {n: getattr(args, n) for n in names if n not in NOT_FLAGS and getattr(args, n, None) is not None}


def register(sub) -> None:
    p = sub.add_parser(
        "task",
        help="train a cell on a long-range task (adding, copy, sequential digits) against its baseline",
        description=__doc__,
        epilog=defaults_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--cell", default="lstm", help="recurrent cell (default: lstm)")
    p.add_argument("--out", type=Path, default=None, help="run directory (default: runs/task-NAME-CELL)")
    add_run_flags(p)
    p.set_defaults(func=run)


def run(args) -> int:
    model_cfg, train_cfg = resolve_configs(args.task, args.cell, given_fields(args))
    out = args.out or Path("runs") / f"task-{args.task}-{args.cell}"
    progress = Progress(sys.stdout)
    trainer = TaskTrainer(out, model_cfg, train_cfg, force=args.force, progress=progress)
    progress.log(
        "config: " + json.dumps({"model": dataclasses.asdict(model_cfg), "train": dataclasses.asdict(train_cfg)})
    )
    summary = trainer.run()
    if summary["diverged"]:  # the trainer said where; as rnnlab train, a diverged run is not a success
        return 1
    return 130 if summary["interrupted"] else 0
