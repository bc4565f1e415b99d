"""The clocks a training's time budget is counted on (``--clock wall|cpu``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from rnnlab import path_choice

#: what the time budget and ``elapsed_s`` count (``--clock``)
CLOCK_FUNCTIONS = {"wall": time.monotonic, "cpu": time.process_time}


def budget_clock(name: str) -> Callable[[], float]:
    """The clock a time budget is counted on: ``name``'s, less the time spent choosing paths
    (``path="auto"`` times its candidates at a shape's first call), which no budget pays."""
    clock = CLOCK_FUNCTIONS[name]
    return lambda: clock() - path_choice.spent(name)
