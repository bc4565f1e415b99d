"""Parallel texts for sequence to sequence: pairs of a source text and its target, in three splits.

A data spec (``data``, and likewise ``val_data`` and ``test_data``) is one of:

- a named set of :data:`PARALLEL`, which comes with its own ``train``, ``valid`` and ``test`` splits:

  - ``bible-en-es``: English and Spanish verses (:func:`rnnlab.data.bible.load_bible_en_es`);
  - ``dates``: dates written in many ways and languages, to ISO 8601 (:mod:`rnnlab.data.dates`);
  - ``addition``: ``"535+61"`` to ``"596"`` (:mod:`rnnlab.data.addition`).

  ``dates`` and ``addition`` are drawn with the fixed seed :data:`DATA_SEED`, so that every run of
  a named set sees the same examples whatever the run's own seed;
- a ``.tsv`` (or ``.txt``, read as TSV) or ``.csv`` file with a header row, whose source and target
  columns are named by ``source_column`` and ``target_column`` (``--source-column``,
  ``--target-column``; ``source`` and ``target`` by default); see :func:`read_pairs_table`;
- two line-aligned plain-text files joined by a comma, ``SOURCE,TARGET`` (``train.en,train.es``):
  line *k* of the target file is the translation of line *k* of the source file; see
  :func:`read_pairs_files`. (A path that itself holds a comma and exists is read as one table.)

A file given as ``data`` is split into training, validation and test pairs with the run's seed
(:func:`split_pairs`), unless ``val_data`` or ``test_data`` name those splits; for a named set they
replace its own.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable
from pathlib import Path

from rnnlab.data.corpora import DataError, read_data_file
from rnnlab.data.tables import named_columns, read_columns

Pair = tuple[str, str]
Splits = dict[str, list[Pair]]
SPLITS = ("train", "valid", "test")
#: the seed the synthetic named sets (``dates``, ``addition``) are drawn with
DATA_SEED = 0

_TWO_FILES = "; or give two line-aligned text files as SOURCE,TARGET"


def _bible() -> Splits:
    from rnnlab.data.bible import load_bible_en_es  # written separately; imported only when asked for

    return load_bible_en_es()


def _dates() -> Splits:
    from rnnlab.data.dates import make_dates

    return make_dates(DATA_SEED)


def _addition() -> Splits:
    from rnnlab.data.addition import make_addition

    return make_addition(DATA_SEED)


#: name -> loader of a named set's splits
PARALLEL: dict[str, Callable[[], Splits]] = {
    "bible-en-es": _bible,
    "dates": _dates,
    "addition": _addition,
}


def read_pairs_table(path: str | Path, source_column: str = "source", target_column: str = "target") -> list[Pair]:
    """The pairs of a TSV or CSV file with a header row (read by :func:`rnnlab.data.tables.read_columns`).

    Args:
        path: a ``.tsv``, ``.txt`` (read as TSV) or ``.csv`` file.
        source_column: the header of the source texts.
        target_column: the header of the target texts.

    Returns:
        ``(source, target)`` pairs in file order, stripped of surrounding white space.

    Raises:
        DataError: no such file, a missing column (listing the header and naming ``--source-column``
            and ``--target-column``), an empty source or target (naming the line), a malformed row, or
            a header without pairs.
    """
    pairs = []
    columns = named_columns((source_column, "--source-column"), (target_column, "--target-column"))
    for line, (source, target) in read_columns(path, columns, PARALLEL, _TWO_FILES):
        for text, column in ((source, source_column), (target, target_column)):
            if not text:
                raise DataError(f"data: {path} line {line}: empty {column!r} text")
        pairs.append((source, target))
    if not pairs:
        raise DataError(f"data: {path} has a header but no pairs")
    return pairs


def _lines(path: Path) -> list[str]:
    """The lines of a text file, without the blank lines that end it."""
    lines = read_data_file(path, (), "a text file").rstrip().split("\n")
    return [] if lines == [""] else lines


def read_pairs_files(source_path: str | Path, target_path: str | Path) -> list[Pair]:
    """The pairs of two line-aligned text files: line *k* of ``target_path`` translates line *k* of
    ``source_path``. Blank lines at the very end of a file are passed over; any other line must hold
    text. Lines are stripped of surrounding white space.

    Returns:
        ``(source, target)`` pairs, one a line.

    Raises:
        DataError: either file missing or unreadable, empty, the two files have different numbers of
            lines (naming both files and both counts), or an empty line (naming the file and line).
    """
    paths = (Path(source_path), Path(target_path))
    sides = [_lines(p) for p in paths]
    for path, lines in zip(paths, sides):
        if not lines:
            raise DataError(f"data: {path} is empty")
    if len(sides[0]) != len(sides[1]):
        raise DataError(
            f"data: {paths[0]} has {len(sides[0]):,} lines but {paths[1]} has {len(sides[1]):,}; "
            "the two files must be line-aligned (line k of one translates line k of the other)"
        )
    for path, lines in zip(paths, sides):
        for k, line in enumerate(lines, 1):
            if not line.strip():
                raise DataError(f"data: {path} line {k}: empty line (every line needs its text and its translation)")
    return [(s.strip(), t.strip()) for s, t in zip(*sides)]


def read_pairs(spec: str, source_column: str = "source", target_column: str = "target") -> list[Pair]:
    """The pairs of a file spec: a table, or ``SOURCE,TARGET`` text files (see the module docstring).

    Raises:
        DataError: as :func:`read_pairs_table` or :func:`read_pairs_files` do, or a spec with more
            than one comma that is not a file.
    """
    if "," in spec and not Path(spec).exists():
        parts = spec.split(",")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise DataError(f"data: {spec}: expected SOURCE,TARGET (two line-aligned text files) or a .tsv/.csv file")
        return read_pairs_files(parts[0].strip(), parts[1].strip())
    return read_pairs_table(spec, source_column, target_column)


def split_pairs(pairs: list[Pair], fractions: dict[str, float], seed: int) -> Splits:
    """Hold out shares of ``pairs`` by source text, so that a source written twice never lands in two
    splits (a repeated sentence would otherwise be scored on what it was trained on).

    Args:
        pairs: all the pairs.
        fractions: split name -> its share, each between 0 and 0.5 (``{"valid": 0.1, "test": 0.1}``).
        seed: seeds the draw of which sources are held out.

    Returns:
        ``train`` (the rest) and one list a held-out split, each in the order of ``pairs``.

    Raises:
        ValueError: a share outside (0, 0.5).
        DataError: too few distinct sources to give every split at least one.
    """
    for name, share in fractions.items():
        if not 0 < share < 0.5:
            raise ValueError(f"{name} fraction: expected a number between 0 and 0.5, got {share}")
    groups: dict[str, list[int]] = {}
    for i, (source, _) in enumerate(pairs):
        groups.setdefault(source, []).append(i)
    if len(groups) < len(fractions) + 1:
        raise DataError(
            f"data: {len(groups)} distinct source text(s) cannot give training and {len(fractions)} held-out "
            "split(s); give more pairs, or name the held-out files"
        )
    order = list(groups.values())
    random.Random(f"{seed}:split").shuffle(order)
    owner = ["train"] * len(pairs)
    start = 0
    for j, (name, share) in enumerate(fractions.items()):
        want, taken = max(1, round(len(pairs) * share)), 0
        stop = len(order) - (len(fractions) - j)  # leave a source for each split after this one and training
        while taken < want and start < stop:
            for i in order[start]:
                owner[i] = name
            taken += len(order[start])
            start += 1
    out: Splits = {"train": [], **{name: [] for name in fractions}}
    for pair, name in zip(pairs, owner):
        out[name].append(pair)
    return out


def load_parallel(
    data: str,
    seed: int,
    val_data: str = "",
    test_data: str = "",
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    source_column: str = "source",
    target_column: str = "target",
) -> Splits:
    """The training, validation and test pairs of a data spec (see the module docstring).

    Args:
        data: a named set of :data:`PARALLEL`, a table, or ``SOURCE,TARGET``.
        seed: seeds the held-out draw from a file (a named set has its own splits).
        val_data: a file spec of the validation pairs ('' = the named set's own, or split off).
        test_data: a file spec of the test pairs ('' = the named set's own, or split off).
        val_fraction: share of a file held out for validation when ``val_data`` is ''.
        test_fraction: share of a file held out for testing when ``test_data`` is ''.
        source_column: header of the source column of a table.
        target_column: header of the target column of a table.

    Returns:
        ``{"train": [...], "valid": [...], "test": [...]}`` of ``(source, target)`` pairs.

    Raises:
        DataError: for a file that cannot be read as pairs (see :func:`read_pairs`), or too few pairs.
    """
    given = {
        name: read_pairs(spec, source_column, target_column)
        for name, spec in (("valid", val_data), ("test", test_data))
        if spec
    }
    if data in PARALLEL:
        splits = dict(PARALLEL[data]())
    else:
        pairs = read_pairs(data, source_column, target_column)
        shares = {k: v for k, v in (("valid", val_fraction), ("test", test_fraction)) if k not in given}
        splits = split_pairs(pairs, shares, seed) if shares else {"train": pairs}
    splits.update(given)
    return {name: splits[name] for name in SPLITS}


def cut_to_length(sequences: list[list[int]], max_length: int) -> tuple[list[list[int]], int]:
    """Cut every sequence to at most ``max_length`` tokens (the ids of a text, before ``BOS``/``EOS``).

    Args:
        sequences: token ids, one list a text.
        max_length: the most tokens a text keeps; 0 = no limit.

    Returns:
        The sequences (the same lists where short enough), and how many were cut, for the caller to
        report once.
    """
    if max_length < 0:
        raise ValueError(f"max_length: expected 0 (no limit) or a positive number, got {max_length}")
    if not max_length:
        return sequences, 0
    cut = sum(len(s) > max_length for s in sequences)
    return [s[:max_length] if len(s) > max_length else s for s in sequences], cut


def draw_splits(
    draw: Callable[[random.Random], Pair | None],
    sizes: dict[str, int],
    seed: int,
    key: Callable[[Pair], Hashable] = lambda pair: pair[0],
) -> Splits:
    """Distinct pairs dealt into splits that follow one distribution.

    All ``sum(sizes)`` pairs are drawn from one generator, ``random.Random(f"{seed}:draw")``, none
    sharing a ``key`` with another; then they are shuffled (``random.Random(f"{seed}:deal")``) and
    dealt in the order of ``sizes``. Each split is thus a random share of the same pool, as the Keras
    addition example splits its questions. Drawing split after split instead would give the later
    ones fewer of the pairs that repeat often (the first draws take most of the few short sums
    there are), and a test set of questions the training set hardly has.

    Args:
        draw: one pair from a generator, or ``None`` to refuse the draw (and draw again).
        sizes: split name -> how many pairs.
        seed: seeds the draw and the deal.
        key: what must differ between any two pairs (by default the source text).

    Returns:
        Split name -> its pairs.

    Raises:
        DataError: when the draws keep repeating pairs already taken (asked for more than there are).
    """
    total = sum(sizes.values())
    rng, seen, pairs, tries = random.Random(f"{seed}:draw"), set(), [], 0
    while len(pairs) < total:
        tries += 1
        if tries > 50 * total + 1000:
            raise DataError(f"data: could draw only {len(pairs):,} distinct pairs of {total:,}; ask for fewer")
        pair = draw(rng)
        if pair is not None and (k := key(pair)) not in seen:
            seen.add(k)
            pairs.append(pair)
    random.Random(f"{seed}:deal").shuffle(pairs)
    out: Splits = {}
    start = 0
    for name, size in sizes.items():
        out[name] = pairs[start : start + size]
        start += size
    return out
