"""``programs``: a function's arity read from its body, over the syntax trees (:mod:`ast`) of the
Python standard library.

Every ``def`` and ``async def`` of the standard library's sources (functions and methods, nested
ones too; the files of :func:`rnnlab.data.corpora.stdlib_files`) is one example. Its tree is the
syntax tree of the body alone: the name, the parameters, their defaults and annotations, the return
annotation, the decorators and the docstring are gone; a nested ``def`` or ``class`` stays whole, as
part of the body. Its label is the number of parameters the function takes, ``self`` and ``cls``
included (they are parameters): positional-only, positional, keyword-only, ``*args`` and
``**kwargs`` count one each, in the classes ``0``, ``1``, ``2``, ``3`` and ``4+``.

Why this needs the structure: a parameter is a name the body reads without binding it first, so
counting them is a scoping question over the tree. ``x`` read under a ``Name.Load`` is a parameter
unless an ``Assign``, ``For``, ``with ... as``, ``except ... as``, comprehension or nested ``def``
binds it (and a name bound inside a nested ``def`` or comprehension does not count outside it);
module-level names and builtins are read and never bound too, so which free names are parameters is
left to what the code does with them (``self.`` in front of attributes, a name called, compared,
returned). A parameter the body never reads leaves no trace at all: that is the task's ceiling.

The tree (:mod:`rnnlab.data.trees`): a node per syntax node, labelled by its class name
(``Assign``, ``Call``, ``BinOp``, ``Add``, ``Return`` ...), its children in the order of
:func:`ast.iter_child_nodes`. The root is labelled ``FunctionDef`` or ``AsyncFunctionDef`` and
holds the body's statements. Expression contexts are not nodes: they fold into the label of the
node that carries them (``Name.Load``, ``Name.Store``, ``Attribute.Store``, ``Tuple.Store``,
``Name.Del`` ...), as binding against reading is the point of the task. Identifiers are leaves,
placed among the children in the order of the node's fields: a ``Name``'s identifier, an
attribute's name, a nested ``def``'s or ``class``'s name, an argument's name, a keyword argument's
name, imported names, ``global`` and ``nonlocal`` names, ``except ... as`` names, pattern
captures. A constant is a ``Constant`` node with one leaf, a coarse token: ``<str>``, ``<int>``,
``<float>``, ``<complex>``, ``<bytes>``, ``True``, ``False``, ``None``, ``...``. So
``return self.size + 1`` is ``(Return (BinOp (Attribute.Load (Name.Load self) size) Add (Constant
<int>)))``. A sequence model reads the same text as tokens, brackets included
(:func:`~rnnlab.data.trees.bracket_tokens`).

What is left out, so the label can be read and the trees stay small: bodies with nothing but
``pass``, ``...`` and ``raise NotImplementedError`` (or nothing but a docstring); trees of more than
``max_nodes`` nodes (leaves included); and duplicates: a body whose tree text occurs more than once
in the standard library is kept once (in the first file, by path) when all its copies have the same
class, and dropped everywhere when they do not. Files that do not parse (written for another
version of Python) are skipped and counted. The splits go by source file, about 80/10/10 of the
functions, seeded, so no file's code is in two splits; the classes are left as they fall.

With Python 3.11's standard library (734 files, all parsed): 16,539 functions, of which 514 are
trivial, 517 larger than 300 nodes, 1,378 duplicate copies and 460 copies in conflict, leaving
13,670 examples (10,942 / 1,399 / 1,329 with seed 0); the classes ``0`` to ``4+`` are about 3%, 37%,
32%, 15% and 13%. A tree has 36 nodes in the median (141 at the 90th percentile) and height 6.
Counting the names read and never bound in the body, builtins aside, gets about 53% right (the
most common class 32-38%).
"""

from __future__ import annotations

import ast
import random
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

from rnnlab.data.corpora import DataError, stdlib_files
from rnnlab.data.trees import Tree, TreeExample, bracket_tokens, to_text

CLASSES = ("0", "1", "2", "3", "4+")
SPLITS = ("train", "valid", "test")
FRACTIONS = (0.8, 0.1, 0.1)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SKIPPED_FIELDS = {"ctx", "type_comment", "kind"}  # contexts fold into labels; the others are not code


def arity(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """How many parameters ``node`` takes: positional-only, positional (``self`` and ``cls``
    included), keyword-only, ``*args`` and ``**kwargs`` one each."""
    a = node.args
    return len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + (a.vararg is not None) + (a.kwarg is not None)


def arity_class(n: int) -> str:
    """The class of ``n`` parameters: ``0`` to ``3``, then ``4+``."""
    return str(n) if n < 4 else "4+"


def constant_token(value: object) -> str:
    """The coarse token of a constant: its type for strings and numbers, itself for the singletons."""
    if value is None or value is True or value is False:
        return str(value)
    if value is Ellipsis:
        return "..."
    for kind in (str, bytes, int, float, complex):  # bool is handled above
        if isinstance(value, kind):
            return f"<{kind.__name__}>"
    return f"<{type(value).__name__}>"  # tuples and frozensets appear only in optimised trees


def _label(node: ast.AST) -> str:
    ctx = getattr(node, "ctx", None)
    name = type(node).__name__
    return f"{name}.{type(ctx).__name__}" if isinstance(ctx, ast.expr_context) else name


def _body(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    body = node.body
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return body[1:]  # the docstring
    return body


def function_tree(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Tree:
    """The tree of ``node``'s body (see the module docstring): signature, decorators and docstring
    left out, nested definitions kept whole. Built without recursion, so deep code is fine."""
    root = Tree(type(node).__name__)
    # what is still to place under which parent: a syntax node, or an identifier (a leaf)
    pending: list[tuple[ast.AST | str, Tree]] = [(stmt, root) for stmt in reversed(_body(node))]
    while pending:
        item, parent = pending.pop()
        if isinstance(item, str):
            parent.children.append(Tree(item))
            continue
        tree = Tree(_label(item))
        parent.children.append(tree)
        if isinstance(item, ast.Constant):
            tree.children.append(Tree(constant_token(item.value)))
            continue
        fields: list[tuple[ast.AST | str, Tree]] = []
        for name, value in ast.iter_fields(item):
            if name in _SKIPPED_FIELDS:
                continue
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, ast.AST) or (isinstance(v, str) and v):
                    fields.append((v, tree))
        pending.extend(reversed(fields))
    return root


def _is_trivial(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and stmt.value.value is Ellipsis:
        return True
    if isinstance(stmt, ast.Raise) and stmt.exc is not None:
        exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


@dataclass
class ProgramCounts:
    """What happened to the files and the functions on the way to the examples."""

    files: int = 0
    unparsed: list[str] = field(default_factory=list)
    functions: int = 0
    trivial: int = 0
    too_big: int = 0
    duplicates: int = 0  # copies dropped, one of each kept
    conflicting: int = 0  # copies dropped because their classes disagree
    examples: int = 0


def source_functions(
    source: str | bytes, max_nodes: int = 300, counts: ProgramCounts | None = None
) -> list[tuple[Tree, str]]:
    """The ``(tree, class)`` of every function in ``source`` whose body is neither trivial nor
    larger than ``max_nodes`` nodes, in the order they start in the source (no deduplication).

    Raises:
        SyntaxError: ``source`` does not parse.
    """
    counts = ProgramCounts() if counts is None else counts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes and the like in old code
        module = ast.parse(source)
    out: list[tuple[tuple[int, int], Tree, str]] = []  # where the function starts, its tree, its class
    for node in ast.walk(module):
        if not isinstance(node, _FUNCTIONS):
            continue
        counts.functions += 1
        body = _body(node)
        if all(_is_trivial(stmt) for stmt in body):
            counts.trivial += 1
            continue
        tree = function_tree(node)
        if sum(1 for _ in tree.nodes()) > max_nodes:
            counts.too_big += 1
            continue
        out.append(((node.lineno, node.col_offset), tree, arity_class(arity(node))))
    return [(tree, label) for _, tree, label in sorted(out, key=lambda x: x[0])]


def programs_from_sources(
    sources: Mapping[str, str | bytes], seed: int = 0, max_nodes: int = 300
) -> tuple[dict[str, list[TreeExample]], ProgramCounts]:
    """The examples of the functions in ``sources`` (a file's name to its text), deduplicated and
    dealt into splits by file (see the module docstring), with the counts of what was left out.

    Raises:
        DataError: no function is left.
    """
    counts = ProgramCounts()
    found: dict[str, list[tuple[Tree, str, str]]] = {}  # tree text -> (tree, class, file) of each copy
    for name in sorted(sources):
        counts.files += 1
        try:
            functions = source_functions(sources[name], max_nodes, counts)
        except (SyntaxError, ValueError):  # ValueError: null bytes
            counts.unparsed.append(name)
            continue
        for tree, label in functions:
            found.setdefault(to_text(tree), []).append((tree, label, name))
    by_file: dict[str, list[TreeExample]] = {}
    for copies in found.values():
        if len({label for _, label, _ in copies}) > 1:
            counts.conflicting += len(copies)
            continue
        counts.duplicates += len(copies) - 1
        tree, label, name = copies[0]
        by_file.setdefault(name, []).append(TreeExample(tree, label, bracket_tokens(tree)))
    counts.examples = sum(len(v) for v in by_file.values())
    if not counts.examples:
        raise DataError("programs: no function left in the sources (all trivial, too big, conflicting or unparsed)")
    files = sorted(by_file)
    random.Random(f"programs:{seed}").shuffle(files)
    splits: dict[str, list[TreeExample]] = {name: [] for name in SPLITS}
    done, bounds = 0, [counts.examples * sum(FRACTIONS[: k + 1]) for k in range(len(SPLITS))]
    for name in files:
        # a file goes to the first split whose share is not yet filled when the file starts
        k = next(k for k, bound in enumerate(bounds) if done < bound or k == len(SPLITS) - 1)
        splits[SPLITS[k]].extend(by_file[name])
        done += len(by_file[name])
    return splits, counts


def program_examples(seed: int = 0, max_nodes: int = 300) -> dict[str, list[TreeExample]]:
    """The arity task over the standard library of this machine: ``train``, ``valid`` and ``test``
    lists of :class:`TreeExample` (see the module docstring). Files that do not parse are skipped
    with a note on standard error."""
    root, files = stdlib_files()
    sources = {str(f.relative_to(root)): f.read_bytes() for f in files}
    splits, counts = programs_from_sources(sources, seed, max_nodes)
    if counts.unparsed:
        print(f"note: skipped {len(counts.unparsed)} file(s) under {root} that do not parse", file=sys.stderr)
    return splits
