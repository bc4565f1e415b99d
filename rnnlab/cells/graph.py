"""A cell built from a graph spec (:mod:`rnnlab.cells.graph_spec`): a recurrent cell as data.

Each ``linear`` node owns one weight matrix per input (``H x width``) and one bias (``H``), kept
as ``nodes.NODE.weight.INPUT`` and ``nodes.NODE.bias``, so that a state dict reads like the spec
(``nodes.f.weight.h``). Every parameter starts uniform in ``[-1/sqrt(H), 1/sqrt(H)]`` as in the
built-in cells; a node's ``"bias"`` value sets its bias (an LSTM's forget gate: 1).

The forward pass evaluates the nodes in topological order. The terms of the linear nodes that read
the step's inputs (``x``, ``h``, the slots) come first: one matrix product per input over all the
nodes that read it (their matrices concatenated), the biases added with the first product that
reaches every such node, or node by node otherwise. A linear node that reads other nodes adds their
products when its turn comes. Sigmoid nodes are reported as gates (:func:`rnnlab.cells.gates.record`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnlab.cells.base import Cell, State, uniform_
from rnnlab.cells.gates import record
from rnnlab.cells.graph_spec import H, SpecError, X, spec_hash, topological_order, validate, validate_structure

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
        try:
            self.spec = validate(spec, input_size, hidden_size)
        except SpecError as e:
            validate_structure(spec)  # a structural fault is reported as it is
            raise SpecError(f"{e} (input_size {input_size} != hidden_size {hidden_size})") from None
        self.slots = tuple(self.spec["slots"])
        self.hash = spec_hash(self.spec)
        self.order = topological_order(self.spec)
        self.sources = (X, H, *self.slots)
        width = {X: input_size, **dict.fromkeys(self.sources[1:], hidden_size)}
        factory = {"device": device, "dtype": dtype}
        linear = {}
        for name in self.order:
            node = self.spec["nodes"][name]
            if node["op"] == "linear":
                linear[name] = LinearNode({i: width[i] for i in node["in"]}, hidden_size, factory)
            width[name] = hidden_size if node["op"] == "linear" else width[node["in"][0]]
        self.nodes = Table(linear)
        self._plan()
        self.reset_parameters()

    def _plan(self) -> None:
        """Group the linear nodes' terms that read the step's inputs: one product per input."""
        ins = {n: self.spec["nodes"][n]["in"] for n, _ in self.nodes.items()}
        self.front = [n for n in ins if any(i in self.sources for i in ins[n])]
        groups = [(s, [n for n in self.front if s in ins[n]]) for s in self.sources]
        groups = [g for g in groups if g[1]]
        groups.sort(key=lambda g: len(g[1]) != len(self.front))  # one reaching every node first
        self.groups = groups
        self.biased_first = bool(groups) and len(groups[0][1]) == len(self.front)
        self.gates = [n for n in self.order if self.spec["nodes"][n]["op"] == "sigmoid"]

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
        H, terms = self.hidden_size, {}
        for k, (source, readers) in enumerate(self.groups):
            blocks = [self.nodes[n].weight[source] for n in readers]
            w = blocks[0] if len(blocks) == 1 else torch.cat(blocks)
            if k == 0 and self.biased_first:
                biases = [self.nodes[n].bias for n in readers]
                b = biases[0] if len(biases) == 1 else torch.cat(biases)
                out = torch.addmm(b, values[source], w.t())
            else:
                out = values[source] @ w.t()
            for n, part in zip(readers, out.split(H, dim=1)):
                terms[n] = part if n not in terms else terms[n] + part
        if not self.biased_first:
            terms = {n: t + self.nodes[n].bias for n, t in terms.items()}
        return terms

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        values: dict[str, Any] = dict(zip(self.sources, (x, *state)))
        terms = self._front_terms(values)
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

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, spec={self.spec.get('name', 'unnamed')!r}, hash={self.hash}"
