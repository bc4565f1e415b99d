"""Trees written with brackets: ``(MAX 2 9 (MIN 4 7) 0)``, ``(S (NP (DT the) (NN cat)) (VP (VBD sat)))``.

A node is ``(`` its label, then its children, then ``)``; a child is a node or a bare token (a
leaf). Tokens are separated by white space; ``(`` and ``)`` need none. So ListOps expressions
(Nangia & Bowman 2018) and Penn Treebank parses (a preterminal ``(DT the)`` is a node labelled
``DT`` with the one leaf ``the``) read the same way, and :func:`to_text` writes a tree back as
:func:`parse_tree` reads it (one space between tokens).

Errors are one line naming the character where the text goes wrong: a ``)`` that closes nothing,
a ``(`` never closed, a node without a label, text after the tree, an empty text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from rnnlab.data.corpora import DataError

_TOKEN = re.compile(r"\(|\)|[^\s()]+")


@dataclass
class Tree:
    """A node: its ``label`` and its ``children`` (none for a leaf, whose label is its token).

    ``index`` is the position of the node's word in its sentence where the node is a word (every
    node of a dependency tree); ``None`` where it is not (a bracketed tree's inner nodes).
    """

    label: str
    children: list[Tree] = field(default_factory=list)
    index: int | None = field(default=None, compare=False)

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def leaves(self) -> list[str]:
        """The labels of the leaves, left to right."""
        return [node.label for node in self.nodes() if node.is_leaf]

    def nodes(self) -> Iterator[Tree]:
        """Every node, parents before their children, left to right (no recursion: deep trees are fine)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def depths(self) -> list[int]:
        """Each node's depth (0 at the root), in :meth:`nodes` order."""
        depth, out = {id(self): 0}, []
        for node in self.nodes():
            out.append(depth[id(node)])
            for child in node.children:
                depth[id(child)] = depth[id(node)] + 1
        return out

    def height(self) -> int:
        """0 for a leaf, else one more than the highest child."""
        heights: dict[int, int] = {}
        for node in reversed(list(self.nodes())):  # children before parents
            heights[id(node)] = 1 + max((heights[id(c)] for c in node.children), default=-1)
        return heights[id(self)]


@dataclass
class TreeExample:
    """One example of the tree task: the ``tree``, its class ``label``, and the ``tokens`` a
    sequence model reads in its place (a sentence's words; a bracketed tree's text, brackets
    included). ``node_labels``, where given, holds a class for every node in the order of
    :meth:`Tree.nodes`."""

    tree: Tree
    label: str
    tokens: list[str]
    node_labels: list[str] | None = None


def parse_tree(text: str, where: str = "tree") -> Tree:
    """The tree written in ``text`` (see the module docstring).

    Raises:
        DataError: one line naming ``where`` and the character where the text goes wrong.
    """
    tokens = [(m.group(), m.start()) for m in _TOKEN.finditer(text)]
    if not tokens:
        raise DataError(f"{where}: empty tree")
    stack: list[tuple[Tree, int]] = []
    root: Tree | None = None
    k = 0
    while k < len(tokens):
        token, at = tokens[k]
        if token == ")" and not stack:
            raise DataError(f"{where}: ')' at character {at} closes nothing")
        if root is not None:
            raise DataError(f"{where}: text after the tree at character {at}: {token!r}")
        if token == "(":
            if k + 1 >= len(tokens) or tokens[k + 1][0] in "()":
                raise DataError(f"{where}: the node opened at character {at} has no label")
            node = Tree(tokens[k + 1][0])
            if stack:
                stack[-1][0].children.append(node)
            stack.append((node, at))
            k += 2
            continue
        if token == ")":
            node, _ = stack.pop()
            if not stack:
                root = node
        elif stack:
            stack[-1][0].children.append(Tree(token))
        else:
            root = Tree(token)  # a lone leaf is a tree too
        k += 1
    if stack:
        raise DataError(f"{where}: '(' at character {stack[-1][1]} is never closed")
    assert root is not None
    return root


def binarize(tree: Tree) -> tuple[Tree, list[int]]:
    """``tree`` with every node of more than two children made a left-branching chain of binary
    nodes of the same label, as Nangia & Bowman (2018) give ListOps to their Tree-LSTM:
    ``(MAX a b c d)`` becomes ``(MAX (MAX (MAX a b) c) d)``, so a binary cell folds the arguments
    one at a time into what it has read so far. Also returns, for each node of the new tree (in
    :meth:`Tree.nodes` order), the place of the node it stands for in ``tree.nodes()`` (a chain's
    top stands for the node; ``-1`` for the nodes inside a chain)."""
    old = list(tree.nodes())
    place = {id(node): k for k, node in enumerate(old)}
    made: dict[int, Tree] = {}
    origin: dict[int, int] = {}
    for node in reversed(old):  # children first
        kids = [made[id(c)] for c in node.children]
        if len(kids) <= 2:
            top = Tree(node.label, kids, node.index)
        else:
            top = Tree(node.label, kids[:2], node.index)
            origin[id(top)] = -1
            for kid in kids[2:]:
                top = Tree(node.label, [top, kid], node.index)
                origin[id(top)] = -1
        origin[id(top)] = place[id(node)]
        made[id(node)] = top
    root = made[id(tree)]
    return root, [origin.get(id(node), -1) for node in root.nodes()]


def bracket_tokens(tree: Tree) -> list[str]:
    """The tokens of ``tree`` written with brackets, brackets included: ``( MAX 2 ( MIN 4 7 ) )``."""
    return to_text(tree).replace("(", " ( ").replace(")", " ) ").split()


def to_text(tree: Tree) -> str:
    """``tree`` written with brackets, as :func:`parse_tree` reads it."""
    out: list[str] = []
    stack: list[Tree | str] = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif item.is_leaf:
            out.append(item.label)
        else:
            out.append(f"({item.label}")
            stack.append(")")
            stack.extend(reversed(item.children))
    return " ".join(out).replace(" )", ")")
