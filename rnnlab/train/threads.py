"""How many CPU threads a training runs on, and fewer while other processes keep the cores busy.

PyTorch's threads wait for each other at the end of every parallel region by spinning. When
another process holds one of two cores, the thread that shares its core is descheduled for
whole time slices while its partner spins, and the other process loses the core to the spinning
in turn. Measured here (the default character model, 300 steps, the other process a busy loop):

    cores free:           2 threads  98k char/s, passive waiting (OMP_WAIT_POLICY) 83k, 1 thread 60k
    one core taken:       2 threads  13-27k char/s, passive waiting 48k,                1 thread 46-60k

So with ``--threads 0`` (the default) a training starts on all its threads and, every second,
compares the CPU time of the whole machine (``/proc/stat``) with its own: when other processes
use a noticeable part of a core for two readings in a row, it drops to the cores that are left
(at least one), and it goes back up when they are free again. A fixed ``--threads N``, a
distributed run (its processes would count each other) and machines without ``/proc/stat`` keep
their count.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

STAT = Path("/proc/stat")
INTERVAL_S = 1.0  # between readings
FEWER_AT = 0.35  # cores other processes use: drop threads above this (per core they take) ...
MORE_AT = 0.15  # ... and take one back when what they use leaves a core this idle
AGREE = 2  # readings in a row that must want the same change


def machine_cpu_seconds() -> float | None:
    """Busy CPU seconds of the whole machine since boot, all cores summed (``None`` without ``/proc``)."""
    try:
        fields = STAT.read_text().split("\n", 1)[0].split()
        ticks = [int(x) for x in fields[1:]]
    except (OSError, ValueError, IndexError):
        return None
    if len(ticks) < 4:
        return None
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle and iowait
    busy = sum(ticks[:8]) - idle  # user nice system idle iowait irq softirq steal (guest is in user)
    return busy / os.sysconf("SC_CLK_TCK")


def wanted(most: int, now: int, others: float) -> int:
    """The thread count for ``others`` cores used by other processes, from ``now`` of at most ``most``."""
    fewer = max(1, min(most, most - math.ceil(others - FEWER_AT)))
    if fewer < now:
        return fewer
    more = max(1, min(most, most - math.ceil(others - MORE_AT)))
    return max(now, more)


class Threads:
    """The training's thread count: ``fixed`` threads, or (0) all of PyTorch's while the cores are free.

    ``tick()`` after each step; ``restore()`` at the end puts back the count found at the start.
    """

    def __init__(
        self,
        fixed: int,
        processes: int,
        log: Callable[[str], None],
        read: Callable[[], float | None] = machine_cpu_seconds,
        own: Callable[[], float] = time.process_time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.before = self.most = torch.get_num_threads()
        if fixed:
            torch.set_num_threads(fixed)
        self.log, self.read, self.own, self.clock = log, read, own, clock
        self.adaptive = not fixed and processes == 1 and self.most > 1
        self._last = self._reading() if self.adaptive else None
        self.adaptive = self._last is not None
        self._pending, self._agreed = self.most, 0

    def _reading(self) -> tuple[float, float, float] | None:
        machine = self.read()
        return None if machine is None else (self.clock(), machine, self.own())

    def tick(self) -> None:
        if not self.adaptive or self.clock() - self._last[0] < INTERVAL_S:
            return
        reading = self._reading()
        if reading is None:
            self.adaptive = False
            return
        (t0, m0, o0), (t1, m1, o1) = self._last, reading
        self._last = reading
        others = max(0.0, (m1 - m0) - (o1 - o0)) / (t1 - t0)
        now = torch.get_num_threads()
        target = wanted(self.most, now, others)
        if target == now:
            self._agreed = 0
            return
        self._agreed = self._agreed + 1 if target == self._pending else 1
        self._pending = target
        if self._agreed >= AGREE:
            torch.set_num_threads(target)
            self._agreed = 0
            why = f"other processes use {others:.1f} of {self.most} cores" if target < now else "cores free again"
            self.log(f"threads: {now} -> {target} ({why})")

    def restore(self) -> None:
        torch.set_num_threads(self.before)
