"""``--nproc`` (and ``--nnodes``, ``--rdzv-endpoint``, ``--rdzv-timeout`` across machines): what the training
commands (``train``, ``task``) share to run data-parallel, started by rnnlab's launcher
(:mod:`rnnlab.train.launch`) or by ``torchrun``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from rnnlab.commands.common import UsageError
from rnnlab.train import distributed
from rnnlab.train.launch import Nodes, first_line, launch, parse_endpoint, quiet_workers, without_option
from rnnlab.train.progress import Progress


def add_nproc(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="INT",
        help="train data-parallel on this many local processes (torch.distributed, DDP), on each machine; "
        "under torchrun, its processes are used instead",
    )
    group.add_argument(
        "--nnodes",
        type=int,
        default=1,
        metavar="INT",
        help="train on this many machines, --nproc processes on each, all started alike (needs --rdzv-endpoint)",
    )
    group.add_argument(
        "--rdzv-endpoint",
        metavar="HOST:PORT",
        help="where the machines meet (torch's c10d rendezvous): one of them, which hosts it on that port; "
        "default: this machine alone",
    )
    group.add_argument(
        "--rdzv-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait for the other machines to join (default: %(default)g)",
    )


#: the launcher's own options, not passed on to the processes it starts
LAUNCH_OPTIONS = ("--nproc", "--nnodes", "--rdzv-endpoint", "--rdzv-timeout")


def nodes(args: argparse.Namespace) -> Nodes:
    """The machines ``--nnodes``, ``--rdzv-endpoint`` and ``--rdzv-timeout`` describe (UsageError if wrong)."""
    if args.nnodes < 1:
        raise UsageError(f"--nnodes: expected a positive number of machines, got {args.nnodes}")
    if not args.rdzv_timeout > 0 or args.rdzv_timeout == float("inf"):
        raise UsageError(f"--rdzv-timeout: expected a positive number of seconds, got {args.rdzv_timeout:g}")
    if args.rdzv_endpoint is None:
        if args.nnodes > 1:
            raise UsageError(f"--nnodes {args.nnodes}: add --rdzv-endpoint HOST:PORT, where the machines meet")
        return Nodes(timeout=args.rdzv_timeout)
    try:
        host, port = parse_endpoint(args.rdzv_endpoint)
    except ValueError as e:
        raise UsageError(f"--rdzv-endpoint: {e}") from None
    return Nodes(args.nnodes, host, port, args.rdzv_timeout)


def run_parallel(
    args: argparse.Namespace,
    parallel: bool,
    kind: str,
    train: Callable[[Progress], int],
    check: Callable[[int], None] | None = None,
) -> int:
    """Run ``train`` here, or on ``--nproc`` processes started now (``parallel``: whether the run's
    task, ``kind``, trains data-parallel; ``check(processes)`` refuses what the task cannot share out
    over them all, before they start); in a process of a data-parallel run, join the others first. A
    process that loses the others ends with one line and exit status 2."""
    if not distributed.launched() and (args.nproc != 1 or args.nnodes != 1 or args.rdzv_endpoint is not None):
        machines = nodes(args)
        cores = os.cpu_count() or 1
        if args.nproc < 1:
            raise UsageError(f"--nproc: expected a positive number of processes, got {args.nproc}")
        if args.nproc > cores and not args.force:
            raise UsageError(f"--nproc: {args.nproc} processes on {cores} cores; add --force to start them anyway")
        if not parallel:
            flag = "--nproc" if args.nproc != 1 else "--nnodes" if args.nnodes != 1 else "--rdzv-endpoint"
            raise UsageError(f"{flag}: {kind} runs train in one process")
        if check is not None:
            check(args.nproc * machines.count)
        argv = args.argv
        for name in LAUNCH_OPTIONS:
            argv = without_option(argv, name)
        return launch(args.nproc, argv, machines)
    try:
        world = distributed.join()
    except (RuntimeError, ValueError) as e:  # the others or their store unreachable (torchrun's MASTER_ADDR/PORT)
        where = f"process {os.environ.get('RANK', '?')} of {os.environ.get('WORLD_SIZE', '?')}"
        at = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
        first = first_line(e)
        print(f"rnnlab {args.argv[0]}: error: {where} could not join the others at {at} ({first})", file=sys.stderr)
        return 2
    ended = False
    try:
        status = train(Progress(sys.stdout if world.writer else open(os.devnull, "w", encoding="utf-8")))
        ended = True
        return status
    except RuntimeError as e:
        if world.size == 1 or not distributed.lost_peer(e):
            raise
        # another process died or hung: its peers see the connection fail; the checkpoint is the last one written
        if not quiet_workers():  # under rnnlab's own launcher, the launcher says which one failed
            first = first_line(e)
            where = f"process {world.rank} of {world.size}"
            print(f"rnnlab {args.argv[0]}: error: {where} lost the others ({first})", file=sys.stderr)
        return 2
    finally:
        distributed.leave(together=ended)
