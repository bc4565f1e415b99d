"""Dependency trees: every word of a sentence a node, its children the words that depend on it.

CoNLL-U (https://universaldependencies.org/format.html) is read with the :mod:`conllu` package.
A sentence is a block of lines ended by a blank line: ``#`` comments first, then one word a line
with ten tab-separated columns (ID, FORM, LEMMA, UPOS, XPOS, FEATS, HEAD, DEPREL, DEPS, MISC).
Multiword-token ranges (ID ``1-2``) and empty nodes (ID ``1.1``) are skipped; the words are the
lines with an integer ID, which must run 1, 2, ..., n.

A word's HEAD is the ID of the word it depends on, or 0 for the sentence's root. The tree of a
sentence (:func:`tree_from_heads`) has a node per word labelled by its FORM, with ``index`` its
position (ID - 1); a node's children are its dependents in sentence order. Exactly one word must
have HEAD 0: a sentence with two is refused (naming both) rather than joined under one of them.

The comments ``# key = value`` become the sentence's metadata (``# key`` alone gives ``None``);
``# label = X`` holds a label for the whole sentence. :func:`write_conllu` writes trees and their
metadata back as :func:`read_conllu` reads them (FORM, HEAD and DEPREL filled in, the other
columns ``_``).

Errors are one line naming the file (``where``), the sentence (its number from 1, and its
``sent_id`` if it has one) and, where one is to blame, the word (its ID and FORM).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Sequence

import conllu
from conllu.exceptions import ParseException
from conllu.parser import DEFAULT_FIELDS, parse_line

from rnnlab.data.corpora import DataError
from rnnlab.data.trees import Tree

#: what a word's relation to its head is written as where it is not known
UNKNOWN_RELATION = "dep"

_BLANK = re.compile(r"\n[ \t]*(?:\n|$)")
_INTEGER = re.compile(r"-?[0-9]+")


def tree_from_heads(words: Sequence[str], heads: Sequence[int], where: str = "sentence") -> Tree:
    """The dependency tree of ``words``, where word ``i`` (from 0) depends on word ``heads[i]``.

    ``heads`` count as CoNLL-U's HEAD column does: word ``k`` is ``heads[i] == k + 1`` (IDs
    from 1), and 0 marks the root. Node ``i`` is labelled ``words[i]`` and has ``index == i``;
    its children are the words that depend on it, in sentence order.

    Raises:
        DataError: one line naming ``where`` and the word (ID and form): no words, a head out of
            range (not 0..n), a word whose heads never lead to the root (a cycle), no root, or
            more than one root (both named).
    """
    n = len(words)
    if n == 0:
        raise DataError(f"{where}: no words")
    if len(heads) != n:
        raise DataError(f"{where}: {n} words but {len(heads)} heads")

    def word(i: int) -> str:
        return f"word {i + 1} {words[i]!r}"

    roots = []
    for i, head in enumerate(heads):
        if not 0 <= head <= n:
            raise DataError(f"{where}: {word(i)} has HEAD {head}, not 0..{n}")
        if head == i + 1:
            raise DataError(f"{where}: {word(i)} is its own head")
        if head == 0:
            roots.append(i)
    if len(roots) > 1:
        raise DataError(f"{where}: more than one root (HEAD 0): {word(roots[0])} and {word(roots[1])}")
    if not roots:
        seen, i = set(), 0
        while i not in seen:  # every word has a head, so the heads from word 1 come round again
            seen.add(i)
            i = heads[i] - 1
        raise DataError(f"{where}: no root (no word has HEAD 0); {word(i)} is on a cycle")
    # 1 = reaches the root; 2 = on the path being followed
    state = [0] * n
    state[roots[0]] = 1
    for start in range(n):
        path, i = [], start
        while state[i] == 0:
            state[i] = 2
            path.append(i)
            i = heads[i] - 1
        if state[i] == 2:
            raise DataError(f"{where}: {word(i)} never reaches the root (its heads go round in a cycle)")
        for k in path:
            state[k] = 1
    nodes = [Tree(w, [], i) for i, w in enumerate(words)]
    for i, head in enumerate(heads):
        if head:
            nodes[head - 1].children.append(nodes[i])
    return nodes[roots[0]]


def _blocks(text: str) -> list[tuple[int, str]]:
    """The sentences of ``text``: (the number of its first line, from 1; its lines), blank-line separated."""
    out, line = [], 1
    start = 0
    for m in _BLANK.finditer(text + "\n"):
        block = text[start : m.start()]
        if block.strip():
            skipped = len(block) - len(block.lstrip("\n \t"))
            out.append((line + block[:skipped].count("\n"), block.strip("\n")))
        line += text[start : m.end()].count("\n")
        start = m.end()
    return out


def _bad_line(block: str, first: int) -> str:
    """Which line of ``block`` :mod:`conllu` cannot parse, and why (one line)."""
    for k, line in enumerate(block.split("\n")):
        if line.startswith("#") or not line.strip():
            continue
        try:
            parse_line(line, fields=_FIELDS, field_parsers=_PARSERS)
        except ParseException as e:
            return f"line {first + k}: {' '.join(str(e).split())}"
    return "cannot be read"


def _raw(line: list[str], i: int) -> str:
    return line[i]


def _id(line: list[str], i: int) -> int | tuple:
    """A word's ID as an int; conllu's parser for the rest (ranges, empty nodes, errors)."""
    return int(line[i]) if line[i].isdecimal() and line[i].isascii() else conllu.parser.parse_id_value(line[i])


#: the columns read: up to HEAD, the rest unused. The ID parsed (ranges and empty nodes told apart),
#: the other columns kept as written (HEAD checked here, to name the word): conllu's own parsers of
#: columns that are not used would triple the time it takes to read
_FIELDS = DEFAULT_FIELDS[: DEFAULT_FIELDS.index("head") + 1]
_PARSERS = {**dict.fromkeys(_FIELDS, _raw), "id": _id}


def read_conllu(text: str, where: str = "data") -> list[tuple[Tree, dict[str, str | None]]]:
    """The dependency tree and the metadata (comments) of each sentence of CoNLL-U ``text``.

    See the module docstring. Nothing but FORM and HEAD is kept of the words. Lines may end in
    CRLF.

    Raises:
        DataError: one line naming ``where``, the sentence and the word (see the module docstring):
            no sentences, a line that cannot be parsed, a sentence without words, IDs that do not
            run 1..n, a missing or non-integer HEAD, and the errors of :func:`tree_from_heads`.
    """
    blocks = _blocks(text.replace("\r\n", "\n"))
    if not blocks:
        raise DataError(f"{where}: no sentences (the CoNLL-U text is empty)")
    collecting = gc.isenabled()
    gc.disable()  # every object made is kept: the collector's passes over them would only cost (40 %)
    try:
        return _read_blocks(blocks, where)
    finally:
        if collecting:
            gc.enable()


def _read_blocks(blocks: list[tuple[int, str]], where: str) -> list[tuple[Tree, dict[str, str | None]]]:
    out = []
    for number, (first, block) in enumerate(blocks, 1):
        at = f"{where}: sentence {number} (line {first})"
        try:
            parsed = conllu.parse(block + "\n", fields=_FIELDS, field_parsers=_PARSERS)
        except ParseException:
            raise DataError(f"{at}: {_bad_line(block, first)}") from None
        if len(parsed) != 1:  # a block holds one sentence by construction
            raise DataError(f"{at}: cannot be read as one sentence")
        sentence = parsed[0]
        metadata = dict(sentence.metadata)
        if metadata.get("sent_id"):
            at = f"{where}: sentence {number} (sent_id {metadata['sent_id']}, line {first})"
        words = [token for token in sentence if isinstance(token["id"], int)]
        if not words:
            raise DataError(f"{at}: no words")
        forms, heads = [], []
        for k, token in enumerate(words):
            name = f"word {token['id']} {token['form']!r}"
            if token["id"] != k + 1:
                raise DataError(f"{at}: {name} should have ID {k + 1} (IDs run 1, 2, ..., n)")
            head = token.get("head")
            if head is None:
                raise DataError(f"{at}: {name} has no HEAD column (a word line has 10 tab-separated columns)")
            if not _INTEGER.fullmatch(head):
                raise DataError(f"{at}: {name} has HEAD {head!r}, not an integer")
            forms.append(token["form"])
            heads.append(int(head))
        out.append((tree_from_heads(forms, heads, at), metadata))
    return out


def heads_of(tree: Tree) -> tuple[list[str], list[int]]:
    """The words of ``tree`` by ``index`` and their heads (as :func:`tree_from_heads` takes them).

    Raises:
        DataError: a node without an index, or indices that are not 0..n-1 once each.
    """
    nodes = list(tree.nodes())
    if any(node.index is None for node in nodes) or sorted(n.index for n in nodes) != list(range(len(nodes))):
        raise DataError("a dependency tree's nodes must have the indices 0..n-1, once each")
    words, heads = [""] * len(nodes), [0] * len(nodes)
    for node in nodes:
        words[node.index] = node.label
        for child in node.children:
            heads[child.index] = node.index + 1
    return words, heads


def _check_form(form: str, where: str) -> None:
    if not form or form != form.strip() or "\t" in form or "  " in form or len(f"a{form}b".splitlines()) > 1:
        raise DataError(f"{where}: the form {form!r} cannot be written in CoNLL-U (empty, tab, line break or spaces)")


def write_conllu(
    sentences: Sequence[tuple[Tree, dict[str, str | None]]],
    relations: Sequence[Sequence[str]] | None = None,
) -> str:
    """CoNLL-U text of ``sentences`` (trees with their metadata), as :func:`read_conllu` reads it.

    Each metadata entry is written as a comment (``# key = value``, or ``# key`` for ``None``).
    ``relations[k][i]``, where given, is the DEPREL of word ``i`` of sentence ``k``; it is
    :data:`UNKNOWN_RELATION` otherwise (``root`` for a root).

    Raises:
        DataError: a tree whose indices are not 0..n-1, a form that cannot be written (empty, with
            a tab, a line break, two spaces running, or space at an end), or a metadata key or
            value holding a line break or a key holding ``=``.
    """
    lines = []
    for k, (tree, metadata) in enumerate(sentences):
        where = f"sentence {k + 1}"
        for key, value in metadata.items():
            if "=" in key or any(len(f"a{s}b".splitlines()) > 1 for s in (key, value or "")):
                raise DataError(f"{where}: the comment {key!r} = {value!r} cannot be written in CoNLL-U")
            lines.append(f"# {key}" if value is None else f"# {key} = {value}")
        words, heads = heads_of(tree)
        for i, (form, head) in enumerate(zip(words, heads)):
            _check_form(form, f"{where}: word {i + 1}")
            relation = relations[k][i] if relations is not None else ("root" if head == 0 else UNKNOWN_RELATION)
            relation = relation or UNKNOWN_RELATION
            lines.append(f"{i + 1}\t{form}\t_\t_\t_\t_\t{head}\t{relation}\t_\t_")
        lines.append("")
    return "\n".join(lines) + "\n" if lines else ""
