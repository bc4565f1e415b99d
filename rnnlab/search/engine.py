"""The engine that runs the search's evaluations: Dask distributed, on local worker processes or on a
running cluster joined by its scheduler's address, with the same calls either way.

- Local (the default): a ``distributed.LocalCluster`` of ``workers`` processes with one thread
  each, on 127.0.0.1 only, without a dashboard, Dask's logs kept out of rnnlab's output. Workers
  are started with ``spawn``, which imports the main module again: a program that builds an
  :class:`Engine` guards its entry point with ``if __name__ == "__main__":`` (the ``rnnlab``
  command and ``python -m rnnlab`` do). They start with Ctrl-C blocked (:func:`sigint_held`).
- Remote: ``distributed.Client(address)``; an address where no scheduler answers within
  ``connect_timeout`` seconds raises :class:`EngineError` with a one-line message.

A task is a module-level function called with JSON-able arguments; Dask moves the function (by
reference: workers need rnnlab installed, at the same version) and the arguments with cloudpickle
over its connections, no file is loaded. Tasks run with PyTorch on one thread (:func:`run_task`).

Failures, as seen with Dask 2026.8.0: a task that raises comes back as that exception from its
future, the others go on. A worker process that dies mid-task (killed, out of memory) does not
hang the client: the scheduler hands the task to another worker (a local worker's nanny starts a
new process in its place); a task that was running on 4 workers that died (Dask's
``allowed-failures`` is 3) is given up, its future raising ``distributed.KilledWorker``. A cluster
with no worker left holds its tasks until one joins: wait with a timeout
(``as_completed(timeout=...)``, :meth:`Engine.wait_for_workers`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from multiprocessing import resource_tracker
from typing import Any

import distributed
import psutil
from distributed.comm import parse_address
from distributed.core import rpc

QUIET = {"distributed": logging.ERROR, "asyncio": logging.CRITICAL}  # Dask's loggers while an engine runs
CLOSE_TIMEOUT = 5.0  # seconds for the client, then the local cluster, to close before their workers are killed


class EngineError(ValueError):
    """The engine cannot start or reach its cluster; the message (one line) says why."""


def run_task(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` on a worker, with PyTorch on one thread (set before PyTorch is first imported,
    through ``OMP_NUM_THREADS``, or on the loaded module)."""
    torch = sys.modules.get("torch")
    if torch is None:
        os.environ["OMP_NUM_THREADS"] = "1"
    elif torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    return fn(*args)


def count(n: int, thing: str) -> str:
    """``1 worker``, ``2 workers``."""
    return f"{n} {thing}{'' if n == 1 else 's'}"


def check_workers(workers: Any) -> int:
    """The number of local worker processes, a positive whole number (``--workers``)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"--workers must be a whole number of at least 1, not {workers!r}")
    return workers


def kill_processes(processes: Iterable[psutil.Process], timeout: float = 2.0) -> None:
    """Kill each process that is still alive, and its children, and wait for them (at most ``timeout`` s)."""
    doomed = []
    for process in processes:
        with suppress(psutil.Error):
            doomed += process.children(recursive=True) + [process]
    for process in doomed:
        with suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(doomed, timeout=timeout)


def probe(address: str, timeout: float) -> str | None:
    """The type of the Dask server at ``address`` (``"Scheduler"``, ``"Worker"``, ...), or ``None``
    when none answers within ``timeout`` s (refused, unknown host, silent); ``ValueError`` for a
    malformed address. Asked on a thread of its own, abandoned if it takes longer."""
    scheme, _ = parse_address(address)
    if scheme not in {"tcp", "tls", "ws", "wss"} or ":" not in address.split("://")[-1]:
        raise ValueError(address)
    answer: list[str | None] = []

    async def ask() -> str | None:
        async with rpc(address, timeout=timeout) as server:
            return (await server.identity()).get("type")

    def run() -> None:
        try:
            answer.append(asyncio.run(asyncio.wait_for(ask(), timeout)))
        except Exception:  # refused, unknown host, timed out, not Dask
            answer.append(None)

    thread = threading.Thread(target=run, name="rnnlab-dask-probe", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return answer[0] if answer else None


@contextmanager
def sigint_held() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) back in this thread while local workers start. The threads and worker
    processes started meanwhile inherit the blocked signal, so a Ctrl-C at the terminal reaches
    rnnlab alone (which stops the workers) instead of interrupting each worker with a traceback; a
    Ctrl-C pressed meanwhile arrives once they are up. Only from the main thread, on POSIX."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    resource_tracker.ensure_running()  # now: starting it later unblocks SIGINT in the thread that does
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


class Engine:
    """Runs tasks on Dask workers: ``workers`` local processes, or the cluster at ``address``.

    Use it as a context manager; leaving the block (also by an exception or Ctrl-C) cancels what is
    pending, closes the connection and, for local workers, stops them, in bounded time (a local
    worker process still alive then is killed)::

        with Engine(workers=2) as engine:
            pending = engine.as_completed([engine.submit(evaluate, spec, "copy", 0, 60)])
            for future in pending:
                ...  # future.result(); pending.add(engine.submit(...)) to go on
    """

    def __init__(self, workers: int = 2, address: str | None = None, connect_timeout: float = 10.0) -> None:
        self.workers = check_workers(workers)
        if not connect_timeout > 0:
            raise ValueError(f"the connect timeout must be a positive number of seconds, not {connect_timeout!r}")
        self.address, self.connect_timeout = address, float(connect_timeout)
        self.client: distributed.Client | None = None
        self.cluster: distributed.LocalCluster | None = None
        self._levels: dict[str, int] = {}

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- start and stop ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the local workers or connect to the scheduler; on failure leave nothing running."""
        if self.client is not None:
            return
        self._quiet()
        try:
            if self.address is None:
                self._start_local()
            else:
                self.client = self._connect(self.address)
        except BaseException:
            self.close()
            raise

    def _start_local(self) -> None:
        with sigint_held():
            self.cluster = distributed.LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,  # no dashboard; the scheduler's small HTTP server on any free loopback port
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.CRITICAL,  # a failing task is not an error of the run
                env={"OMP_NUM_THREADS": "1"},
            )
            self.client = distributed.Client(self.cluster, timeout=self.connect_timeout, set_as_default=False)

    def _connect(self, address: str) -> distributed.Client:
        """A client of the scheduler at ``address``, once :func:`probe` has seen one answer there
        (a client that fails to connect waits past its timeout and then on its own closing)."""
        try:
            answer = probe(address, self.connect_timeout)
        except ValueError:  # a malformed address (unknown protocol, no port, ...)
            raise EngineError(f"--address {address}: not a Dask scheduler address (tcp://HOST:PORT)") from None
        if answer is None:
            raise EngineError(f"--address {address}: no Dask scheduler answered within {self.connect_timeout:g} s")
        if answer != "Scheduler":
            raise EngineError(f"--address {address}: a Dask {answer.lower()} answered, not a scheduler")
        try:
            return distributed.Client(address, timeout=self.connect_timeout, set_as_default=False)
        except Exception as e:
            raise EngineError(f"--address {address}: cannot connect to the Dask scheduler ({e})") from None

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Close the client (the scheduler drops the tasks it held for it) and the local cluster,
        each within ``timeout`` s, then kill any local worker process still alive. Never raises;
        calling it again does nothing. Tasks running on a remote cluster's workers run to their end
        there (Dask cannot stop a running function); their results are dropped."""
        client, cluster, self.client, self.cluster = self.client, self.cluster, None, None
        processes = self._worker_processes(cluster)
        for name in QUIET:  # shutting down, Dask logs closed connections as errors
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        try:
            if client is not None:
                with suppress(Exception):
                    client.close(timeout=timeout)
            if cluster is not None:
                with suppress(Exception):
                    cluster.close(timeout=timeout)
        finally:
            kill_processes(processes)
            for name, level in self._levels.items():
                logging.getLogger(name).setLevel(level)
            self._levels = {}

    def _quiet(self) -> None:
        for name, level in QUIET.items():
            logger = logging.getLogger(name)
            self._levels.setdefault(name, logger.level)
            logger.setLevel(level)

    @staticmethod
    def _worker_processes(cluster: distributed.LocalCluster | None) -> list[psutil.Process]:
        """The local cluster's worker processes as they are now (a restarted worker has a new one)."""
        processes = []
        for nanny in getattr(cluster, "workers", {}).values():
            with suppress(Exception):
                if nanny.pid:
                    processes.append(psutil.Process(nanny.pid))
        return processes

    # -- tasks ------------------------------------------------------------------------------------

    @property
    def _client(self) -> distributed.Client:
        if self.client is None:
            raise RuntimeError("the engine is not started: use it as a context manager (with Engine(...) as engine)")
        return self.client

    def submit(self, fn: Callable[..., Any], *args: Any, key: str | None = None) -> distributed.Future:
        """Run ``fn(*args)`` on a worker (PyTorch on one thread); its future. ``fn`` is a module-level
        function, ``args`` JSON-able values; ``key`` (unique) names the task in Dask, by default
        ``fn``'s name and a random suffix."""
        key = key or f"{fn.__name__}-{uuid.uuid4().hex}"
        return self._client.submit(run_task, fn, *args, key=key, pure=False)

    def as_completed(
        self, futures: Iterable[distributed.Future] = (), timeout: float | None = None
    ) -> distributed.as_completed:
        """An iterator over ``futures`` in the order they finish (done, failed or cancelled); more
        can be added while iterating (``.add(future)``), and it ends when none is left. With a
        ``timeout``, iterating raises ``TimeoutError`` when not all have finished that many seconds
        after this call."""
        return distributed.as_completed(list(futures), loop=self._client.loop, timeout=timeout)

    def wait_any(self, futures: Iterable[distributed.Future], timeout: float | None = None) -> list[distributed.Future]:
        """The futures among ``futures`` that have finished (done, failed or cancelled), once at least
        one has; none if ``timeout`` seconds pass first."""
        futures = list(futures)
        if not any(f.done() for f in futures):
            try:
                next(iter(self.as_completed(futures, timeout=timeout)))
            except (TimeoutError, StopIteration):
                return []
        return [f for f in futures if f.done()]

    def cancel(self, futures: Iterable[distributed.Future]) -> None:
        """Cancel these tasks: their futures end as cancelled at once; those not started never run,
        those running run to their end on their worker (Dask cannot stop a running function)."""
        futures = list(futures)
        if futures:
            self._client.cancel(futures)

    # -- workers ----------------------------------------------------------------------------------

    def worker_count(self) -> int:
        """The number of workers connected now."""
        return len(self._client.nthreads())

    def wait_for_workers(self, n: int = 1, timeout: float = 60.0) -> None:
        """Wait until at least ``n`` workers are connected; :class:`EngineError` after ``timeout`` s."""
        try:
            self._client.wait_for_workers(n, timeout=timeout)
        except TimeoutError:
            have = self.worker_count()
            raise EngineError(
                f"{self._where()}: {have} of {count(n, 'worker')} connected after {timeout:g} s"
            ) from None

    def _where(self) -> str:
        return "local cluster" if self.address is None else f"scheduler {self._client.scheduler.address}"

    def describe(self) -> str:
        """One line: ``dask: 2 local workers`` or ``dask: scheduler tcp://HOST:PORT with 3 workers``."""
        if self.address is None:
            return f"dask: {count(self.workers, 'local worker')}"
        return f"dask: {self._where()} with {count(self.worker_count(), 'worker')}"
