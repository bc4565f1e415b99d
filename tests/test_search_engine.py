"""The search's engine (rnnlab.search.engine): tasks on local Dask workers and on a cluster joined by
address (a scheduler and a worker started here as processes on 127.0.0.1), errors, timeouts, and
no worker process left behind."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from rnnlab.search.engine import Engine, EngineError, run_task
from tests import search_tasks

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pids) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _spawned_children() -> list[psutil.Process]:
    """This process's multiprocessing children other than its resource tracker (kept for the process's life)."""
    children = psutil.Process().children(recursive=True)
    return [p for p in children if "spawn_main" in " ".join(p.cmdline()) and _alive([p.pid])]


@pytest.fixture(scope="module")
def local():
    with Engine(workers=2) as engine:
        yield engine


# -- quick tier -------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_workers_must_be_a_positive_whole_number(workers):
    with pytest.raises(ValueError, match="--workers"):
        Engine(workers=workers)


def test_a_closed_port_fails_within_the_timeout_with_one_line():
    port = _free_port()  # nothing listens there now
    start = time.monotonic()
    with pytest.raises(EngineError) as info:
        Engine(address=f"tcp://127.0.0.1:{port}", connect_timeout=1).start()
    assert time.monotonic() - start < 5
    assert str(info.value) == f"--address tcp://127.0.0.1:{port}: no Dask scheduler answered within 1 s"
    assert isinstance(info.value, ValueError)


def test_a_silent_server_fails_within_the_timeout():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        start = time.monotonic()
        with pytest.raises(EngineError, match="no Dask scheduler answered within 1 s"):
            Engine(address=f"tcp://127.0.0.1:{server.getsockname()[1]}", connect_timeout=1).start()
        assert time.monotonic() - start < 5


@pytest.mark.parametrize("address", ["127.0.0.1", "http://127.0.0.1:8786", "tcp://"])
def test_a_malformed_address_is_refused_at_once(address):
    with pytest.raises(EngineError, match="not a Dask scheduler address"):
        Engine(address=address, connect_timeout=5).start()


def test_an_engine_not_started_says_so():
    with pytest.raises(RuntimeError, match="not started"):
        Engine().submit(search_tasks.fail, "x")


def test_tasks_run_with_one_thread():
    assert run_task(search_tasks.torch_threads) == 1


# -- local workers ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_local_workers_run_tasks_in_two_processes(local):
    futures = [local.submit(search_tasks.pid_after, 0.5) for _ in range(4)]
    pids = [f.result(timeout=60) for f in futures]
    assert len(set(pids)) == 2 and os.getpid() not in pids
    assert local.worker_count() == 2
    assert local.describe() == "dask: 2 local workers"
    assert local.submit(search_tasks.torch_threads).result(timeout=60) == 1


def _blocks_sigint(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:"))
    return bool(int(mask, 16) & (1 << (signal.SIGINT - 1)))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_local_workers_leave_ctrl_c_to_the_main_process(local):
    pids = local.client.run(os.getpid).values()
    assert pids and all(_blocks_sigint(pid) for pid in pids)  # a Ctrl-C at the terminal does not reach them
    assert not _blocks_sigint(os.getpid())  # while this process gets it


@pytest.mark.slow
def test_an_exception_in_a_task_comes_back_from_its_future(local):
    future = local.submit(search_tasks.fail, "no good", key="fail-1")
    assert future.key == "fail-1"
    with pytest.raises(RuntimeError, match="no good"):
        future.result(timeout=60)
    assert isinstance(future.exception(timeout=60), RuntimeError)


@pytest.mark.slow
def test_as_completed_takes_tasks_added_while_iterating_and_cancel(local):
    pending = local.as_completed([local.submit(search_tasks.pid_after, 0.1)], timeout=60)
    done = 0
    for future in pending:
        assert future.status == "finished"
        done += 1
        if done < 3:
            pending.add(local.submit(search_tasks.pid_after, 0.1))
    assert done == 3
    queued = [local.submit(search_tasks.pid_after, 0.5) for _ in range(4)]  # those started run to their end
    local.cancel(queued)
    assert [f.status for f in local.as_completed(queued, timeout=30)] == ["cancelled"] * 4


@pytest.mark.slow
def test_a_killed_worker_does_not_hang_the_client(local):
    future = local.submit(search_tasks.pid_after, 1)
    deadline = time.monotonic() + 30
    while not (running := [w for w, keys in local.client.processing().items() if future.key in keys]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    victim = local.client.run(os.getpid, workers=running)[running[0]]
    os.kill(victim, signal.SIGKILL)
    assert future.result(timeout=60) != victim  # run again on the other worker (the nanny starts a new process)


@pytest.mark.slow
def test_no_worker_process_is_left_after_the_context():
    before = {p.pid for p in _spawned_children()}  # the module's other engine's workers
    with Engine(workers=2) as engine:
        pids = list(engine.client.run(os.getpid).values())
        assert len(pids) == 2 and len(_alive(pids)) == 2
    assert _alive(pids) == []
    assert [p.pid for p in _spawned_children() if p.pid not in before] == []


@pytest.mark.slow
def test_no_worker_process_is_left_after_an_exception():
    with pytest.raises(KeyboardInterrupt), Engine(workers=1) as engine:
        pids = list(engine.client.run(os.getpid).values())
        raise KeyboardInterrupt
    assert _alive(pids) == []


# -- a cluster joined by address (two nodes simulated on one machine) --------------------------------


def _start(argv: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


@pytest.mark.slow
def test_joining_a_scheduler_and_a_worker_by_address():
    dask = str(Path(sys.executable).with_name("dask"))
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = []
    try:
        procs.append(
            _start(
                [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", "127.0.0.1:0"]
            )
        )
        deadline = time.monotonic() + 30
        while True:  # the scheduler takes a second or two to listen
            try:
                engine = Engine(address=address, connect_timeout=2)
                engine.start()
                break
            except EngineError:
                assert time.monotonic() < deadline, "the scheduler did not start"
        with engine:
            with pytest.raises(EngineError, match="0 of 1 worker connected after 0.5 s"):
                engine.wait_for_workers(1, timeout=0.5)
            procs.append(_start([dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1"]))
            engine.wait_for_workers(1, timeout=30)
            assert engine.describe() == f"dask: scheduler {address} with 1 worker"
            pid = engine.submit(search_tasks.pid_after, 0).result(timeout=60)
            worker_pids = {p.pid for p in psutil.Process(procs[1].pid).children(recursive=True)}
            assert pid in worker_pids
            with pytest.raises(RuntimeError, match="remote failure"):
                engine.submit(search_tasks.fail, "remote failure").result(timeout=60)
            worker = next(iter(engine.client.nthreads()))
            with pytest.raises(EngineError, match="a Dask worker answered, not a scheduler"):
                Engine(address=worker, connect_timeout=5).start()
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
