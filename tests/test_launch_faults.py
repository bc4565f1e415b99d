"""Several machines from rnnlab's own launcher (--nnodes, --rdzv-endpoint), and what goes wrong when they
meet: each fault one line and exit status 2, quickly, nothing left running."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from rnnlab.cli import main
from rnnlab.commands.parallel import LAUNCH_OPTIONS
from rnnlab.tasks import Seq2SeqTask
from rnnlab.train.launch import parse_endpoint, without_option
from tests.cli_errors import one_line_error
from tests.test_distributed import SMALL, TEXT, _assert_same_run, _train

ENV = {"OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _left(session: int) -> list[int]:
    """The processes still running in ``session`` (zombies aside)."""
    found = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError, IndexError):
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                fields = f.read().rpartition(")")[2].split()
            if int(fields[3]) == session and fields[0] != "Z":
                found.append(int(entry))
    return found


def _start(tmp_path, *extra, cwd=None, out="run", env=None):
    (tmp_path / "text.txt").write_text(TEXT)
    command = [sys.executable, "-m", "rnnlab", "train", "--data", str(tmp_path / "text.txt"), *SMALL]
    command += ["--eval-every", "5", "--max-steps", "10", "--out", str(tmp_path / out), *extra]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **ENV, **(env or {})},
        cwd=cwd or os.getcwd(),
        start_new_session=True,
    )


# Past its timeout, a refusal may still take the start of a Python process with PyTorch and the
# launcher's exit, which on a busy 2-core machine can take tens of seconds: the bound catches a
# launcher that waits for ever, not a slow machine.
SLACK = 20


def _refused(tmp_path, *extra, within=90.0, env=None) -> tuple[str, float]:
    """Run the training with ``extra``: its one error line (exit 2, nothing written, nothing left running)
    and how long it took."""
    start = time.monotonic()
    proc = _start(tmp_path, *extra, env=env)
    try:
        _, err = proc.communicate(timeout=within)
        took = time.monotonic() - start
        deadline = time.monotonic() + 5
        while _left(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _left(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 2, err[-3000:]
    assert err.count("\n") == 1 and err.startswith("rnnlab train: error: "), err[-3000:]
    assert not (tmp_path / "run").exists()
    return err, took


@pytest.mark.slow  # a launcher in a subprocess, waiting out a timeout
def test_port_in_use_by_another_program(tmp_path):
    with socket.socket() as other:  # listens, never answers: torch's client would wait on it for ever
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        endpoint = f"localhost:{port}"
        err, took = _refused(tmp_path, "--nnodes", "2", "--rdzv-endpoint", endpoint, "--rdzv-timeout", "5")
    assert f"--rdzv-endpoint {endpoint}: port {port} is in use by another program" in err
    assert took < 5 + SLACK


def test_unresolvable_host(tmp_path):
    endpoint = "nohost.invalid:29500"
    err, took = _refused(tmp_path, "--nnodes", "2", "--rdzv-endpoint", endpoint, "--rdzv-timeout", "5")
    assert f"--rdzv-endpoint {endpoint}: nohost.invalid cannot be resolved" in err
    assert took < 5 + SLACK


@pytest.mark.slow  # a launcher in a subprocess, waiting out a timeout
def test_nothing_listening(tmp_path):
    endpoint = f"0.0.0.0:{_free_port()}"  # not this machine's name for torch: a client, refused
    err, took = _refused(tmp_path, "--nnodes", "2", "--rdzv-endpoint", endpoint, "--rdzv-timeout", "4")
    assert f"the rendezvous at {endpoint} cannot be reached within 4s" in err
    assert took < 4 + SLACK


@pytest.mark.slow  # a launcher in a subprocess, waiting out a timeout
def test_a_silent_program_at_the_endpoint(tmp_path):
    with socket.socket() as other:  # accepts and never answers, where torch sees another machine: its client
        other.bind(("0.0.0.0", 0))  # would wait for ever
        other.listen()
        endpoint = f"0.0.0.0:{other.getsockname()[1]}"
        err, took = _refused(tmp_path, "--nnodes", "2", "--rdzv-endpoint", endpoint, "--rdzv-timeout", "1")
    assert f"the rendezvous at {endpoint} did not answer within 12s" in err
    assert took < 12 + SLACK


@pytest.mark.slow  # a launcher in a subprocess, waiting out a timeout
def test_the_other_machines_never_join(tmp_path):
    endpoint = f"localhost:{_free_port()}"  # this machine hosts the rendezvous; nobody else comes
    err, took = _refused(tmp_path, "--nnodes", "4", "--rdzv-endpoint", endpoint, "--rdzv-timeout", "3")
    assert f"the rendezvous at {endpoint}: the other machines did not join within 3s (4 expected)" in err
    assert took < 3 + SLACK


def test_nnodes_without_endpoint(tmp_path):
    err, _ = _refused(tmp_path, "--nnodes", "2")
    assert "--nnodes 2: add --rdzv-endpoint HOST:PORT" in err


@pytest.mark.slow  # a launcher in a subprocess, waiting out a timeout
def test_a_worker_that_cannot_join_under_torchrun(tmp_path):
    env = {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "1"}
    env |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "RNNLAB_DIST_TIMEOUT": "3"}
    env["TORCH_CPP_LOG_LEVEL"] = "FATAL"  # torch's own retry lines, printed before rnnlab is asked
    err, took = _refused(tmp_path, env=env)
    assert f"process 1 of 2 could not join the others at 127.0.0.1:{env['MASTER_PORT']}" in err
    assert took < 3 + SLACK


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        (["--nnodes", "0", "--rdzv-endpoint", "localhost:29500"], ["--nnodes", "positive", "got 0"]),
        (["--nnodes", "2", "--rdzv-endpoint", "localhost"], ["--rdzv-endpoint", "HOST:PORT", "'localhost'"]),
        (["--rdzv-endpoint", "localhost:0"], ["--rdzv-endpoint", "port from 1 to 65535"]),
        (["--rdzv-endpoint", "localhost:http"], ["--rdzv-endpoint", "port from 1 to 65535"]),
        (["--rdzv-endpoint", "localhost:70000"], ["--rdzv-endpoint", "port from 1 to 65535"]),
        (["--nnodes", "2", "--rdzv-endpoint", "h:1", "--rdzv-timeout", "0"], ["--rdzv-timeout", "positive"]),
        (["--nnodes", "2", "--rdzv-endpoint", "h:1", "--rdzv-timeout", "-3"], ["--rdzv-timeout", "positive"]),
        (["--nnodes", "2", "--rdzv-endpoint", "h:1", "--rdzv-timeout", "nan"], ["--rdzv-timeout", "positive"]),
    ],
)
def test_bad_values(tmp_path, capsys, options, fragments):
    (tmp_path / "text.txt").write_text(TEXT)
    assert main(["train", "--data", str(tmp_path / "text.txt"), "--out", str(tmp_path / "run"), *options]) == 2
    one_line_error(capsys, *fragments)
    assert not (tmp_path / "run").exists()


def test_a_task_that_trains_in_one_process(capsys, monkeypatch):
    monkeypatch.setattr(Seq2SeqTask, "parallel", False)  # every task shares out its batches now; a new one may not
    assert main(["train", "--task", "seq2seq", "--data", "addition", "--nnodes", "2", "--rdzv-endpoint", "h:1"]) == 2
    one_line_error(capsys, "--nnodes: seq2seq runs train in one process")


def test_endpoints_and_the_options_kept_from_the_workers():
    assert parse_endpoint("node-a.example:29500") == ("node-a.example", 29500)
    assert parse_endpoint("[::1]:29500") == ("::1", 29500)
    argv = ["train", "--nnodes", "2", "--rdzv-endpoint=h:1", "--data", "x", "--rdzv-timeout", "9", "--nproc=1"]
    for name in LAUNCH_OPTIONS:
        argv = without_option(argv, name)
    assert argv == ["train", "--data", "x"]


@pytest.mark.slow  # two "machines" of one process each on this one, then a one-process training
def test_two_machines_on_one_give_what_one_process_gives(tmp_path):
    endpoint = f"localhost:{_free_port()}"
    options = ["--nproc", "1", "--nnodes", "2", "--rdzv-endpoint", endpoint, "--rdzv-timeout", "60"]
    machines = []
    for name in ("a", "b"):  # started together, each in a folder of its own, both told the same --out
        (tmp_path / name).mkdir()
        machines.append(_start(tmp_path, *options, cwd=tmp_path / name, out="two"))
    try:
        done = [proc.communicate(timeout=300) for proc in machines]
    finally:
        for proc in machines:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    for proc, (_, err) in zip(machines, done):
        assert proc.returncode == 0 and "Traceback" not in err, err[-3000:]
        assert all(line.startswith("rnnlab: ") for line in err.splitlines()), err[-3000:]  # torch quiet
    assert sum("run in" in out for out, _ in done) == 1  # rank 0 alone says where it writes
    one = _train(tmp_path, "one", "--max-steps", "10")
    _assert_same_run(one, tmp_path / "two")
