"""Cells named ``graph:SPEC``: a cell read from a graph spec, wherever a cell name is taken.

``graph:lstm`` names a spec shipped in ``rnnlab/cells/specs`` (:func:`builtin_specs`), anything
else after ``graph:`` a JSON file (``graph:./lstm`` for a file that shadows a built-in name).
:func:`resolve` reads the spec once and returns the registered cell ``"graph"`` with the spec in
its options; the configs do so when they are made (:class:`ResolvesCell`), so a run's
``config.json`` holds the spec itself and the run no longer needs the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rnnlab.cells.graph_spec import SpecError, validate_structure

GRAPH = "graph"
PREFIX = GRAPH + ":"
SPEC_DIR = Path(__file__).with_name("specs")


def builtin_specs() -> list[str]:
    """The names of the specs shipped with rnnlab (``lstm``, ``gru``, ``mut1``, ...)."""
    return sorted(p.stem for p in SPEC_DIR.glob("*.json"))


def load_spec(ref: str) -> dict:
    """The spec ``ref`` names (a built-in name or a JSON file), checked but for the widths, which
    wait for the sizes (:class:`rnnlab.cells.graph.GraphCell`).

    Raises:
        ValueError: one line naming the file and what is wrong with it (the node at fault).
    """
    builtin = ref in builtin_specs()
    path = SPEC_DIR / f"{ref}.json" if builtin else Path(ref)
    where = f"built-in cell spec {ref!r}" if builtin else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ValueError(
            f"{PREFIX}{ref}: cannot read {path} ({reason}); built-in specs: {', '.join(builtin_specs())}"
        ) from None
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not JSON ({e})") from None
    try:
        return validate_structure(spec)
    except SpecError as e:
        raise SpecError(f"{where}: {e}") from None


def resolve(cell: Any, options: Any = None) -> tuple[Any, Any]:
    """``(name, options)`` to build: ``graph:SPEC`` becomes ``("graph", {**options, "spec": spec})``;
    any other name (or a value of the wrong type, left to the config's checks) is returned as it is."""
    options = {} if options is None else options
    if isinstance(cell, str) and cell.startswith(PREFIX) and isinstance(options, dict):
        return GRAPH, {**options, "spec": load_spec(cell[len(PREFIX) :])}
    return cell, options


def label(cell: str) -> str:
    """A cell's name fit for a folder or a table: ``graph:specs/a.json`` -> ``graph-a``."""
    return f"{GRAPH}-{Path(cell[len(PREFIX) :]).stem}" if cell.startswith(PREFIX) else cell


def build_options(cell: str, options: dict) -> dict:
    """Of ``options``, what ``cell`` cannot be built without (a graph's spec), for a module that
    shares the cell but not its other options."""
    return {"spec": options["spec"]} if cell == GRAPH and "spec" in options else {}


class ResolvesCell:
    """Mixin of the configs with ``cell`` and ``cell_options``: a ``graph:SPEC`` cell is read when
    the config is made and kept as ``"graph"`` with the spec in ``cell_options``."""

    def __post_init__(self) -> None:
        self.cell, self.cell_options = resolve(self.cell, self.cell_options)
