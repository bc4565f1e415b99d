"""``rnnlab search`` as a user runs it: real trainings on Dask workers, a kill and a resume, the
reports, and bad input."""

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import psutil
import pytest

from rnnlab.cli import main
from rnnlab.search.store import FILE, Store
from tests.cli_errors import one_line_error

SMALL = ["--tasks", "adding", "--steps", "20", "--filter-steps", "10", "--hidden-size", "8", "--children", "2"]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}


def _rows(out):
    with contextlib.closing(sqlite3.connect(f"file:{out / FILE}?mode=ro", uri=True)) as db:
        return set(db.execute("SELECT hash, task, finished FROM evaluations").fetchall())


def _session(pid):
    """Processes left in the session ``pid`` led (the search and its Dask workers)."""
    left = []
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getsid(p.pid) == pid and p.status() != psutil.STATUS_ZOMBIE:  # (dead, not yet reaped)
                left.append(p)
    return left


@pytest.mark.slow  # a search on one Dask worker, killed, then resumed (real trainings of 20 steps)
def test_a_killed_search_resumes_without_losing_or_repeating_an_evaluation(tmp_path):
    out = tmp_path / "search"
    argv = [sys.executable, "-m", "rnnlab", "search", *SMALL, "--workers", "1", "--out", str(out)]
    proc = subprocess.Popen(argv, env=_env(), start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / FILE).exists() and len(_rows(out)) >= 5:
                break
            time.sleep(0.5)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        os.killpg(proc.pid, signal.SIGKILL)  # the search and its worker, at any moment
        proc.wait(timeout=30)
        time.sleep(1)
        assert not _session(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    before = _rows(out)
    assert len(before) >= 5
    resumed = [sys.executable, "-m", "rnnlab", "search", "--resume", str(out), "--workers", "1"]
    done = subprocess.run(
        [*resumed, "--max-evaluations", str(len(before) + 6)], env=_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == "" and "evaluation limit" in done.stdout and f"--resume {out}" in done.stdout
    after = _rows(out)
    assert before <= after  # nothing lost, nothing done again (same rows, same finishing times)
    assert len(after) >= len(before) + 6
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["evaluations"] == len(after) and board["leaders"][0]["fitness"] >= 1.0 - 1e-12
    assert (out / "fitness.png").read_bytes()[:4] == b"\x89PNG"
    best = sorted((out / "best").glob("*.json"))
    assert best and json.loads(best[0].read_text())["nodes"]
    # a best cell trains as any cell does
    assert main(["task", "adding", "-T", "10", "--cell", f"graph:{best[0]}", "--max-steps", "3",
                 "--time-budget", "", "--out", str(tmp_path / "again")]) == 0  # fmt: skip


def test_bad_input_is_one_line_and_leaves_a_search_alone(tmp_path, capsys):
    assert main(["search", "--workers", "0", "--out", str(tmp_path / "s")]) == 2
    one_line_error(capsys, "--workers", "0")
    assert main(["search", "--tasks", "adding,nope", "--out", str(tmp_path / "s")]) == 2
    one_line_error(capsys, "--tasks", "nope")
    assert main(["search", "--resume", str(tmp_path / "none")]) == 2
    one_line_error(capsys, "--resume", "holds no search")
    held = tmp_path / "held"
    held.mkdir()
    Store(held, create=True).close()
    before = (held / FILE).read_bytes()
    assert main(["search", "--out", str(held)]) == 2
    one_line_error(capsys, "already holds a search", "--resume")
    assert main(["search", "--resume", str(held), "--steps", "5"]) == 2
    one_line_error(capsys, "--resume", "keeps its settings", "--steps")
    started = time.monotonic()
    assert main(["search", "--out", str(held), "--force", "--address", "tcp://127.0.0.1:9"]) == 2
    one_line_error(capsys, "tcp://127.0.0.1:9", "no Dask scheduler answered")
    assert time.monotonic() - started < 60
    assert (held / FILE).read_bytes() == before  # --force replaces a search only once the engine is up
    assert not (tmp_path / "s").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["search", "--out", str(other), "--force"]) == 2  # --force replaces searches, nothing else
    one_line_error(capsys, "holds files but no search")
    assert (other / "notes.txt").read_text() == "mine"
