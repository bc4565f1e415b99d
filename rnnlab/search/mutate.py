"""Mutations of cell specs, as in the search of Jozefowicz, Zaremba & Sutskever 2015: replace an
activation, replace a node's operation, insert a node, remove a node, change a node's inputs.

Each mutation is drawn from a seeded :class:`random.Random`, works on a copy, drops the nodes that no
output reads any more, and is kept only if the result is a valid spec (:func:`validate`, with the
input's width apart from the hidden width, so that a found cell runs on inputs of any size) that
differs from its parent; else another is drawn. So :func:`mutate` always returns a valid new spec.
"""

from __future__ import annotations

import copy
import random

from rnnlab.cells.graph_spec import (
    ACTIVATIONS,
    UNARY,
    VARIADIC,
    SpecError,
    spec_hash,
    topological_order,
    validate,
)

KINDS = ("activation", "operation", "insert", "remove", "inputs")
TRIES = 200  # draws before giving up (every spec with a node has some valid mutation)


class MutationError(ValueError):
    """No valid mutation was found (a spec too small to change)."""


def mutate(spec: dict, rng: random.Random) -> tuple[dict, str]:
    """A valid spec one mutation away from ``spec`` (another graph), and what was done."""
    spec = validate(spec)
    before = spec_hash(spec)
    for _ in range(TRIES):
        kind = rng.choice(KINDS)
        child = copy.deepcopy(spec)
        child.pop("name", None)
        what = _MUTATIONS[kind](child, rng)
        if what is None:
            continue
        _prune(child)
        try:
            child = validate(child)
        except SpecError:
            continue
        if spec_hash(child) != before:
            return child, what
    raise MutationError("cell spec: no valid mutation found")


# ------------------------------------------------------------------ the graph's shape
def _widths(spec: dict) -> dict[str, str]:
    widths = {"x": "D", "h": "H", **{s: "H" for s in spec["slots"]}}
    for name in topological_order(spec):
        node = spec["nodes"][name]
        widths[name] = "H" if node["op"] == "linear" else widths[node["in"][0]]
    return widths


def _downstream(spec: dict, start: str) -> set[str]:
    """``start`` and every node that reads it, directly or not (reading them would make a cycle)."""
    readers: dict[str, list[str]] = {}
    for name, node in spec["nodes"].items():
        for i in node["in"]:
            readers.setdefault(i, []).append(name)
    seen, todo = set(), [start]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(readers.get(n, ()))
    return seen


def _sources(spec: dict, node: str, width: str, widths: dict[str, str]) -> list[str]:
    """What ``node`` may read instead at ``width``: inputs and nodes not downstream of it."""
    banned = _downstream(spec, node)
    return [s for s, w in widths.items() if w == width and s not in banned]


def _prune(spec: dict) -> None:
    """Drop the nodes no output reads."""
    used, todo = set(), list(spec["outputs"].values())
    while todo:
        n = todo.pop()
        if n in spec["nodes"] and n not in used:
            used.add(n)
            todo.extend(spec["nodes"][n]["in"])
    spec["nodes"] = {k: v for k, v in spec["nodes"].items() if k in used}


def _new_name(spec: dict) -> str:
    k = len(spec["nodes"])
    while f"m{k}" in spec["nodes"]:
        k += 1
    return f"m{k}"


# ------------------------------------------------------------------ the mutations
def _activation(spec: dict, rng: random.Random) -> str | None:
    names = [n for n, node in spec["nodes"].items() if node["op"] in ACTIVATIONS]
    if not names:
        return None
    name = rng.choice(sorted(names))
    old = spec["nodes"][name]["op"]
    spec["nodes"][name]["op"] = rng.choice([a for a in ACTIVATIONS if a != old])
    return f"activation of {name}: {old} -> {spec['nodes'][name]['op']}"


def _operation(spec: dict, rng: random.Random) -> str | None:
    name = rng.choice(sorted(spec["nodes"]))
    node = spec["nodes"][name]
    old = node["op"]
    if old in UNARY:
        choices = [u for u in UNARY if u != old]
    else:  # linear, add, mul: two or more inputs (linear: of any widths, add and mul: of one)
        choices = [op for op in ("linear", *VARIADIC) if op != old]
        if len(node["in"]) < 2:
            choices = [op for op in choices if op == "linear"]
    if not choices:
        return None
    node["op"] = rng.choice(choices)
    if node["op"] != "linear":
        node.pop("bias", None)
    return f"operation of {name}: {old} -> {node['op']}"


def _insert(spec: dict, rng: random.Random) -> str | None:
    """A new node on one input of a node: an activation or 1 - a of it, or a linear map, sum or
    product of it and another source."""
    widths = _widths(spec)
    name = rng.choice(sorted(spec["nodes"]))
    node = spec["nodes"][name]
    pos = rng.randrange(len(node["in"]))
    source = node["in"][pos]
    new = _new_name(spec)
    op = rng.choice(("unary", "linear", *VARIADIC))
    if op == "unary":
        entry = {"op": rng.choice(UNARY), "in": [source]}
    else:
        width = widths[source] if op in VARIADIC else rng.choice(sorted(set(widths.values())))
        others = [s for s in _sources(spec, name, width, widths) if s != source]
        if not others:
            return None
        entry = {"op": op, "in": [source, rng.choice(sorted(others))]}
    spec["nodes"][new] = entry
    node["in"][pos] = new
    return f"insert {new} = {entry['op']}({', '.join(entry['in'])}) into {name}"


def _remove(spec: dict, rng: random.Random) -> str | None:
    """A node replaced, wherever it is read, by one of its inputs."""
    name = rng.choice(sorted(spec["nodes"]))
    node = spec["nodes"].pop(name)
    by = rng.choice(node["in"])
    for other in spec["nodes"].values():
        other["in"] = [by if i == name else i for i in other["in"]]
        if other["op"] == "linear" and len(set(other["in"])) != len(other["in"]):
            other["in"] = list(dict.fromkeys(other["in"]))
    for key, target in spec["outputs"].items():
        if target == name:
            if by not in spec["nodes"]:
                return None  # an output must name a node
            spec["outputs"][key] = by
    return f"remove {name} (read {by} instead)"


def _inputs(spec: dict, rng: random.Random) -> str | None:
    widths = _widths(spec)
    name = rng.choice(sorted(spec["nodes"]))
    node = spec["nodes"][name]
    pos = rng.randrange(len(node["in"]))
    old = node["in"][pos]
    width = widths[old]
    choices = [s for s in _sources(spec, name, width, widths) if s != old and s not in node["in"]]
    if node["op"] == "linear":  # a linear map reads any width
        choices = [
            s for s in _sources(spec, name, "D", widths) + _sources(spec, name, "H", widths) if s not in node["in"]
        ]
    if not choices:
        return None
    node["in"][pos] = rng.choice(sorted(set(choices)))
    return f"input of {name}: {old} -> {node['in'][pos]}"


_MUTATIONS = {
    "activation": _activation,
    "operation": _operation,
    "insert": _insert,
    "remove": _remove,
    "inputs": _inputs,
}
