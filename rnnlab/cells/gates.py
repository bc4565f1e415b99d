"""Reading a cell's gate values while it runs (for visualisation and saturation statistics).

Gated cells call :func:`record` with their gate activations (after the sigmoid) at every step;
outside a :class:`GateCapture` block that is one attribute lookup and nothing else.
"""

from __future__ import annotations

import threading

from torch import Tensor

_active = threading.local()


class GateCapture:
    """Collect the gates of every step of every gated cell run inside the block::

    with GateCapture() as gates:
        y, state = cell(x_t, state)
    gates.steps[cell]  # one {"i": (B, H), "f": ..., "o": ...} per step
    """

    def __init__(self) -> None:
        self.steps: dict[object, list[dict[str, Tensor]]] = {}

    def __enter__(self) -> GateCapture:
        self._outer = getattr(_active, "capture", None)
        _active.capture = self
        return self

    def __exit__(self, *exc) -> None:
        _active.capture = self._outer


def record(cell: object, /, **gates: Tensor) -> None:
    """Hand this step's gate values of ``cell`` to the active :class:`GateCapture`, if any."""
    capture = getattr(_active, "capture", None)
    if capture is not None:
        capture.steps.setdefault(cell, []).append({k: v.detach() for k, v in gates.items()})
