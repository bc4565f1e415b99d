"""``listops``: nested list operations over digits, with their gold trees (Nangia & Bowman 2018,
"ListOps: A Diagnostic Dataset for Latent Tree Learning").

An expression is a list ``(OP a_1 ... a_n)`` whose arguments are digits ``0``..``9`` or lists;
its value is a digit:

- ``MAX`` and ``MIN``: the largest and the smallest argument;
- ``MED``: the median, rounded down when it falls between two arguments (the paper's generator
  takes ``int(numpy.median(...))``);
- ``SM``: the sum modulo 10.

Written with brackets as :mod:`rnnlab.data.trees` reads them, ``(MAX 2 9 (MIN 4 7) 0)`` (value 9),
the expression is its own gold tree: a node per list, labelled by its operator, and a leaf per
digit. The label of an example is the value of the whole expression (10 classes).

Generation (:func:`generate`), seeded: a list has 2 to ``max_args`` arguments (5 by default); each
argument is a new list with probability ``branch`` (0.25) while the depth allows (``max_depth``, 10
lists deep at most), else a digit; operators and digits are uniform. :func:`make_listops` draws
distinct expressions and deals them into splits, so no expression is in two splits. The paper's
point: a sequential LSTM reaches about 70% test accuracy while a Tree-LSTM given these trees is
near perfect.
"""

from __future__ import annotations

import random

from rnnlab.data.corpora import DataError
from rnnlab.data.trees import Tree, to_text

OPERATORS = ("MAX", "MIN", "MED", "SM")
DEFAULT_SIZES = {"train": 20_000, "valid": 2_000, "test": 2_000}
SPLITS = ("train", "valid", "test")


def apply(op: str, values: list[int]) -> int:
    """The digit ``op`` gives for argument values ``values``."""
    if op == "MAX":
        return max(values)
    if op == "MIN":
        return min(values)
    if op == "SM":
        return sum(values) % 10
    if op == "MED":
        ordered = sorted(values)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) // 2
    raise DataError(f"listops: unknown operator {op!r}; expected one of {', '.join(OPERATORS)}")


def value(tree: Tree) -> int:
    """The value of a ListOps tree (computed without recursion, so deep trees are fine).

    Raises:
        DataError: a leaf that is not a digit, an operator that is not known, a list without arguments.
    """
    return node_values(tree)[0]


def node_values(tree: Tree) -> list[int]:
    """The value of every node of a ListOps tree (a digit's own, a list's), in :meth:`Tree.nodes` order.

    Raises:
        DataError: as :func:`value`.
    """
    order = list(tree.nodes())
    values: dict[int, int] = {}
    for node in reversed(order):  # children before their parents
        if node.is_leaf:
            if len(node.label) != 1 or node.label not in "0123456789":
                raise DataError(f"listops: {node.label!r} is neither a digit nor a list")
            values[id(node)] = int(node.label)
        else:
            values[id(node)] = apply(node.label, [values[id(c)] for c in node.children])
    return [values[id(node)] for node in order]


def generate(rng: random.Random, max_depth: int = 10, max_args: int = 5, branch: float = 0.25) -> Tree:
    """One random expression (see the module docstring); its root is always a list."""
    root = Tree(rng.choice(OPERATORS))
    pending = [(root, 1)]  # lists whose arguments are still to draw, with their depth
    while pending:
        node, depth = pending.pop()
        for _ in range(rng.randint(2, max_args)):
            if depth < max_depth and rng.random() < branch:
                child = Tree(rng.choice(OPERATORS))
                pending.append((child, depth + 1))
            else:
                child = Tree(str(rng.randrange(10)))
            node.children.append(child)
    return root


def make_listops(seed: int = 0, sizes: dict[str, int] | None = None, **options) -> dict[str, list[Tree]]:
    """Distinct expressions dealt into ``train``, ``valid`` and ``test`` (sizes: :data:`DEFAULT_SIZES`).

    Args:
        seed: the same seed gives the same expressions.
        sizes: expressions per split.
        options: ``max_depth``, ``max_args``, ``branch`` of :func:`generate`.
    """
    sizes = dict(DEFAULT_SIZES if sizes is None else sizes)
    unknown = sorted(set(sizes) - set(SPLITS))
    if unknown:
        raise DataError(f"listops: unknown split {unknown[0]!r}; expected some of {', '.join(SPLITS)}")
    rng = random.Random(f"listops:{seed}")
    wanted = sum(sizes.values())
    seen: set[str] = set()
    drawn: list[Tree] = []
    for _ in range(50 * wanted + 1000):  # distinct expressions; short ones repeat now and then
        if len(drawn) == wanted:
            break
        tree = generate(rng, **options)
        text = to_text(tree)
        if text not in seen:
            seen.add(text)
            drawn.append(tree)
    if len(drawn) < wanted:
        raise DataError(f"listops: only {len(drawn):,} distinct expressions of {wanted:,} could be drawn")
    out, start = {}, 0
    for name in SPLITS:
        out[name] = drawn[start : start + sizes.get(name, 0)]
        start += sizes.get(name, 0)
    return out
