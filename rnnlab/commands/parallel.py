"""``--nproc``: what the training commands (``train``, ``task``) share to run data-parallel, started by
rnnlab's launcher (:mod:`rnnlab.train.launch`) or by ``torchrun``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from rnnlab.commands.common import UsageError
from rnnlab.train import distributed
from rnnlab.train.launch import launch, quiet_workers, without_option
from rnnlab.train.progress import Progress


def add_nproc(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="train data-parallel on this many local processes (torch.distributed, DDP); "
        "under torchrun, its processes are used instead",
    )


def run_parallel(
    args: argparse.Namespace,
    parallel: bool,
    kind: str,
    train: Callable[[Progress], int],
    check: Callable[[int], None] | None = None,
) -> int:
    """Run ``train`` here, or on ``--nproc`` processes started now (``parallel``: whether the run's
    task, ``kind``, trains data-parallel; ``check(nproc)`` refuses what the task cannot share out,
    before they start); in a process of a data-parallel run, join the others first. A process that
    loses the others ends with one line and exit status 2."""
    if not distributed.launched() and args.nproc != 1:
        cores = os.cpu_count() or 1
        if args.nproc < 1:
            raise UsageError(f"--nproc: expected a positive number of processes, got {args.nproc}")
        if args.nproc > cores and not args.force:
            raise UsageError(f"--nproc: {args.nproc} processes on {cores} cores; add --force to start them anyway")
        if not parallel:
            raise UsageError(f"--nproc: {kind} runs train in one process")
        if check is not None:
            check(args.nproc)
        return launch(args.nproc, without_option(args.argv, "--nproc"))
    world = distributed.join()
    try:
        return train(Progress(sys.stdout if world.writer else open(os.devnull, "w", encoding="utf-8")))
    except RuntimeError as e:
        if world.size == 1 or not distributed.lost_peer(e):
            raise
        # another process died or hung: its peers see the connection fail; the checkpoint is the last one written
        if not quiet_workers():  # under rnnlab's own launcher, the launcher says which one failed
            first = (str(e).strip() or type(e).__name__).splitlines()[0][:200]
            where = f"process {world.rank} of {world.size}"
            print(f"rnnlab {args.argv[0]}: error: {where} lost the others ({first})", file=sys.stderr)
        return 2
    finally:
        distributed.leave()
