"""Data-parallel training (torch.distributed, DDP): two processes give what one gives."""

import contextlib
import csv
import os
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

from rnnlab.cli import main
from rnnlab.runs import read_metrics
from rnnlab.tasks import Seq2SeqTask
from rnnlab.train.distributed import World
from rnnlab.train.launch import without_option
from tests.cli_errors import one_line_error

TEXT = "".join(f"Now is the winter of our discontent, made glorious summer {i % 7}.\n" for i in range(300))
SMALL = "--hidden-size 24 --embedding-size 8 --seq-len 16 --batch-size 8 --eval-chars 2000 --sample-chars 0".split()


def _train(tmp_path, name, *extra, nproc=1):
    argv = []
    if "--resume" not in extra:
        argv += ["--data", str(tmp_path / "text.txt"), *SMALL, "--eval-every", "5", "--out", str(tmp_path / name)]
    argv += extra  # last, so that they override
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    command = [sys.executable, "-m", "rnnlab", "train", *argv, "--nproc", str(nproc)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp_path / name


def _losses(run):
    with open(run / "steps.csv", encoding="utf-8") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def _assert_same_run(a, b):
    la, lb = _losses(a), _losses(b)
    assert len(la) == len(lb) > 0
    assert la == pytest.approx(lb, rel=1e-5)
    wa, wb = load_file(a / "last.safetensors"), load_file(b / "last.safetensors")
    weights = [k for k in wa if k.startswith("model.")]
    assert weights and weights == [k for k in wb if k.startswith("model.")]  # (the random states differ)
    for key in weights:
        assert (wa[key] - wb[key]).abs().max() <= 1e-5, key


@pytest.mark.slow  # four short trainings in subprocesses, two of them on two processes
def test_two_processes_match_one_and_resume_on_another_number(tmp_path):
    (tmp_path / "text.txt").write_text(TEXT)
    drop = ["--dropout", "0.3", "--schedule", "constant"]  # the same schedule whatever the step limit
    one = _train(tmp_path, "one", *drop, "--max-steps", "10")
    two = _train(tmp_path, "two", *drop, "--max-steps", "10", nproc=2)
    _assert_same_run(one, two)  # same losses at every step, same weights: each stream's masks are its own
    # the carried states are saved per stream, and the masks need nothing saved: each run goes on
    # on the other number of processes, as a run on one process that was never stopped
    _train(tmp_path, "one", "--resume", str(one), "--max-steps", "20", nproc=2)
    _train(tmp_path, "two", "--resume", str(two), "--max-steps", "20")
    straight = _train(tmp_path, "straight", *drop, "--max-steps", "20")
    _assert_same_run(one, straight)
    _assert_same_run(two, straight)


@pytest.mark.slow  # two short trainings, one on three processes (on any number of cores)
def test_three_processes_share_the_validation_streams_unevenly(tmp_path):
    (tmp_path / "text.txt").write_text(TEXT)
    args = ["--max-steps", "5", "--eval-every", "2", "--batch-size", "6", "--force"]
    one = _train(tmp_path, "one", *args)
    three = _train(tmp_path, "three", *args, nproc=3)  # the 32 validation streams read 11 + 11 + 10
    _assert_same_run(one, three)
    val = [[r["val_loss"] for r in read_metrics(run)] for run in (one, three)]
    assert len(val[0]) == 3 and val[0] == pytest.approx(val[1], rel=1e-6)


@pytest.mark.slow  # starts two processes
def test_an_error_every_process_meets_is_said_once(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    argv = [sys.executable, "-m", "rnnlab", "train", "--data", str(tmp_path / "none.txt"), "--nproc", "2"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"rnnlab train: error: data: no such file, folder or glob match: {tmp_path / 'none.txt'} "
        "(named corpora: shakespeare, python-stdlib, ptb, linux, latex, linux:SUBDIR|all, latex:pari|texlive)"
    ]
    assert not (tmp_path / "runs").exists()


def test_shares_and_launch_arguments():
    assert [World(r, 4).share(32, "batch_size") for r in range(4)] == [slice(i * 8, i * 8 + 8) for i in range(4)]
    with pytest.raises(ValueError, match="batch_size: 30 does not split evenly over 4 processes"):
        World(1, 4).share(30, "batch_size")
    argv = ["train", "--nproc", "2", "--data", "x", "--nproc=3", "--out", "o"]
    assert without_option(argv, "--nproc") == ["train", "--data", "x", "--out", "o"]


def test_bad_process_counts(tmp_path, capsys):
    (tmp_path / "text.txt").write_text(TEXT)
    base = ["train", "--data", str(tmp_path / "text.txt"), "--out", str(tmp_path / "run")]
    assert main([*base, "--nproc", "0"]) == 2
    one_line_error(capsys, "--nproc", "positive")
    assert main([*base, "--nproc", str((os.cpu_count() or 1) + 1)]) == 2
    one_line_error(capsys, "--nproc", "cores", "--force")
    assert main([*base, "--nproc", "2", "--batch-size", "31", "--force"]) == 2  # before any process starts
    one_line_error(capsys, "batch_size", "31", "does not split evenly over 2 processes")
    assert not (tmp_path / "run").exists()


def test_a_task_that_does_not_share_out_its_batches_is_refused(capsys, monkeypatch):
    monkeypatch.setattr(Seq2SeqTask, "parallel", False)  # every task shares them out now; a new one may not
    assert main(["train", "--task", "seq2seq", "--data", "addition", "--nproc", "2"]) == 2
    one_line_error(capsys, "--nproc", "seq2seq runs train in one process")


def _workers(out):
    """PIDs of the worker processes training into ``out`` (started as ``python -m rnnlab``)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if b"rnnlab" in args and str(out).encode() in args and b"--nproc" not in args:  # not the launcher
                found.append(int(entry))
    return found


def _long_run(tmp_path, out):
    """A two-process training into ``out`` in a session of its own, once it has saved a checkpoint."""
    (tmp_path / "text.txt").write_text(TEXT * 4)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    argv = [sys.executable, "-m", "rnnlab", "train", "--data", str(tmp_path / "text.txt"), *SMALL]
    argv += ["--eval-every", "5", "--max-steps", "100000", "--time-budget", "5m", "--out", str(out), "--nproc", "2"]
    pipe = subprocess.PIPE
    proc = subprocess.Popen(argv, stdout=pipe, stderr=pipe, text=True, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    while not (out / "last.safetensors").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    return proc


@pytest.mark.slow  # a two-process training, one of its workers killed, then resumed
def test_a_killed_worker_stops_the_run_in_one_line_and_resume_continues(tmp_path):
    out = tmp_path / "run"
    proc = _long_run(tmp_path, out)
    try:
        workers = _workers(out)
        assert len(workers) == 2 and proc.poll() is None
        os.kill(max(workers), signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
    finally:  # nothing left running if an assertion failed
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    lines = [line for line in err.splitlines() if line.startswith("rnnlab")]
    assert proc.returncode == 2 and len(lines) == 1, err[-2000:]
    assert "failed (signal 9)" in lines[0] and "Traceback" not in err
    step = load_file(out / "last.safetensors")  # intact
    assert step
    _train(tmp_path, "run", "--resume", str(out), "--max-steps", "20")
    assert _losses(out)[-1] > 0 and len(_losses(out)) >= 20


@pytest.mark.slow  # a two-process training interrupted, twice
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_under_the_launcher_saves_and_leaves_nothing_running(tmp_path, presses):
    out = tmp_path / "run"
    proc = _long_run(tmp_path, out)
    try:
        for _ in range(presses):  # as a terminal does: to the launcher's process group (the workers have their own)
            os.killpg(proc.pid, signal.SIGINT)
            time.sleep(0.3)
        out_text, err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130 and "Traceback" not in err
    assert not _workers(out)  # none left behind, even when the second press came while they saved
    if presses == 1:  # the workers finished their step and saved, and said how to go on; nothing on stderr
        assert err == "" and f"resume with: rnnlab train --resume {out}" in out_text
    assert load_file(out / "last.safetensors")  # intact either way
