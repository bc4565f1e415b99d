"""Starting the processes of a data-parallel run: torch's elastic launcher, called in-process as
``torchrun`` would (``--standalone`` on one machine, a c10d rendezvous at an endpoint across
several), with one line for whatever goes wrong."""

from __future__ import annotations

import contextlib
import datetime
import errno
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Nodes:
    """The machines of a run: ``count`` of them meeting at ``host:port`` (a rendezvous that one of
    them hosts), waiting ``timeout`` seconds for the others; ``host`` ``None``: this machine alone."""

    count: int = 1
    host: str | None = None
    port: int = 0
    timeout: float = 120.0

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{host}:{self.port}" if self.host else "localhost:0"

    def options(self) -> list[str]:
        """The command-line options that describe these machines."""
        return ["--nnodes", str(self.count), "--rdzv-endpoint", self.endpoint, "--rdzv-timeout", repr(self.timeout)]


def parse_endpoint(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[V6]:PORT`` too) as ``(host, port)``; ValueError when it is not one."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT with a port from 1 to 65535, got {text!r}")
    return host, int(port)


def launch(nproc: int, argv: list[str], nodes: Nodes = Nodes()) -> int:
    """Run ``rnnlab <argv>`` (``argv[0]`` the command) on ``nproc`` processes on each of ``nodes``
    with torch's elastic launcher (what ``torchrun`` does: a c10d rendezvous, of its own on this
    machine when alone); returns the exit status. The workers print their own lines; a worker that
    fails, or a rendezvous that cannot form, is said in one line."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous.api import (
        RendezvousClosedError,
        RendezvousConnectionError,
        RendezvousError,
        RendezvousTimeoutError,
    )
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    def error(message: str) -> int:
        print(f"rnnlab {argv[0]}: error: {message}", file=sys.stderr)
        return 2

    if nodes.host is not None and _run_as_command():
        _quiet_cpp_logs([*argv, "--nproc", str(nproc), *nodes.options()])
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as torchrun: processes sharing cores, one thread each
    # a failure is reported once, here, not by every worker that lost it; across machines, a failure on
    # another is not seen here: the first process of each machine says that it lost the others
    os.environ[_QUIET] = "1" if nodes.count == 1 else "nodes"
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("torch.distributed.elastic")]:
        logging.getLogger(name).setLevel(logging.CRITICAL)  # its own account of the same (each sets its level)
    timeout = max(1, round(nodes.timeout))
    # a client retries its connection once after read_timeout: both within the time given
    configs = {"join_timeout": timeout, "read_timeout": max(1, timeout // 2), "timeout": timeout}
    if nodes.host is not None:
        try:
            socket.getaddrinfo(nodes.host, nodes.port, type=socket.SOCK_STREAM)
        except OSError as e:
            return error(f"--rdzv-endpoint {nodes.endpoint}: {nodes.host} cannot be resolved ({e.strerror or e})")
        try:
            if not _hosts_rendezvous(nodes):  # else torch's own guess: this machine's name, and if taken, a client
                configs["is_host"] = False
        except OSError as e:
            return error(str(e))
    config = LaunchConfig(
        min_nodes=nodes.count,
        max_nodes=nodes.count,
        nproc_per_node=nproc,
        run_id="rnnlab" if nodes.host else f"rnnlab-{os.getpid()}",  # the same on every machine
        rdzv_backend="c10d",
        rdzv_endpoint=nodes.endpoint,
        rdzv_configs=configs,
        max_restarts=0,
        shutdown_timeout=SAVE_WAIT,
    )
    where = f"the rendezvous at {nodes.endpoint}"
    errors = tempfile.TemporaryDirectory(prefix="rnnlab-errors-")
    os.environ[_ERRORS] = errors.name  # the workers' one-line errors, said here once each
    done = threading.Event()
    if nodes.host is not None:  # what torch does not bound: a client waits for ever on a silent program
        wait = 2 * timeout + 10  # the store's client (its two tries), then the join, and some
        message = f"rnnlab {argv[0]}: error: {where} did not answer within {wait}s"
        threading.Thread(target=_watch, args=(wait, message, done, errors), daemon=True).start()
    try:
        elastic_launch(config, sys.executable)("-m", "rnnlab", *argv)
    except SignalException:  # Ctrl-C or SIGTERM: torch passes it on; the workers finish their step and save
        _stop_workers()  # a second Ctrl-C while they save lands here: stop them now
        return 130
    except ChildFailedError as e:
        codes = {f.exitcode for f in e.failures.values()}
        own = codes & {1, 2, 130}  # the workers' own statuses (diverged, refused, interrupted)
        lines = _worker_errors(errors.name)
        for line in lines:
            print(line, file=sys.stderr)
        if lines or codes <= {1, 2, 130}:  # said by the workers (the others stopped after them)
            return max(own or {2})
        rank, failure = e.get_first_failure()  # the first to fail: the others were stopped after it
        status = f"signal {-failure.exitcode}" if failure.exitcode < 0 else f"exit status {failure.exitcode}"
        return error(f"process {rank} of {nproc * nodes.count} failed ({status}); the run stopped")
    except RendezvousTimeoutError:  # torch does not say how many came
        return error(f"{where}: the other machines did not join within {timeout}s ({nodes.count} expected)")
    except RendezvousConnectionError as e:
        return error(f"{where} cannot be reached within {timeout}s ({_reason(e)})")
    except RendezvousClosedError:
        return error(f"{where} was closed: another machine left or the run ended")
    except RendezvousError as e:
        return error(f"{where} failed ({_reason(e)})")
    finally:
        done.set()
        os.environ.pop(_ERRORS, None)
        errors.cleanup()
    return 0


_ERRORS = "RNNLAB_WORKER_ERRORS"


def report_error(line: str) -> None:
    """Say a process's one-line error: on stderr, or, in a worker started by :func:`launch`, to the
    launcher, which says each distinct line once (the processes of a run mostly meet the same one)."""
    folder = os.environ.get(_ERRORS)
    if folder:
        try:
            with open(os.path.join(folder, os.environ.get("RANK", "0")), "a", encoding="utf-8") as f:
                f.write(line + "\n")
            return
        except OSError:
            pass
    print(line, file=sys.stderr)


def _worker_errors(folder: str) -> list[str]:
    """The distinct lines the workers reported (:func:`report_error`), in the order of their ranks."""
    lines: list[str] = []
    for name in sorted(os.listdir(folder), key=lambda n: int(n) if n.isdigit() else 0):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            lines += [line for line in f.read().splitlines() if line and line not in lines]
    return lines


#: how long the workers may take to save after Ctrl-C (a last evaluation) before torch kills them
SAVE_WAIT = 3600


def _watch(wait: float, message: str, done: threading.Event, errors: tempfile.TemporaryDirectory) -> None:
    """End this process with ``message`` (exit 2) if it has started no worker after ``wait`` seconds,
    unless the launch ended meanwhile (``done``)."""
    if done.wait(wait) or _children():
        return
    print(message, file=sys.stderr, flush=True)
    errors.cleanup()
    os._exit(2)


def _children() -> list[int]:
    """The processes this one started that still run (Linux: read from /proc)."""
    me, found = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                if f.read().rpartition(")")[2].split()[1] == me:
                    found.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _stop_workers() -> None:
    """Stop the workers still running (in sessions of their own, out of reach of the terminal's
    Ctrl-C): a second interrupt, which stops them at once, then a kill for any left after 5 s."""
    for sig, grace in ((signal.SIGINT, 5.0), (signal.SIGKILL, 0.0)):
        workers = _children()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while workers and _children() and time.monotonic() < deadline:
            time.sleep(0.1)


def _run_as_command() -> bool:
    """Whether this process is the ``rnnlab`` command (which may start itself again), not a caller
    of :func:`launch` in Python."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return (spec is not None and spec.name == "rnnlab.__main__") or os.path.basename(sys.argv[0]) == "rnnlab"


def _reason(error: BaseException) -> str:
    """The first line of what caused ``error`` (its cause's, when torch wraps one)."""
    return first_line(error.__cause__ or error)


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message (its type's name when it has none), at most 200 characters."""
    return (str(error).strip() or type(error).__name__).splitlines()[0][:200]


_CPP_LOG_LEVEL = "RNNLAB_CPP_LOG_LEVEL"


def _quiet_cpp_logs(argv: list[str]) -> None:
    """Start this command again (``rnnlab <argv>``, same process) with torch's C++ side quiet, unless it is
    already or the user set its level: the rendezvous store's client logs every failed attempt to connect,
    on stderr, and torch reads the level once, when it loads. The workers get the level back."""
    if os.environ.pop(_CPP_LOG_LEVEL, None):  # started again: the workers log as they would have
        os.environ.pop("TORCH_CPP_LOG_LEVEL", None)
        return
    if "TORCH_CPP_LOG_LEVEL" in os.environ:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    env = {**os.environ, "TORCH_CPP_LOG_LEVEL": "FATAL", _CPP_LOG_LEVEL: "1"}
    os.execve(sys.executable, [sys.executable, "-m", "rnnlab", *argv], env)


def _hosts_rendezvous(nodes: Nodes) -> bool:
    """Whether this machine hosts the rendezvous (its store): the endpoint is this machine and its port
    free. A port taken by another rnnlab of the same run on this machine (several nodes on one) is
    joined; OSError when another program has it (torch would wait on it as on a store, for ever)."""
    if not _this_machine(nodes.host):
        return False
    with socket.socket(socket.AF_INET6 if ":" in nodes.host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as torch's store does
        try:
            s.bind(("", nodes.port))
            return True  # closed at once: torch's store takes it next
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise OSError(
                    f"--rdzv-endpoint {nodes.endpoint}: cannot listen on port {nodes.port} ({e.strerror})"
                ) from e
    if _store_answers(nodes):
        return False
    raise OSError(
        f"--rdzv-endpoint {nodes.endpoint}: port {nodes.port} is in use by another program on this machine; "
        "choose a free port"
    )


def _this_machine(host: str) -> bool:
    """Whether ``host`` names this machine, as torch's c10d rendezvous decides who hosts its store."""
    try:
        from torch.distributed.elastic.rendezvous.utils import _matches_machine_hostname
    except ImportError:  # moved: loopback names at least
        return host in ("localhost", "127.0.0.1", "::1", socket.gethostname())
    try:
        return _matches_machine_hostname(host)
    except OSError:
        return False


def _store_answers(nodes: Nodes) -> bool:
    """Whether what listens at the endpoint is torch's store (another rnnlab of the run): a client tries it
    in a process forked for it, killed after a few seconds, since a client waits for ever on a program that
    accepts and stays silent."""
    from torch.distributed import TCPStore

    pid = os.fork()
    if pid == 0:  # the child: nothing but the try
        try:
            TCPStore(nodes.host, nodes.port, is_master=False, timeout=datetime.timedelta(seconds=3))
        except BaseException:
            os._exit(1)
        os._exit(0)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) == 0
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)  # it hangs on whatever listens there
    os.waitpid(pid, 0)
    return False


_QUIET = "RNNLAB_LAUNCHED"


def quiet_workers() -> bool:
    """Whether this worker leaves the report of a failure to :func:`launch` that started it: all do on one
    machine; across several, all but the first on each (``LOCAL_RANK`` 0) say that they lost the others."""
    launched = os.environ.get(_QUIET)
    return launched == "1" or (launched == "nodes" and os.environ.get("LOCAL_RANK", "0") != "0")


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
