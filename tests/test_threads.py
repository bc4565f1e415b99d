"""The training's thread count under other processes' load (rnnlab.train.threads)."""

from __future__ import annotations

import os

import pytest
import torch

from rnnlab.train import threads as th
from rnnlab.train.threads import Threads, machine_cpu_seconds, wanted


@pytest.fixture()
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


class Machine:
    """Readings of a machine where this process uses ``own`` cores and the others ``others``."""

    def __init__(self) -> None:
        self.t = self.machine = self.mine = 0.0
        self.own, self.others = 2.0, 0.0

    def advance(self, seconds: float = 1.0) -> None:
        self.t += seconds
        self.mine += self.own * seconds
        self.machine += (self.own + self.others) * seconds

    def threads(self, fixed: int = 0, processes: int = 1, log=None) -> Threads:
        return Threads(fixed, processes, log or (lambda line: None), lambda: self.machine, 2, lambda: self.mine,
                       lambda: self.t)  # fmt: skip


def test_wanted_drops_to_the_free_cores_and_comes_back_only_when_they_are_idle():
    assert wanted(2, 2, 2, 0.0) == 2
    assert wanted(2, 2, 2, 0.45) == 2  # a little background work
    assert wanted(2, 2, 2, 0.6) == 1
    assert wanted(2, 2, 2, 1.9) == 1  # never below one
    assert wanted(2, 2, 1, 0.9) == 1
    assert wanted(2, 2, 1, 0.4) == 1  # between the two thresholds: stays
    assert wanted(2, 2, 1, 0.2) == 2
    assert wanted(8, 8, 8, 2.7) == 5
    assert wanted(8, 8, 5, 1.0) == 7


def test_wanted_counts_the_cpus_left_not_the_threads_asked_for():
    assert wanted(2, 8, 2, 3.0) == 2  # 2 threads of 8 CPUs, 5 free
    assert wanted(4, 8, 4, 0.6) == 4  # 4 cores, 8 hyperthreads
    assert wanted(2, 8, 2, 6.8) == 1


def test_drops_a_thread_after_two_busy_readings_and_takes_it_back(two_threads):
    m, lines = Machine(), []
    t = m.threads(log=lines.append)
    assert t.adaptive
    m.others = 1.0
    for expected in (2, 1, 1):  # the first busy reading alone changes nothing
        m.advance()
        t.tick()
        assert torch.get_num_threads() == expected
    assert lines == ["threads: 2 -> 1 (other processes use 1.0 of 2 cores)"]
    m.own, m.others = 1.0, 0.0
    for expected in (1, 2):
        m.advance()
        t.tick()
        assert torch.get_num_threads() == expected
    assert lines[-1] == "threads: 1 -> 2 (cores free again)"
    t.restore()
    assert torch.get_num_threads() == 2


def test_a_short_burst_changes_nothing_and_readings_wait_a_second(two_threads):
    m = Machine()
    t = m.threads()
    m.others = 1.0
    m.advance()
    t.tick()
    m.others = 0.0
    m.advance()
    t.tick()
    m.others = 1.0
    m.advance(0.5)  # too soon for a reading
    t.tick()
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("fixed, processes", [(1, 1), (2, 1), (0, 2)])
def test_fixed_counts_and_distributed_runs_keep_their_threads(two_threads, fixed, processes):
    m = Machine()
    t = m.threads(fixed, processes)
    assert not t.adaptive
    assert torch.get_num_threads() == (fixed or 2)
    m.others = 1.0
    for _ in range(3):
        m.advance()
        t.tick()
    assert torch.get_num_threads() == (fixed or 2)
    t.restore()
    assert torch.get_num_threads() == 2


def test_without_proc_stat_nothing_adapts(two_threads, monkeypatch, tmp_path):
    monkeypatch.setattr(th, "STAT", tmp_path / "missing")
    assert machine_cpu_seconds() is None
    assert not Threads(0, 1, print).adaptive


def test_only_the_cpus_this_process_may_use_count_and_steal_is_not_busy(monkeypatch, tmp_path):
    stat = tmp_path / "stat"
    hz = os.sysconf("SC_CLK_TCK")
    stat.write_text(
        f"cpu  {9 * hz} 0 0 0 0 0 0 {50 * hz} 0 0\n"
        f"cpu0 {2 * hz} {hz} {hz} {100 * hz} {5 * hz} 0 {hz} {50 * hz} 0 0\n"
        f"cpu1 {3 * hz} 0 0 {100 * hz} 0 0 0 0 0 0\n"
        f"cpu2 {4 * hz} 0 0 {100 * hz} 0 0 0 0 0 0\n"
        "intr 1 2 3\nctxt 5\n"
    )
    monkeypatch.setattr(th, "STAT", stat)
    assert machine_cpu_seconds({0, 1}) == pytest.approx(8.0)  # user, nice, system, softirq; not idle, iowait, steal
    assert machine_cpu_seconds({2}) == pytest.approx(4.0)
    assert machine_cpu_seconds({7}) is None


@pytest.mark.skipif(machine_cpu_seconds() is None, reason="no /proc/stat")
def test_machine_cpu_seconds_reads_this_machine():
    first = machine_cpu_seconds()
    sum(i * i for i in range(200_000))  # some CPU time
    assert machine_cpu_seconds() >= first > 0
