"""How many CPU threads a training runs on, and fewer while other processes keep the cores busy.

PyTorch's threads wait for each other at the end of every parallel region by spinning. When
another process holds one of two cores, the thread that shares its core is descheduled for
whole time slices while its partner spins, and the other process loses the core to the spinning
in turn. Measured here (the default character model, 300 steps, the other process a busy loop):

    cores free:           2 threads  98k char/s, passive waiting (OMP_WAIT_POLICY) 83k, 1 thread 60k
    one core taken:       2 threads  13-27k char/s, passive waiting 48k,                1 thread 46-60k

So with ``--threads 0`` (the default) a training starts on all its threads and, every second,
compares the CPU time of the cores it may run on (``/proc/stat``) with its own: when other processes
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
# cores other processes use: drop a thread above FEWER_AT (per core they take), take it back below
# MORE_AT. Measured with a process busy for a duty cycle of one core (300 steps, 2 cores): at 0.25
# 2 threads ran at 66-68k char/s against 49-51k on 1; at 0.5 both 53-55k; at 0.75 39-40k against 52-53k.
FEWER_AT, MORE_AT = 0.5, 0.3
AGREE = 2  # readings in a row that must want the same change


def usable_cpus() -> set[int]:
    """The CPUs this process may run on."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def machine_cpu_seconds(cpus: set[int] | None = None) -> float | None:
    """Busy CPU seconds since boot of the CPUs ``cpus`` (default: those this process may use),
    summed; ``None`` without ``/proc/stat``. Steal (a hypervisor's) is not counted as busy."""
    cpus = usable_cpus() if cpus is None else cpus
    busy, seen = 0, 0
    try:
        lines = STAT.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or not name[3:].isdigit() or int(name[3:]) not in cpus:
            continue
        try:
            ticks = [int(x) for x in fields[:7]]  # user nice system idle iowait irq softirq
        except ValueError:
            return None
        if len(ticks) < 4:
            return None
        busy += sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)
        seen += 1
    return busy / os.sysconf("SC_CLK_TCK") if seen else None


def wanted(most: int, cpus: int, now: int, others: float) -> int:
    """The thread count, from ``now`` of at most ``most``, when other processes use ``others`` of
    the ``cpus`` this process may run on."""
    fewer = max(1, min(most, cpus - math.ceil(others - FEWER_AT)))
    if fewer < now:
        return fewer
    more = max(1, min(most, cpus - math.ceil(others - MORE_AT)))
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
        cpus: int | None = None,
        own: Callable[[], float] = time.process_time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.before = self.most = torch.get_num_threads()
        if fixed:
            torch.set_num_threads(fixed)
        self.log, self.read, self.own, self.clock = log, read, own, clock
        self.cpus = cpus or len(usable_cpus())
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
        target = wanted(self.most, self.cpus, now, others)
        if target == now:
            self._agreed = 0
            return
        self._agreed = self._agreed + 1 if target == self._pending else 1
        self._pending = target
        if self._agreed >= AGREE:
            torch.set_num_threads(target)
            self._agreed = 0
            why = f"other processes use {others:.1f} of {self.cpus} cores" if target < now else "cores free again"
            self.log(f"threads: {now} -> {target} ({why})")

    def restore(self) -> None:
        torch.set_num_threads(self.before)
