"""The examples of the tree task (``rnnlab train --task tree --data ...``): named sets and files.

Named sets, each with its gold or parsed trees:

- ``listops``: ListOps expressions (:mod:`rnnlab.data.listops`), 20,000 / 2,000 / 2,000, the
  value of the whole expression as the label and the value of every list and digit at each node;
- ``pang-lee``, ``tweets``: the sentences of :mod:`rnnlab.data.labelled` parsed into dependency
  trees (:mod:`rnnlab.data.parsed`), split as the classifier splits them (stratified, seeded);
- ``python-ast``: functions of the standard library, the tree of a body and the function's
  number of parameters as the label (:mod:`rnnlab.data.programs`), split by source file.

A file is a CoNLL-U file (``.conllu``; the label from each sentence's ``# label = ...`` comment) or
lines of trees written with brackets (:func:`rnnlab.data.trees.parse_tree`): ``LABEL<TAB>(tree)``,
a class for the whole tree, whose nodes' labels are what they read (ListOps, Penn-style parses;
the tokens a sequence model reads in its place are its text with the brackets), or a tree alone
labelled at every node as the Stanford Sentiment Treebank is, ``(3 (2 It) (4 (2 's) (4 good)))``
(:func:`labelled_example`; the tokens are its words).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rnnlab.data.corpora import DataError, read_data_file
from rnnlab.data.trees import Tree, TreeExample, bracket_tokens, parse_tree

#: splits as the tree task names them
SPLITS = ("train", "val", "test")


def bracket_positions(tree: Tree, tokens: list[str]) -> list[int]:
    """Each node's position in ``tokens`` (:meth:`Tree.nodes` order): its word's ``index`` where it
    has one; else, when ``tokens`` are the tree's bracketed tokens, its label's place among them
    (a list's position is its operator's); else ``-1``."""
    nodes = list(tree.nodes())
    if any(node.index is None for node in nodes) and tokens == bracket_tokens(tree):
        return [k for k, token in enumerate(tokens) if token not in ("(", ")")]
    return [-1 if node.index is None else int(node.index) for node in nodes]


def bracket_example(tree: Tree, label: str, node_labels: list[str] | None = None) -> TreeExample:
    return TreeExample(tree, label, bracket_tokens(tree), node_labels)


#: what an inner node of a tree labelled at every node reads as its word
INNER = "<node>"


def labelled_example(tree: Tree) -> TreeExample:
    """A tree whose inner nodes' labels are classes and whose leaves are words, as the Stanford
    Sentiment Treebank writes them (``(3 (2 It) (4 (2 's) (4 good)))``): the root's class is the
    label, every inner node's class a node label; inner nodes read :data:`INNER`, leaves their
    word at its place in the sentence."""
    if tree.is_leaf:
        raise DataError(f"a lone word {tree.label!r}: a tree labelled at every node has a class around its words")
    old = list(tree.nodes())  # parents first, left to right: the leaves come in sentence order
    words = [node.label for node in old if node.is_leaf]
    made: dict[int, Tree] = {}
    for node in reversed(old):
        made[id(node)] = Tree(INNER, [made[id(c)] for c in node.children]) if node.children else Tree(node.label)
    for position, leaf in enumerate(n for n in made[id(tree)].nodes() if n.is_leaf):
        leaf.index = position
    return TreeExample(made[id(tree)], tree.label, words, [n.label if n.children else "" for n in old])


def _listops() -> dict[str, list[TreeExample]]:
    from rnnlab.data.listops import make_listops, node_values

    def example(tree: Tree) -> TreeExample:
        values = [str(v) for v in node_values(tree)]
        return bracket_example(tree, values[0], values)

    return {split: [example(t) for t in trees] for split, trees in _renamed(make_listops(seed=0)).items()}


def _renamed(made: dict) -> dict:
    """Splits named ``train``, ``valid``, ``test`` as the task names them (:data:`SPLITS`)."""
    return {split: made[name] for split, name in zip(SPLITS, ("train", "valid", "test"))}


def _parsed(name: str) -> Callable[[], list[TreeExample]]:
    def load() -> list[TreeExample]:
        from rnnlab.data.parsed import load_parsed

        return load_parsed(name)

    return load


def _programs() -> dict[str, list[TreeExample]]:
    from rnnlab.data.programs import program_examples

    return _renamed(program_examples(seed=0))


#: named sets with splits of their own
SPLIT_SETS: dict[str, Callable[[], dict[str, list[TreeExample]]]] = {"listops": _listops, "python-ast": _programs}
#: named sets split by the task
WHOLE_SETS: dict[str, Callable[[], list[TreeExample]]] = {"pang-lee": _parsed("pang-lee"), "tweets": _parsed("tweets")}
NAMES = (*SPLIT_SETS, *WHOLE_SETS)


def read_tree_file(path: str | Path) -> list[TreeExample]:
    """The examples of a CoNLL-U file or of a file of ``LABEL<TAB>(tree)`` lines.

    Raises:
        DataError: one line naming the file and the sentence or line that is wrong.
    """
    path = Path(path)
    text = read_data_file(path, NAMES, "a file of trees")
    if path.suffix.lower() == ".conllu":
        from rnnlab.data.dependency import heads_of, read_conllu

        examples = []
        for k, (tree, meta) in enumerate(read_conllu(text, str(path)), start=1):
            if not meta.get("label"):
                raise DataError(f"{path}: sentence {k} has no '# label = ...' comment")
            examples.append(TreeExample(tree, meta["label"], heads_of(tree)[0]))
        return examples
    examples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        label, tab, written = line.partition("\t")
        if not tab:
            tree = parse_tree(line, where)
            try:
                examples.append(labelled_example(tree))
            except DataError as e:
                raise DataError(f"{where}: {e}") from e
            continue
        if not label.strip():
            raise DataError(f"{where}: expected LABEL<TAB>(tree) or a tree labelled at every node")
        examples.append(bracket_example(parse_tree(written, where), label.strip()))
    if not examples:
        raise DataError(f"{path}: no trees in the file")
    return examples
