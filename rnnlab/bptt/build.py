"""``python -m rnnlab.bptt.build``: the same as ``rnnlab build`` (kept for scripts that call it)."""

from __future__ import annotations

import sys

from rnnlab.commands.build import status


def main() -> int:
    code, line = status()
    print(line, file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
