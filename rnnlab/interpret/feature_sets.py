"""Named sets of unit features, and the one that fits a model's corpus.

A model can only track what its corpus holds: quotes and speakers in plays, comments and ``if``
statements in C, math in LaTeX. ``rnnlab units``, ``visualize`` and ``serve`` therefore rank the
units against one set (``--features``): :data:`SETS` names them. ``auto`` chooses by the run's
corpus (the ``data`` of its config):

1. a named corpus, by its family (the name before any ``:``): :data:`CORPUS_SETS`;
2. a path, by its files' suffixes (the path's own, or the commonest known one in a folder):
   :data:`SUFFIX_SETS`;
3. otherwise by sniffing the text read: the set whose telltale lines (:data:`TELLTALES`) make up
   the largest share of its non-blank lines, if that share reaches :data:`SNIFF_SHARE`;
4. otherwise ``all``: the general features of every text (the Python scan, lines, quotes).

A set asked for by name is refused (:class:`FeatureSetError`) when it does not fit:

* the run's corpus is known by its name or its files' suffixes (1 and 2) to be of another family
  (``--features latex`` for a model of ``linux``); ``all`` fits every corpus;
* or the model's vocabulary lacks a character the set is about (:attr:`FeatureSet.needs`): a
  model that never read ``$`` cannot track math delimited by it.

``auto`` is never refused: a set it chose whose characters the model never saw falls back to ``all``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from torch import Tensor

from rnnlab.interpret.c_features import c_scan
from rnnlab.interpret.features import all_features, line_features, line_layout, python_scan, quote_features
from rnnlab.interpret.latex_features import latex_scan

SNIFF_SHARE = 0.25  # plays end a line in ';' now and then; C does on about every other line
SNIFF_LINES = 2000  # lines of the text looked at
FOLDER_FILES = 10_000  # files of a folder whose suffixes are counted


class FeatureSetError(ValueError):
    """A feature set asked for a corpus it does not fit; the message says why and what fits."""


@dataclass(frozen=True)
class FeatureSet:
    """A named set of features.

    Args:
        describes: what kind of text it is for, in messages ("C source").
        compute: text -> feature name -> ``(len(text),)`` values.
        needs: characters the model must have seen to track these features at all.
    """

    describes: str
    compute: Callable[[str], dict[str, Tensor]]
    needs: str = ""


def _c(text: str) -> dict[str, Tensor]:
    return {**c_scan(text), **line_layout(text, tab_width=8)}  # kernel style: a tab is 8 columns


def _latex(text: str) -> dict[str, Tensor]:
    return {**latex_scan(text), **line_layout(text)}


def _python(text: str) -> dict[str, Tensor]:
    # quotation marks as before sets existed: a Python run's report keeps the keys it always had
    return {**python_scan(text), **quote_features(text), **line_layout(text)}


def _prose(text: str) -> dict[str, Tensor]:
    return {**quote_features(text), **line_features(text)}


#: name -> feature set (``auto`` chooses among them, see the module docstring)
SETS: dict[str, FeatureSet] = {
    "c": FeatureSet("C source", _c, "{};()"),
    "latex": FeatureSet("LaTeX", _latex, "\\${}"),
    "python": FeatureSet("Python source", _python, "():"),
    "prose": FeatureSet("prose", _prose),
    "all": FeatureSet("any text", all_features),
}
CHOICES = ("auto", *SETS)  # the values of --features

#: named corpus (the ``--data`` name before any ``:``, as in ``linux:all``) -> its feature set
CORPUS_SETS = {"linux": "c", "latex": "latex", "python-stdlib": "python", "shakespeare": "prose"}
#: file suffix (lowercase) -> feature set
SUFFIX_SETS = {".c": "c", ".h": "c", ".tex": "latex", ".sty": "latex", ".cls": "latex", ".py": "python"}
#: feature set -> a line that gives its kind of text away
TELLTALES = {
    # a ';' ends lines of verse too: only one after code (a call, an assignment) tells
    "c": re.compile(r"^\s*#\s*(include|define|if|ifdef|ifndef|endif)\b|[=()].*;\s*$|[{}]\s*$|/\*|\*/|^\s*//"),
    "latex": re.compile(r"\\(begin|end|section|subsection|usepackage|documentclass|label|ref|cite|frac|item)\b|\$"),
    "python": re.compile(r"^\s*(def |class |import |from \S+ import |elif |@\w)|\bself\."),
}


@dataclass(frozen=True)
class Choice:
    """The feature set used, and why (shown on the page and in the JSON)."""

    name: str
    reason: str

    @property
    def features(self) -> FeatureSet:
        return SETS[self.name]


def corpus_set(data: str) -> tuple[str, str] | None:
    """The feature set that a run's corpus is known to fit, by its name or its files' suffixes.

    Args:
        data: the run's ``--data`` (a named corpus or a path, as the config holds it).

    Returns:
        ``(set name, how it is known)``, or ``None`` when neither the name nor the suffixes tell.
    """
    family = data.split(":", 1)[0]
    if family in CORPUS_SETS:
        return CORPUS_SETS[family], f"the run's corpus {data}"
    path = Path(data)
    suffix = path.suffix.lower()  # a file's, or a glob's such as src/*.c
    if suffix not in SUFFIX_SETS and path.is_dir():
        suffixes = (p.suffix.lower() for p in islice(path.rglob("*"), FOLDER_FILES))
        counts = Counter(s for s in suffixes if s in SUFFIX_SETS)
        suffix = counts.most_common(1)[0][0] if counts else ""
    if suffix in SUFFIX_SETS:
        return SUFFIX_SETS[suffix], f"the {suffix} files of the run's corpus {data}"
    return None


def sniff(text: str) -> str | None:
    """The feature set whose telltale lines are most of ``text``'s (:data:`SNIFF_SHARE` at least), or ``None``.

    Lines are looked at one by one: a C text cut short inside its opening comment (a licence, a
    history) has too few telltale lines yet, and is not told.
    """
    lines = [line for line in islice(text.splitlines(), SNIFF_LINES) if line.strip()]
    if not lines:
        return None
    shares = {name: sum(bool(p.search(line)) for line in lines) / len(lines) for name, p in TELLTALES.items()}
    best = max(shares, key=shares.__getitem__)
    return best if shares[best] >= SNIFF_SHARE else None


def unseen(name: str, vocabulary: list[str]) -> list[str]:
    """The characters feature set ``name`` is about that ``vocabulary`` lacks."""
    return [c for c in SETS[name].needs if c not in vocabulary]


def choose(asked: str, data: str, vocabulary: list[str], text: str, model: str) -> Choice:
    """The feature set to rank a model's units against.

    Args:
        asked: ``auto`` or a name of :data:`SETS` (the ``--features`` flag).
        data: the run's corpus (its ``--data``).
        vocabulary: the model's characters.
        text: the text the units are studied on (sniffed when the corpus does not tell).
        model: how messages name the model ("the model of runs/linux").

    Returns:
        The set and the reason it was chosen.

    Raises:
        FeatureSetError: a set asked for by name that does not fit (see the module docstring).
    """
    known = corpus_set(data)
    if asked == "auto":
        sniffed = sniff(text)
        chosen = known or ((sniffed, "the text read looks like " + SETS[sniffed].describes) if sniffed else None)
        if chosen is None:
            return Choice("all", "neither the run's corpus nor the text read tells its kind")
        missing = unseen(chosen[0], vocabulary)
        if missing:
            return Choice("all", f"{chosen[1]} suggests {chosen[0]}, but the model never saw {_listed(missing)}")
        return Choice(*chosen)
    if known is not None and asked not in (known[0], "all"):
        fit = known[0]
        raise FeatureSetError(
            f"--features {asked}: {model} was trained on {data} ({SETS[fit].describes}); "
            f"its features are {fit}; give --features {fit}, all or auto"
        )
    missing = unseen(asked, vocabulary)
    if missing:
        raise FeatureSetError(
            f"--features {asked}: {model} never saw {_listed(missing)} (its vocabulary has {len(vocabulary)} "
            f"characters), so it cannot track {SETS[asked].describes} features; give --features auto or all"
        )
    return Choice(asked, "asked for")


def _listed(chars: list[str]) -> str:
    return ", ".join(repr(c) for c in chars)
