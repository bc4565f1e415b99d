"""CSV and TSV files with a header row, read by column name.

A path ending in ``.csv`` is read as CSV (quoted fields may hold commas and line breaks; a quote left
open is an error naming the line where it opened); ``.tsv`` and ``.txt`` are read as TSV, which has no
quoting (a quote is text). Errors are one :class:`~rnnlab.data.corpora.DataError` line naming the file
and the line, or, for a missing column, the header and the flags that name the columns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

from rnnlab.data.corpora import DataError, read_data_file

csv.field_size_limit(1 << 24)  # whole reviews are long fields

SUFFIXES = (".csv", ".tsv", ".txt")


def _open_quote_line(text: str, first: int) -> int | None:
    """The line of the quoted CSV field that breaks the file, searching from the record on line
    ``first``: the first quote that opens a field and either never closes or is followed by more
    text before the next comma or line end (``None`` if there is none)."""
    start = 0
    for _ in range(first - 1):
        start = text.find("\n", start) + 1
        if not start:
            return None
    i = start
    while (j := text.find('"', i)) >= 0:
        if j > start and text[j - 1] not in ",\n":  # a quote inside an unquoted field is text
            i = j + 1
            continue
        k = j + 1
        while (k := text.find('"', k)) >= 0 and text[k + 1 : k + 2] == '"':  # a doubled quote is text
            k += 2
        if k < 0 or text[k + 1 : k + 2] not in ("", ",", "\n"):
            return first + text.count("\n", start, j)
        i = k + 1
    return None


def _rows_of(reader, path: Path, text: str) -> Iterator[list[str]]:
    """The rows of ``reader`` (over ``text``); a CSV error names the line where its quote opened."""
    done = 0  # lines read up to the end of the last good row
    try:
        for row in reader:
            yield row
            done = reader.line_num
    except csv.Error as e:
        opened = _open_quote_line(text, done + 1) if reader.dialect.quoting != csv.QUOTE_NONE else None
        if opened is None:
            raise DataError(f"data: {path} line {reader.line_num}: {e} (a quote left open?)") from e
        raise DataError(
            f"data: {path} line {opened}: a quote left open (the quoted text that starts on this line "
            f"runs to line {reader.line_num}: {e})"
        ) from e


def named_columns(*pairs: tuple[str, str]) -> dict[str, str]:
    """``{column: flag}`` for :func:`read_columns` from ``(column, flag)`` pairs.

    Raises:
        DataError: two flags name the same column.
    """
    columns: dict[str, str] = {}
    for column, flag in pairs:
        if column in columns:
            raise DataError(f"{columns[column]} and {flag} name the same column {column!r}: give two columns")
        columns[column] = flag
    return columns


def read_columns(
    path: str | Path, columns: dict[str, str], names: Iterable[str] = (), hint: str = ""
) -> Iterator[tuple[int, list[str]]]:
    """The values of the named columns, row by row, of a CSV or TSV file with a header row.

    Rows that are blank throughout are passed over; every other row must have as many fields as the
    header. Values are stripped of surrounding white space (empty values are the caller's to refuse).

    Args:
        path: a ``.csv``, ``.tsv`` or ``.txt`` (read as TSV) file.
        columns: column name -> the flag that names it (``{"label": "--label-column"}``), in the
            order the values are returned.
        names: the named data sets the caller also takes, listed when the file does not exist.
        hint: added to the message for a file that has the wrong suffix or lacks a column.

    Returns:
        An iterator of ``(line, values)``: the line number where the row ends and its values in the
        order of ``columns``.

    Raises:
        DataError: no such file (or not a regular one), the wrong suffix, an empty file, a missing
            column (listing the header and the flags), a row with the wrong number of fields, or a
            quote left open (the message names the line; for a quote, where it opened).
    """
    path = Path(path)
    names = list(names)
    if path.suffix.lower() not in SUFFIXES:
        named = f" (or a name: {', '.join(names)})" if names else ""
        raise DataError(f"data: {path}: expected a .csv or .tsv file{named}{hint}")
    text = read_data_file(path, names, "a CSV or TSV file")
    if path.suffix.lower() == ".csv":  # quoted fields may hold commas and line breaks; a stray quote is an error
        reader = csv.reader(io.StringIO(text), delimiter=",", strict=True)
    else:  # TSV has no quoting: a quote is text (a review may open one and never close it)
        reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    rows = _rows_of(reader, path, text)
    header = next(rows, None)
    if not header:
        raise DataError(f"data: {path} is empty")
    header = [h.strip() for h in header]
    missing = [c for c in columns if c not in header]
    if missing:
        flags = list(columns.values())
        raise DataError(
            f"data: {path} has no column {' or '.join(map(repr, missing))} (its header: {', '.join(header)}); "
            f"name the columns with {', '.join(flags[:-1])} and {flags[-1]}{hint}"
        )
    where = [header.index(c) for c in columns]
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            quote = "; quote texts that hold commas" if path.suffix.lower() == ".csv" else ""
            raise DataError(f"data: {path} line {reader.line_num}: {len(row)} field(s), expected {len(header)}{quote}")
        yield reader.line_num, [row[i].strip() for i in where]
