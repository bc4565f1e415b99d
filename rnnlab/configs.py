"""Dataclass configurations: the single source of defaults, turned into CLI flags and JSON.

Each field may carry ``metadata={"help": ...}``; :func:`add_flags` makes ``--field-name`` flags
from them (default ``None`` so that only what the user typed overrides), :func:`from_args`
collects them, and :func:`from_dict` rebuilds a config from JSON, refusing unknown keys.
:func:`check_fields` holds every field to its annotated type (a ``float`` field to a finite
number); each config's ``validate`` starts with it and then checks the ranges.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import types
import typing
from collections.abc import Collection, Iterable
from typing import Any, TypeVar

from rnnlab import checks

T = TypeVar("T")


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """``(kind, optional)`` of a field's annotation: ``float | None`` -> ``(float, True)``,
    ``dict[str, Any]`` -> ``(dict, False)``."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1
    if optional:
        hint = args[0]
    return typing.get_origin(hint) or hint, optional


def field_kind(cls: type, name: str) -> Any:
    """The type of field ``name`` of dataclass ``cls``, without ``| None`` or type arguments."""
    return _unwrap(typing.get_type_hints(cls)[name])[0]


def _finite_inside(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite_inside(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_finite_inside(v) for v in value)
    return True


_EXPECTED = {
    float: "a finite number",
    int: "an integer",
    bool: "true or false",
    str: "a string",
    dict: "a JSON object of finite numbers",
}


def _of_kind(value: Any, kind: Any) -> bool:
    if kind is float:
        return checks.is_finite(value)
    if kind is int:
        return checks.is_integer(value)
    return not isinstance(kind, type) or (isinstance(value, kind) and _finite_inside(value))


def check_fields(config: Any) -> None:
    """Refuse a field of dataclass ``config`` whose value is not of its annotated type.

    A ``float`` field takes a finite number (an int too; not ``inf``, ``NaN`` or a bool), an
    ``int`` field an int (not a bool), a ``dict`` or ``list`` field one whose numbers are all
    finite; ``None`` only where the annotation allows it.

    Raises:
        ValueError: ``"<field>: expected <what>, got <value>"``.
    """
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        kind, optional = _unwrap(hints[f.name])
        value = getattr(config, f.name)
        if not (value is None and optional) and not _of_kind(value, kind):
            checks.fail(f.name, _EXPECTED.get(kind, getattr(kind, "__name__", str(kind))), value)


def validate_before_data(config: Any, sizes: Iterable[str]) -> None:
    """Run ``config.validate()`` with each of ``sizes`` (vocabulary, classes, ..., which the data
    fixes later) set to 2, so that a bad architecture is refused before any data is read; a config
    with a ``fixes(size)`` method sets only the sizes its architecture has (a tagger without an
    intent head has no intents)."""
    fixes = getattr(config, "fixes", lambda size: True)
    dataclasses.replace(config, **{size: 2 for size in sizes if fixes(size)}).validate()


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_json_dict(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}") from e
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def flag_parser(kind: Any) -> Any:
    """The argparse ``type`` of a flag for a field of type ``kind`` (see :func:`field_kind`)."""
    return {bool: _parse_bool, dict: parse_json_dict}.get(kind, kind)


def add_flags(
    group: Any,
    cls: type,
    skip: tuple[str, ...] = (),
    defaults: dict[str, Any] | None = None,
    varies: Collection[str] = (),
) -> None:
    """Add one ``--field-name`` flag per field of dataclass ``cls`` (except ``skip``) to ``group``
    (a parser or an argument group), plus the names in a field's ``metadata["flags"]``.

    Every flag defaults to ``None``, so that only what the user typed overrides; the help shows
    ``defaults[name]`` where given (the task's own default), else the field's; for the names in
    ``varies`` (defaults that depend on what is trained) it refers to the list below the flags.
    A ``bool`` flag alone means true (``--stop-at-target``) and also takes a value
    (``--bidirectional false``).
    """
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind = field_kind(cls, f.name)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        shown = (defaults or {}).get(f.name, default)
        help_text = f.metadata.get("help", "")
        shown = "per task, see below" if f.name in varies else shown
        help_text += f" (default: {shown})" if "default" not in help_text else ""
        names = tuple(dict.fromkeys((*f.metadata.get("flags", ()), "--" + f.name.replace("_", "-"))))
        extra = {"nargs": "?", "const": True} if kind is bool else {}
        group.add_argument(
            *names,
            dest=f.name,
            type=flag_parser(kind),
            default=None,
            metavar=f.metadata.get("metavar", getattr(kind, "__name__", "VALUE").upper()),
            help=help_text,
            **extra,
        )


def given_fields(args: argparse.Namespace, *classes: type) -> dict[str, Any]:
    """The fields of ``classes`` that the user set on the command line (flags of :func:`add_flags`)."""
    names = [f.name for cls in classes for f in dataclasses.fields(cls)]
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def from_args(cls: type[T], args: argparse.Namespace, base: T | None = None) -> T:
    """A ``cls`` from ``base`` (or the defaults) with the flags the user gave."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name, None) is not None}
    return dataclasses.replace(base, **given) if base is not None else cls(**given)


def from_dict(cls: type[T], data: dict, what: str) -> T:
    """Rebuild ``cls`` from a JSON object; unknown keys, and values not of their field's type
    (:func:`check_fields`), are an error naming them."""
    if not isinstance(data, dict):
        raise ValueError(f"{what}: expected a JSON object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{what}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    config = cls(**data)
    check_fields(config)
    return config
