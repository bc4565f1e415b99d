"""A cell built from a graph spec (:mod:`rnnlab.cells.graph_spec`): a recurrent cell as data.

Each ``linear`` node owns one weight matrix per input (``H x width``) and one bias (``H``), kept
as ``nodes.NODE.weight.INPUT`` and ``nodes.NODE.bias``, so that a state dict reads like the spec
(``nodes.f.weight.h``). Every parameter starts uniform in ``[-1/sqrt(H), 1/sqrt(H)]`` as in the
built-in cells; a node's ``"bias"`` value sets its bias (an LSTM's forget gate: 1).

The forward pass evaluates the nodes in topological order. The terms of the linear nodes that read
the step's inputs (``x``, ``h``, the slots) come first: the inputs read by the same nodes share one
output, onto which each adds one matrix product (``addmm``) with the matrices of all those nodes
concatenated (once per sequence on the step loop, see :meth:`GraphCell.sequence`); each node's
bias starts the first such output that holds it. A linear node that reads other nodes adds their
products when its turn comes. A spec whose widths agree only when D == H (``x`` combined
element-wise with H-unit values, as in MUT1 and MUT2) gets, for another input size, one learned
``projection`` (``H x D``): its element-wise nodes read ``projection @ x`` where they read ``x``,
and its linear nodes read ``x`` itself, as the built-in MUT cells do. Sigmoid nodes are reported
as gates (:func:`rnnlab.cells.gates.record`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from rnnlab.cells.base import Cell, State, uniform_
from rnnlab.cells.gates import record
from rnnlab.cells.graph_spec import H, SpecError, X, spec_hash, topological_order, validate, validate_structure

_sequences = threading.local()  # per thread: {id(cell): {key: joined matrix}} inside GraphCell.sequence
_UNARY = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "identity": lambda a: a,
    "one_minus": lambda a: 1 - a,
}


class Table(nn.Module):
    """Modules or parameters under the spec's names, read as ``table[name]``.

    ``nn.ModuleDict`` and ``nn.ParameterDict`` refuse names their own methods use (``update``,
    ``keys``, ``values``...), which are good names for a node; here the names live only in the
    module's tables, so any name a spec allows is a key.
    """

    def __init__(self, items: dict[str, nn.Module | nn.Parameter]) -> None:
        super().__init__()
        for name, item in items.items():
            (self._parameters if isinstance(item, nn.Parameter) else self._modules)[name] = item

    def __getitem__(self, name: str) -> Any:
        return self._parameters[name] if name in self._parameters else self._modules[name]

    def items(self) -> list[tuple[str, Any]]:
        return [*self._parameters.items(), *self._modules.items()]

    def extra_repr(self) -> str:
        return ", ".join(f"{name}: {tuple(p.shape)}" for name, p in self._parameters.items())


class LinearNode(nn.Module):
    """The parameters of one ``linear`` node: ``weight[INPUT]`` (``H x width``) and ``bias`` (``H``)."""

    def __init__(self, widths: dict[str, int], hidden_size: int, factory: dict) -> None:
        super().__init__()
        self.weight = Table({i: nn.Parameter(torch.empty(hidden_size, w, **factory)) for i, w in widths.items()})
        self.bias = nn.Parameter(torch.empty(hidden_size, **factory))


class GraphCell(Cell):
    """A cell computed by a spec's graph; state ``(h, *slots)``.

    Args:
        input_size: features of ``x_t``.
        hidden_size: features of ``h`` and of each slot.
        spec: the graph (see :mod:`rnnlab.cells.graph_spec`), as loaded from JSON.

    Raises:
        SpecError: (a ``ValueError``) a spec that cannot be built at these sizes, naming the node.
    """

    def __init__(self, input_size: int, hidden_size: int, spec: dict, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size)
        factory = {"device": device, "dtype": dtype}
        self.projection = None
        try:
            self.spec = validate(spec, input_size, hidden_size)
        except SpecError:
            validate_structure(spec)  # a structural fault is reported as it is
            # widths that agree only with D == H: x is combined element-wise with H-unit values
            # (MUT1's tanh(x), MUT2's x + W h), so those uses read a learned projection P x, as the
            # built-in MUT cells do with another input size; linear nodes read x itself
            self.spec = validate(spec, hidden_size, hidden_size)
            self.projection = nn.Parameter(torch.empty(hidden_size, input_size, **factory))
        self.slots = tuple(self.spec["slots"])
        self.hash = spec_hash(self.spec)
        self.order = topological_order(self.spec)
        self.sources = (X, H, *self.slots)
        width = {X: input_size, **dict.fromkeys(self.sources[1:], hidden_size)}
        elementwise_x = input_size if self.projection is None else hidden_size  # x as the other nodes read it
        linear = {}
        for name in self.order:
            node = self.spec["nodes"][name]
            if node["op"] == "linear":
                linear[name] = LinearNode({i: width[i] for i in node["in"]}, hidden_size, factory)
                width[name] = hidden_size
            else:
                width[name] = elementwise_x if node["in"][0] == X else width[node["in"][0]]
        self.nodes = Table(linear)
        self._plan()
        self.reset_parameters()

    def _plan(self) -> None:
        """Bundle the linear nodes' terms that read the step's inputs: the inputs read by the same
        nodes share one output, each input one product (``addmm`` onto the bundle's sum)."""
        ins = {n: self.spec["nodes"][n]["in"] for n, _ in self.nodes.items()}
        self.front = [n for n in ins if any(i in self.sources for i in ins[n])]
        bundles: dict[tuple[str, ...], list[str]] = {}
        for s in self.sources:
            readers = tuple(n for n in self.front if s in ins[n])
            if readers:
                bundles.setdefault(readers, []).append(s)
        biased: set[str] = set()
        self.bundles = []  # (readers, sources, whether each reader's bias is added here)
        for readers, sources in sorted(bundles.items(), key=lambda b: -len(b[0])):
            self.bundles.append((readers, sources, tuple(n not in biased for n in readers)))
            biased.update(readers)
        self.gates = [n for n in self.order if self.spec["nodes"][n]["op"] == "sigmoid"]

    @contextmanager
    def sequence(self) -> Iterator[None]:
        """Join the matrices once for all the steps of the block (per thread; dropped at its end,
        so that parameters changed between sequences, even through ``.data``, are read afresh)."""
        caches = _sequences.__dict__.setdefault("caches", {})
        outer = caches.get(id(self))
        caches[id(self)] = {}
        try:
            yield
        finally:
            if outer is None:
                caches.pop(id(self), None)
            else:
                caches[id(self)] = outer

    def _join(self, key: tuple, parts: list[Tensor | None]) -> Tensor:
        """``torch.cat(parts)`` (``None`` a zero bias), once per :meth:`sequence` block."""
        params = [p for p in parts if p is not None]
        if len(parts) == 1:
            return params[0]
        cache = _sequences.__dict__.get("caches", {}).get(id(self))
        joined = cache.get(key) if cache is not None else None
        if joined is None:
            zero = params[0].new_zeros(self.hidden_size)
            joined = torch.cat([zero if p is None else p for p in parts])
            if cache is not None:
                cache[key] = joined
        return joined

    @property
    def state_spec(self):
        return tuple(((self.hidden_size,), None) for _ in self.sources[1:])

    def reset_parameters(self) -> None:
        uniform_(self, self.hidden_size)
        with torch.no_grad():
            for name, node in self.nodes.items():
                if "bias" in self.spec["nodes"][name]:
                    node.bias.fill_(self.spec["nodes"][name]["bias"])

    def _front_terms(self, values: dict[str, Tensor]) -> dict[str, Tensor]:
        """Each front node's sum of products with the step's inputs, its bias included."""
        terms: dict[str, Tensor] = {}
        for readers, sources, with_bias in self.bundles:
            biases = [self.nodes[n].bias if b else None for n, b in zip(readers, with_bias)]
            out = self._join((readers, "bias"), biases) if any(with_bias) else None
            for s in sources:
                w = self._join((readers, s), [self.nodes[n].weight[s] for n in readers])
                out = values[s] @ w.t() if out is None else torch.addmm(out, values[s], w.t())
            for n, part in zip(readers, out.split(self.hidden_size, dim=1) if len(readers) > 1 else (out,)):
                terms[n] = part if n not in terms else terms[n] + part
        return terms

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        values: dict[str, Any] = dict(zip(self.sources, (x, *state)))
        terms = self._front_terms(values)  # every linear node's product with x is in its terms
        if self.projection is not None:
            values[X] = x @ self.projection.t()  # what the element-wise nodes read as x
        nodes = self.spec["nodes"]
        for name in self.order:
            op, ins = nodes[name]["op"], nodes[name]["in"]
            if op == "linear":
                weight, value = self.nodes[name].weight, terms.get(name)
                for i in ins:
                    if i in self.sources:
                        continue
                    if value is None:
                        value = nn.functional.linear(values[i], weight[i], self.nodes[name].bias)
                    else:
                        value = value + nn.functional.linear(values[i], weight[i])
            elif op == "add":
                value = values[ins[0]] + values[ins[1]]
                for i in ins[2:]:
                    value = value + values[i]
            elif op == "mul":
                value = values[ins[0]] * values[ins[1]]
                for i in ins[2:]:
                    value = value * values[i]
            else:
                value = _UNARY[op](values[ins[0]])
            values[name] = value
        record(self, **{n: values[n] for n in self.gates})
        outputs = self.spec["outputs"]
        h = values[outputs[H]]
        return h, (h, *(values[outputs[s]] for s in self.slots))

    def recurrent_weights(self) -> dict[str, Tensor]:
        """The ``H x H`` matrices that read ``h`` or a slot, as ``{"NODE.INPUT": weight}`` (for the
        spectra of :mod:`rnnlab.diagnose`)."""
        return {
            f"{name}.{i}": node.weight[i]
            for name, node in self.nodes.items()
            for i in self.spec["nodes"][name]["in"]
            if i in self.sources[1:]
        }

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, spec={self.spec.get('name', 'unnamed')!r}, hash={self.hash}"
