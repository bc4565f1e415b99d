"""Argument checks that fail early with a message naming the argument.

Every check raises ``ValueError`` of the form ``"<name>: expected <what>, got <value>"`` so that
a user sees which argument is wrong, what it was and what would be accepted, instead of a shape
error from deep inside PyTorch.
"""

from __future__ import annotations

from typing import Any


def fail(name: str, expected: str, got: Any) -> None:
    """Raise the project's standard ``ValueError`` for argument ``name``."""
    raise ValueError(f"{name}: expected {expected}, got {got!r}")


def positive_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an int > 0 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        fail(name, "a positive integer", value)
    return value


def probability(name: str, value: Any, *, include_one: bool = False) -> float:
    """Return ``value`` as a float in [0, 1) (or [0, 1] when ``include_one``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    upper_ok = ok and (value <= 1 if include_one else value < 1)
    if not ok or value < 0 or not upper_ok:
        fail(name, "a number in [0, 1]" if include_one else "a number in [0, 1)", value)
    return float(value)


def choice(name: str, value: Any, options: list[str] | tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``options``."""
    if value not in options:
        fail(name, "one of " + ", ".join(repr(o) for o in options), value)
    return value
