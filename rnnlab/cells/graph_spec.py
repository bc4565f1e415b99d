"""A recurrent cell as data: a small graph spec (JSON), its validation and its canonical hash.

A spec names the cell's inputs, its nodes and which nodes become the new state::

    {"name": "gru",                     # optional, not part of the graph
     "slots": [],                       # memory besides h (an LSTM has ["c"]), each of H units
     "nodes": {
        "z": {"op": "linear", "in": ["x", "h"]},   # W_zx x + W_zh h + b_z: H units
        "zg": {"op": "sigmoid", "in": ["z"]},
        ...},
     "outputs": {"h": "new_h"}}         # the new h and one entry per slot

The inputs are ``x`` (the step's input, D units), ``h`` and the slots (H units each). The
operations follow Jozefowicz, Zaremba & Sutskever 2015 ("An Empirical Exploration of Recurrent
Network Architectures"): ``linear`` (one weight matrix per input and one bias; H units; an optional
``"bias": number`` sets the bias's initial value, as a forget-gate bias of 1), ``add`` and ``mul``
(element-wise, two or more inputs of one width), ``one_minus`` (``1 - a``) and the activations
``tanh``, ``sigmoid``, ``relu`` and ``identity``. Widths are checked symbolically: ``x`` has D
units, everything read from ``h``, a slot or a ``linear`` node H, and the element-wise operations
keep their inputs' width; with ``input_size == hidden_size`` the two agree (MUT1 adds ``tanh(x)``
to an H-unit sum; with another input size, :class:`rnnlab.cells.graph.GraphCell` gives such a
spec a learned projection of ``x``).

:func:`validate` names the node at fault for an unknown operation, a wrong number of inputs, a
dangling input, a cycle, widths that disagree or a node no output reads. :func:`canonical` renames
the nodes by their place in the graph (commutative inputs sorted), so that specs that differ only
in names, key order or the order of a sum's terms have one :func:`spec_hash`.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

UNARY = ("tanh", "sigmoid", "relu", "identity", "one_minus")
ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity")
VARIADIC = ("add", "mul")  # two or more inputs of one width
OPS = ("linear", *VARIADIC, *UNARY)
COMMUTATIVE = ("linear", *VARIADIC)  # the order of the inputs does not matter
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
X, H = "x", "h"


class SpecError(ValueError):
    """A cell spec that cannot be built; the message names the node at fault."""


def _fail(message: str) -> None:
    raise SpecError(f"cell spec: {message}")


def _names(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _fail(f"{what}: expected a list of names, got {value!r}")
    return value


def sources(spec: dict) -> tuple[str, ...]:
    """The names a node may read besides other nodes: ``x``, ``h`` and the slots."""
    return (X, H, *spec.get("slots", []))


def validate(spec: Any, input_size: int | None = None, hidden_size: int | None = None) -> dict:
    """The spec, checked and normalised (``slots`` present, ``in`` lists, nothing else kept but
    ``name``); :class:`SpecError` naming the node at fault otherwise. With both sizes given and
    equal, the input's width is the hidden width."""
    if not isinstance(spec, dict):
        _fail(f"expected a JSON object with nodes and outputs, got {type(spec).__name__}")
    unknown = sorted(set(spec) - {"name", "slots", "nodes", "outputs"})
    if unknown:
        _fail(f"unknown key(s) {', '.join(unknown)} (known: name, slots, nodes, outputs)")
    slots = _names(spec.get("slots", []), "slots")
    nodes, outputs = spec.get("nodes"), spec.get("outputs")
    if not isinstance(nodes, dict) or not nodes:
        _fail("nodes: expected an object of at least one node")
    if not isinstance(outputs, dict):
        _fail('outputs: expected an object {"h": NODE, SLOT: NODE, ...}')
    reserved = (X, H, *slots)
    for name in [*slots, *nodes]:
        if not _NAME.match(name):
            _fail(f"{name!r}: a name is letters, digits and _, not starting with a digit")
    if len(set(slots)) != len(slots) or {X, H} & set(slots):
        _fail(f"slots: names must be distinct and not x or h, got {slots}")
    clean = {"name": spec["name"]} if "name" in spec else {}
    clean.update(slots=list(slots), nodes={}, outputs={})
    for name, node in nodes.items():
        if name in reserved:
            _fail(f"node {name!r}: the name of an input (x, h or a slot)")
        clean["nodes"][name] = _node(name, node, set(nodes) | set(reserved), reserved)
    missing = [k for k in (H, *slots) if k not in outputs]
    extra = sorted(set(outputs) - {H, *slots})
    if missing or extra:
        _fail(
            f"outputs: expected h{''.join(', ' + s for s in slots)}; "
            + (f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(extra)}")
        )
    for key in (H, *slots):
        target = outputs[key]
        if not isinstance(target, str) or target not in nodes:
            _fail(f"outputs: {key} must name a node, got {target!r}")
        clean["outputs"][key] = target
    order = topological_order(clean)
    same = input_size is not None and input_size == hidden_size
    widths = _widths(clean, order, same)
    for key, target in clean["outputs"].items():
        if widths[target] != "H":
            _fail(f"outputs: {key} needs H units; node {target!r} has the input's width (D)")
    used = _read_by_outputs(clean)
    for name in order:
        if name not in used:
            _fail(f"node {name!r}: no output reads it")
    for name in (X, H, *slots):
        if name not in used:
            _fail(f"the cell never reads {name}")
    return clean


def validate_structure(spec: Any) -> dict:
    """:func:`validate` without the width rule (as if ``input_size == hidden_size``): what can be
    checked before the sizes are known, and all that a spec's identity (:func:`canonical`) needs."""
    return validate(spec, 1, 1)


def _node(name: str, node: Any, known: set[str], reserved: tuple[str, ...]) -> dict:
    if not isinstance(node, dict):
        _fail(f"node {name!r}: expected an object with op and in")
    op, inputs = node.get("op"), node.get("in")
    if op not in OPS:
        _fail(f"node {name!r}: unknown operation {op!r} (known: {', '.join(OPS)})")
    extra = sorted(set(node) - {"op", "in", "bias"})
    if extra or ("bias" in node and op != "linear"):
        _fail(f"node {name!r}: unknown key(s) {', '.join(extra or ['bias'])} for {op}")
    inputs = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
        _fail(f"node {name!r}: in: expected a list of inputs, got {node.get('in')!r}")
    if op in UNARY and len(inputs) != 1:
        _fail(f"node {name!r}: {op} takes one input, got {len(inputs)}")
    if op in VARIADIC and len(inputs) < 2:
        _fail(f"node {name!r}: {op} takes two or more inputs, got {len(inputs)}")
    if op == "linear" and len(set(inputs)) != len(inputs):
        _fail(f"node {name!r}: linear reads each input once (one weight matrix each)")
    for i in inputs:
        if i not in known:
            _fail(f"node {name!r}: input {i!r} is neither a node nor {', '.join(reserved)}")
    out = {"op": op, "in": list(inputs)}
    if "bias" in node:
        bias = node["bias"]
        if isinstance(bias, bool) or not isinstance(bias, (int, float)) or bias != bias or abs(bias) == float("inf"):
            _fail(f"node {name!r}: bias: expected a finite number, got {bias!r}")
        out["bias"] = float(bias)
    return out


def topological_order(spec: dict) -> list[str]:
    """The nodes, each after the nodes it reads (a depth-first order from the spec's order);
    :class:`SpecError` naming a node of a cycle."""
    nodes, order, state = spec["nodes"], [], {}
    for start in nodes:
        stack = [(start, iter(nodes[start]["in"]))]
        if state.get(start):
            continue
        state[start] = "open"
        while stack:
            name, rest = stack[-1]
            nxt = next((i for i in rest if i in nodes and state.get(i) != "done"), None)
            if nxt is None:
                state[name] = "done"
                order.append(name)
                stack.pop()
            elif state.get(nxt) == "open":
                path = [n for n, _ in stack]
                cycle = path[path.index(nxt) :] + [nxt]
                _fail(f"node {nxt!r}: in a cycle ({' -> '.join(reversed(cycle))})")
            else:
                state[nxt] = "open"
                stack.append((nxt, iter(nodes[nxt]["in"])))
    return order


def _widths(spec: dict, order: list[str], same: bool) -> dict[str, str]:
    """Each name's width, ``"D"`` (the input's) or ``"H"``; with ``same``, all are H."""
    widths = {X: "H" if same else "D", H: "H", **{s: "H" for s in spec["slots"]}}
    for name in order:
        node = spec["nodes"][name]
        ins = [widths[i] for i in node["in"]]
        if node["op"] != "linear" and len(set(ins)) > 1:
            listed = ", ".join(f"{i} ({w})" for i, w in zip(node["in"], ins))
            _fail(f"node {name!r}: {node['op']} of inputs of different widths: {listed}")
        widths[name] = "H" if node["op"] == "linear" else ins[0]
    return widths


def _read_by_outputs(spec: dict) -> set[str]:
    seen, todo = set(), list(spec["outputs"].values())
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(spec["nodes"][name]["in"] if name in spec["nodes"] else ())
    return seen


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def _without_identities(spec: dict) -> dict:
    """The same computation without its ``identity`` nodes (each reader reads the node's input), but
    for one kept where an output would otherwise name an input (``h' = identity(h)``) or a linear map
    would read one thing twice."""
    nodes = spec["nodes"]

    def through(name: str) -> str:
        while name in nodes and nodes[name]["op"] == "identity":
            name = nodes[name]["in"][0]
        return name

    kept = {
        n: {**node, "in": [through(i) for i in node["in"]]} for n, node in nodes.items() if node["op"] != "identity"
    }
    if any(node["op"] == "linear" and len(set(node["in"])) != len(node["in"]) for node in kept.values()):
        return spec
    outputs = {}
    for key, target in spec["outputs"].items():
        source = through(target)
        if source not in kept:  # an output is a node: the identity of an input stays
            kept[target], source = {"op": "identity", "in": [source]}, target
        outputs[key] = source
    return {**spec, "nodes": kept, "outputs": outputs}


def canonical(spec: dict) -> dict:
    """The spec with nodes renamed ``n0, n1, ...`` and slots ``s0, s1, ...`` in an order fixed by the
    graph's structure, commutative inputs sorted, and no name: equal graphs, one form (``identity``
    nodes, which compute nothing, left out where they can be).

    Nodes are told apart by colour refinement (each node's colour gathers its operation, its
    inputs' colours and its readers' colours until nothing changes); nodes still alike (as an LSTM's
    three gates before their readers differ them) are taken one at a time, each given a colour of its
    own and the refinement run again, so the order does not depend on the spec's names. The slots
    are ordered likewise, by the colours of the node each becomes and of the nodes reading it.
    """
    spec = _without_identities(validate_structure(spec))
    nodes = spec["nodes"]
    readers: dict[str, list[tuple[str, int]]] = {n: [] for n in nodes}
    for name, node in nodes.items():
        for pos, i in enumerate(node["in"]):
            if i in nodes:
                readers[i].append((name, pos))

    def refine(colour: dict[str, str], rename: dict[str, str]) -> dict[str, str]:
        for _ in range(len(nodes) + 1):
            new = {}
            for n, node in nodes.items():
                ins = [colour.get(i, rename.get(i)) for i in node["in"]]
                if node["op"] in COMMUTATIVE:
                    ins = sorted(ins)
                users = sorted([colour[u], pos if nodes[u]["op"] not in COMMUTATIVE else 0] for u, pos in readers[n])
                new[n] = _digest([colour[n], ins, users])
            if len(set(new.values())) == len(set(colour.values())):
                return new
            colour = new
        return colour

    def colours(rename: dict[str, str]) -> dict[str, str]:
        exported = {n: sorted(rename[k] for k, v in spec["outputs"].items() if v == n) for n in nodes}
        return refine({n: _digest([nodes[n]["op"], nodes[n].get("bias"), exported[n]]) for n in nodes}, rename)

    # the slots' order: by the colours (every slot alike) of the node each becomes and of its readers
    alike = colours({X: X, H: H, **dict.fromkeys(spec["slots"], "s")})

    def slot_key(slot: str) -> list:
        return [alike[spec["outputs"][slot]], sorted(alike[n] for n in nodes if slot in nodes[n]["in"])]

    slots = {s: f"s{i}" for i, s in enumerate(sorted(spec["slots"], key=slot_key))}
    rename = {X: X, H: H, **slots}
    colour = colours(rename)
    fixed: dict[str, str] = {}

    while len(fixed) < len(nodes):
        ranked = sorted((c, n) for n, c in colour.items() if n not in fixed)
        c, n = ranked[0]
        fixed[n] = f"n{len(fixed)}"
        if sum(1 for v in colour.values() if v == c) > 1:  # alike nodes: this one first, then refine
            colour = refine({**colour, n: _digest([c, "first"])}, rename)
    rename.update(fixed)
    out_nodes = {}
    for name, node in nodes.items():
        ins = [rename[i] for i in node["in"]]
        entry = {"op": node["op"], "in": sorted(ins) if node["op"] in COMMUTATIVE else ins}
        if "bias" in node:
            entry["bias"] = node["bias"]
        out_nodes[rename[name]] = entry
    ordered = dict(sorted(out_nodes.items(), key=lambda kv: int(kv[0][1:])))
    return {
        "slots": sorted(slots.values(), key=lambda s: int(s[1:])),
        "nodes": ordered,
        "outputs": {rename.get(k, k): rename[v] for k, v in spec["outputs"].items()},
    }


def spec_hash(spec: dict) -> str:
    """A short hash of the graph (of :func:`canonical`): equal graphs, one hash."""
    return _digest(canonical(spec))
