"""Utterances with BIO slot tags and an intent, one a line (the ATIS format), and reading a tagged
file in either format.

Each line is the utterance's words, each joined to its slot tag by a colon, then ``<=>`` and the
utterance's intent::

    i:O want:O to:O fly:O from:O baltimore:B-fromloc.city_name to:O dallas:B-toloc.city_name <=> atis_flight

A word is split from its tag at its last colon (``7:30:B-depart_time.time`` is the word ``7:30``).
Slot tags are BIO: ``O``, or ``B-X`` to begin a slot and ``I-X`` to continue it. An intent is one
label as written, joint labels such as ``atis_flight;atis_airfare`` included. Blank lines are
skipped.

A tagged file the user names (:func:`read_tagged`) is read in this format when its first non-blank
line holds ``<=>``, else as a CoNLL file (:mod:`rnnlab.data.conll`).
"""

from __future__ import annotations

from pathlib import Path

from rnnlab.data.conll import CONLL, Sentence, first_iob1, parse_conll
from rnnlab.data.corpora import DataError, read_data_file

SEPARATOR = "<=>"


def _word_and_tag(pair: str) -> tuple[str, str]:
    """The word and tag of ``word:TAG``, or raises a DataError without the line's place."""
    word, colon, tag = pair.rpartition(":")
    if not colon:
        raise DataError(f"{pair!r} lacks its tag (no colon); expected word:TAG")
    if not word:
        raise DataError(f"{pair!r} has an empty word; expected word:TAG")
    if not tag:
        raise DataError(f"{pair!r} lacks its tag (nothing after the last colon); expected word:TAG")
    return word, tag


def _check_bio(words: list[str], tags: list[str]) -> None:
    """Raises a DataError (without the line's place) at the first tag that breaks BIO."""
    for k, (word, tag) in enumerate(zip(words, tags), 1):
        if tag != "O" and (len(tag) < 3 or tag[:2] not in ("B-", "I-")):
            raise DataError(f"word {k} {word!r} has the slot tag {tag!r}, neither O nor B-X / I-X")
    broken = first_iob1(tags)
    if broken is not None:
        word, tag = words[broken], tags[broken]
        raise DataError(
            f"word {broken + 1} {word!r} has the slot tag {tag!r}, which does not follow B-{tag[2:]} or {tag} (BIO)"
        )


def _utterance(line: str) -> Sentence:
    """The sentence of one non-blank line, or raises a DataError without the line's place."""
    words_part, separator, intent = line.partition(SEPARATOR)
    if not separator:
        raise DataError(f"no {SEPARATOR!r} before the intent; expected 'word:TAG ... {SEPARATOR} intent'")
    intent = intent.strip()
    if not intent:
        raise DataError(f"no intent after {SEPARATOR!r}")
    if len(intent.split()) > 1:
        raise DataError(f"intent {intent!r} is more than one label")
    pairs = [_word_and_tag(p) for p in words_part.split()]
    if not pairs:
        raise DataError(f"no words before {SEPARATOR!r} (an empty utterance)")
    words, tags = [w for w, _ in pairs], [t for _, t in pairs]
    _check_bio(words, tags)
    return Sentence(tuple(words), tuple(tags), intent)


def parse_atis(text: str, where: str = "data") -> list[Sentence]:
    """The utterances of ATIS-format ``text`` (see the module docstring), with their slot tags and
    intents; ``where`` names the text in errors.

    Raises:
        DataError: one line naming ``where`` and the line number: a line without ``<=>``, a word
            without its tag, no words or no intent, a slot tag that breaks BIO; or no utterances.
    """
    sentences = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            sentences.append(_utterance(line))
        except DataError as e:
            raise DataError(f"{where} line {number}: {e}") from None
    if not sentences:
        raise DataError(f"{where}: no utterances")
    return sentences


def is_atis(text: str) -> bool:
    """Whether ``text`` is in the ATIS format: its first non-blank line holds ``<=>``."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return SEPARATOR in first


def read_atis(path: str | Path) -> list[Sentence]:
    """The utterances of an ATIS-format file (see :func:`parse_atis`)."""
    path = Path(path)
    return parse_atis(read_data_file(path, CONLL, "an ATIS-format file"), f"data: {path}")


def read_tagged(path: str | Path, column: int = -1) -> list[Sentence]:
    """The sentences of a tagged file: ATIS format if its first non-blank line holds ``<=>``, else
    CoNLL with the tags of ``column`` (see :func:`rnnlab.data.conll.parse_conll`)."""
    path = Path(path)
    text = read_data_file(path, CONLL, "a CoNLL or ATIS-format file")
    if is_atis(text):
        return parse_atis(text, f"data: {path}")
    return parse_conll(text, column, f"data: {path}")


def check_formats(splits: dict[str, list[Sentence]]) -> None:
    """Refuses splits of which some have intents (ATIS format) and others do not (CoNLL format).

    Raises:
        DataError: one line naming the splits of each kind.
    """
    with_intents = {name: any(s.intent is not None for s in split) for name, split in splits.items()}
    if len(set(with_intents.values())) > 1:
        have = ", ".join(n for n, has in with_intents.items() if has)
        lack = ", ".join(n for n, has in with_intents.items() if not has)
        raise DataError(
            f"data: the {have} sentences have intents (ATIS format) but the {lack} sentences do not (CoNLL "
            "format); give every split in one format"
        )
