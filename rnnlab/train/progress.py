"""Progress reporting: a redrawn status line on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    m, s = divmod(seconds, 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


class Progress:
    """Shows step, loss, throughput and time left.

    Args:
        stream: where to write (stderr by default).
        every: on a non-terminal, write a line every this many steps.
    """

    def __init__(self, stream: TextIO | None = None, every: int = 100) -> None:
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = every
        self._last_draw = 0.0
        self._dirty = False

    def update(
        self, step: int, loss: float, chars_per_s: float, left_s: float | None, fraction: float, unit: str = "char"
    ) -> None:
        left = f"{format_seconds(left_s)} left" if left_s is not None else ""
        text = f"step {step:>6}  loss {loss:.3f}  {chars_per_s / 1000:6.1f}k {unit}/s  {left}"
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw < 0.2:
                return
            self._last_draw = now
            width = 24
            filled = int(width * min(1.0, fraction))
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\r[{bar}] {text}\x1b[K")
            self._dirty = True
        elif step % self.every == 0:
            self.stream.write(text.rstrip() + "\n")
        self.stream.flush()

    def log(self, text: str) -> None:
        """A permanent line (clears the status line first)."""
        if self._dirty:
            self.stream.write("\r\x1b[K")
            self._dirty = False
        self.stream.write(text + "\n")
        self.stream.flush()
