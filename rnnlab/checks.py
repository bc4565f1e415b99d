"""Argument checks that fail early with a message naming the argument.

Every check raises ``ValueError`` of the form ``"<name>: expected <what>, got <value>"`` so that
a user sees which argument is wrong, what it was and what would be accepted, instead of a shape
error from deep inside PyTorch. Numbers must be finite: ``inf`` and ``NaN`` are refused everywhere.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import nn

F = TypeVar("F", bound=Callable[..., Any])


def fail(name: str, expected: str, got: Any) -> None:
    """Raise the project's standard ``ValueError`` for argument ``name``."""
    raise ValueError(f"{name}: expected {expected}, got {got!r}")


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an int (bools are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite(value: Any) -> bool:
    """Whether ``value`` is an int or a finite float (bools, ``inf`` and ``NaN`` are not)."""
    return is_integer(value) or (isinstance(value, float) and math.isfinite(value))


def positive_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an int > 0 (bools are refused)."""
    if not is_integer(value) or value <= 0:
        fail(name, "a positive integer", value)
    return value


def non_negative_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an int >= 0 (bools are refused)."""
    if not is_integer(value) or value < 0:
        fail(name, "an integer >= 0", value)
    return value


def positive(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite number > 0."""
    if not is_finite(value) or value <= 0:
        fail(name, "a positive, finite number", value)
    return float(value)


def non_negative(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite number >= 0."""
    if not is_finite(value) or value < 0:
        fail(name, "a finite number >= 0", value)
    return float(value)


def probability(name: str, value: Any, *, include_one: bool = False) -> float:
    """Return ``value`` as a float in [0, 1) (or [0, 1] when ``include_one``)."""
    ok = is_finite(value) and 0 <= value and (value <= 1 if include_one else value < 1)
    if not ok:
        fail(name, "a number in [0, 1]" if include_one else "a number in [0, 1)", value)
    return float(value)


def seed(name: str, value: Any) -> int:
    """Return ``value`` if it can seed every random stream (Python's, NumPy's, PyTorch's, offsets
    of it included): an int in [0, 2**32)."""
    if not is_integer(value) or not 0 <= value < 2**32:
        fail(name, "an integer in [0, 2**32)", value)
    return value


def choice(name: str, value: Any, options: list[str] | tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``options``."""
    if value not in options:
        fail(name, "one of " + ", ".join(repr(o) for o in options), value)
    return value


# ---------------------------------------------------------------------------------- model size
BYTES_PER_PARAMETER = 4  # float32
SMALLER = "choose a smaller model (--hidden-size, --num-layers, the embedding sizes)"


def total_memory() -> int:
    """The machine's physical memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _gigabytes(count: int) -> str:
    return f"{count / 1e9:,.1f} GB" if count >= 1e8 else f"{count / 1e6:,.1f} MB"


def recurrent_parameters(input_size: int, hidden_size: int, num_layers: int = 1, directions: int = 1) -> int:
    """A lower bound on the parameters of a recurrent stack: every built-in cell has an input
    matrix ``(H, D)`` and a recurrent matrix ``(H, H)`` per layer and direction (gated cells have
    several of each)."""
    total, width = 0, input_size
    for _ in range(num_layers):
        total += directions * hidden_size * (width + hidden_size)
        width = directions * hidden_size
    return total


def fits_in_memory(parameters: int) -> int:
    """Return ``parameters`` (a count, or a lower bound on it) if their weights fit in this machine's memory.

    Raises:
        ValueError: naming the count, the memory it needs and the memory there is.
    """
    fits_memory(parameters * BYTES_PER_PARAMETER, f"model: at least {parameters:,} parameters", SMALLER)
    return parameters


def fits_memory(need: int, what: str, hint: str) -> int:
    """Return ``need`` (bytes) if it fits in this machine's memory.

    Raises:
        ValueError: ``"<what> need <size> of memory and this machine has <size>; <hint>"``.
    """
    have = total_memory()
    if need > have:
        raise ValueError(f"{what} need {_gigabytes(need)} of memory and this machine has {_gigabytes(have)}; {hint}")
    return need


def allocation_failure(error: BaseException) -> str | None:
    """What failed to be allocated, or ``None`` if ``error`` is not a failed allocation."""
    if isinstance(error, MemoryError):
        return "an allocation failed"
    text = str(error)
    asked = re.search(r"allocate (\d+) bytes", text)
    if asked:
        return f"{_gigabytes(int(asked[1]))} for one tensor could not be allocated"
    if re.search(r"can't allocate|out of memory|size calculation overflowed", text, re.IGNORECASE):
        return "an allocation failed"
    return None


def refuse_allocation_failure(init: F) -> F:
    """Decorate a model's ``__init__`` so that running out of memory while it builds its weights is
    the one-line ``ValueError`` of a bad argument rather than PyTorch's allocator error."""

    @functools.wraps(init)
    def build(*args: Any, **kwargs: Any) -> Any:
        try:
            return init(*args, **kwargs)
        except (RuntimeError, MemoryError) as e:
            asked = allocation_failure(e)
            if asked is None:
                raise
            raise ValueError(f"model: out of memory while building its weights ({asked}); {SMALLER}") from e

    return build  # type: ignore[return-value]


def finite_weights(model: nn.Module, source: str, hint: str = "retrain with a lower --lr") -> None:
    """Refuse a model whose weights hold NaN or inf (what a diverged training leaves).

    Args:
        model: the model, its weights loaded.
        source: where the weights came from (a file), named in the message.
        hint: what to do instead, appended to the message.

    Raises:
        ValueError: ``"<source> holds non-finite weights (NaN or inf) in <tensor>; the training diverged: <hint>"``.
    """
    bad = [n for n, t in model.state_dict().items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        where = bad[0] + (f" and {len(bad) - 1} more tensor(s)" if len(bad) > 1 else "")
        raise ValueError(f"{source} holds non-finite weights (NaN or inf) in {where}; the training diverged: {hint}")
