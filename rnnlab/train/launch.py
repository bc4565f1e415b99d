"""Starting the processes of a data-parallel run on this machine: torch's elastic launcher, called
in-process as ``torchrun --standalone`` would, with one line for whatever goes wrong."""

from __future__ import annotations

import logging
import os
import sys


def launch(nproc: int, argv: list[str]) -> int:
    """Run ``rnnlab <argv>`` (``argv[0]`` the command) on ``nproc`` local processes with torch's elastic launcher (what
    ``torchrun --standalone`` does: a rendezvous of its own on this machine); returns the exit
    status. The workers print their own lines; a worker that fails is named in one line."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as torchrun: processes sharing cores, one thread each
    os.environ[_QUIET] = "1"  # a failure is reported once, here, not by every worker that lost it
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # its own account of the same
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=f"rnnlab-{os.getpid()}",
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        max_restarts=0,
    )
    try:
        elastic_launch(config, sys.executable)("-m", "rnnlab", *argv)
    except SignalException:  # Ctrl-C or SIGTERM: the workers finish their step and save
        return 130
    except ChildFailedError as e:
        codes = {f.exitcode for f in e.failures.values()}
        if codes <= {1, 2, 130}:  # the workers' own statuses (diverged, refused, interrupted): already said
            return max(codes)
        rank, failure = e.get_first_failure()  # the first to fail: the others were stopped after it
        status = f"signal {-failure.exitcode}" if failure.exitcode < 0 else f"exit status {failure.exitcode}"
        print(f"rnnlab {argv[0]}: error: process {rank} of {nproc} failed ({status}); the run stopped", file=sys.stderr)
        return 2
    return 0


_QUIET = "RNNLAB_LAUNCHED"


def quiet_workers() -> bool:
    """Whether this worker was started by :func:`launch`, which reports a failure itself."""
    return os.environ.get(_QUIET) == "1"


def without_option(argv: list[str], name: str) -> list[str]:
    """``argv`` without ``--name VALUE`` or ``--name=VALUE``."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            out.append(arg)
    return out
