"""``python -m rnnlab.bptt.build``: the same as ``rnnlab build`` (kept for scripts that call it)."""

from __future__ import annotations

import sys

from rnnlab.commands.build import build_now

if __name__ == "__main__":
    sys.exit(build_now())
