"""``rnnlab task``: under construction."""

from __future__ import annotations

from rnnlab.commands.common import UsageError


def register(sub) -> None:
    p = sub.add_parser("task", help="(under construction)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise UsageError("not built yet")
