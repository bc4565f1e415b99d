"""Dates written the way people write them, to ISO 8601: ``"le 3 mars 1998"``, ``"Tuesday, March 3,
1998"`` and ``"3/3/98"`` all to ``"1998-03-03"``: a small translation task whose answer is checkable,
for trying attention, in several languages.

The written forms come from the Unicode CLDR data that Babel carries (pinned ``babel==2.19.0``, so a
seed gives the same pairs on every machine): :func:`babel.dates.format_date` with the four standard
formats ``short``, ``medium``, ``long`` and ``full`` and two patterns of each locale's own
(:data:`PATTERNS`, in the pattern syntax of Unicode TR35), over the locales of :data:`LOCALES`:
English (US), French, German, Spanish, Italian, Portuguese, Dutch and Polish, all written with ASCII
digits. A pair draws a day uniformly from 1950-01-01 to 2049-12-31, a locale, then one of its formats.

Every source names one date only. Years of two digits (``short`` in en, de, es, it) stand for
1950-2049, as the range is one century. A month written as a word fixes the month; among digit-only
forms the locales order day and month differently (en ``3/4/98`` is March 4, es ``3/4/98`` is April
3), so a digit-only source that another locale would write for the date with day and month swapped
is refused and drawn again (:func:`ambiguous`).

Splits (:data:`SIZES`): 22,000 distinct sources drawn with a fixed seed and dealt at random into
20,000 training, 1,000 validation and 1,000 test pairs, so no source text is in two splits or twice
in one (:func:`rnnlab.data.parallel.draw_splits`). A date may come back in another split written another way:
that is the task.
"""

from __future__ import annotations

import datetime as dt
import functools
import random

from babel import Locale
from babel.dates import format_date

from rnnlab.data.parallel import Pair, Splits, draw_splits

LOCALES = ("en", "fr", "de", "es", "it", "pt", "nl", "pl")
STANDARD = ("short", "medium", "long", "full")
#: each locale's own patterns: a date as said in a sentence, and with an abbreviated weekday
PATTERNS: dict[str, tuple[str, ...]] = {
    "en": ("d MMM y", "EEE, d MMM y"),
    "fr": ("'le' d MMMM y", "EEE d MMM y"),
    "de": ("'am' d. MMMM y", "EEE, d. MMM y"),
    "es": ("'el' d 'de' MMMM 'de' y", "EEE d MMM y"),
    "it": ("'il' d MMMM y", "EEE d MMM y"),
    "pt": ("'em' d 'de' MMMM 'de' y", "EEE, d MMM y"),
    "nl": ("'op' d MMMM y", "EEE d MMM y"),
    "pl": ("'dnia' d MMMM y", "EEE, d MMM y"),
}
FIRST, LAST = dt.date(1950, 1, 1), dt.date(2049, 12, 31)
#: pairs a split; drawn in this order (test first, so it does not depend on the training size)
SIZES = {"test": 1_000, "valid": 1_000, "train": 20_000}


def formats(locale: str) -> tuple[str, ...]:
    """The formats a date of ``locale`` is written in: the standard four, then its own patterns."""
    return STANDARD + PATTERNS[locale]


@functools.cache
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def write_date(day: dt.date, locale: str, fmt: str) -> str:
    """``day`` as ``locale`` writes it in ``fmt`` (a standard format name or a TR35 pattern)."""
    return format_date(day, fmt, locale=_locale(locale))


@functools.cache
def _digit_forms() -> tuple[tuple[str, str], ...]:
    """The (locale, format) pairs that write a date in digits and punctuation only."""
    probe = dt.date(2001, 11, 22)
    return tuple(
        (loc, f) for loc in LOCALES for f in formats(loc) if not any(c.isalpha() for c in write_date(probe, loc, f))
    )


def ambiguous(text: str, day: dt.date) -> bool:
    """Whether ``text``, written for ``day``, is also how some locale writes another date.

    Only a digit-only text can be: its year is four digits or two read in 1950-2049, so the only
    other date it can stand for is ``day`` with day and month swapped.
    """
    if any(c.isalpha() for c in text) or day.day == day.month or day.day > 12:
        return False
    other = day.replace(month=day.day, day=day.month)
    return FIRST <= other <= LAST and any(write_date(other, loc, f) == text for loc, f in _digit_forms())


def draw_date(rng: random.Random, first: dt.date = FIRST, last: dt.date = LAST) -> Pair | None:
    """One ``(written date, ISO date)`` pair, or ``None`` for an ambiguous draw.

    Args:
        rng: the generator to draw the day, the locale and the format with.
        first: the earliest day drawn.
        last: the latest day drawn.
    """
    day = first + dt.timedelta(days=rng.randrange((last - first).days + 1))
    locale = rng.choice(LOCALES)
    text = write_date(day, locale, rng.choice(formats(locale)))
    return None if ambiguous(text, day) else (text, day.isoformat())


def make_dates(
    seed: int = 0, sizes: dict[str, int] | None = None, first: dt.date = FIRST, last: dt.date = LAST
) -> Splits:
    """The date-translation pairs of ``seed`` (see the module docstring).

    Args:
        seed: seeds each split's generator (the same seed gives the same pairs).
        sizes: split name -> pairs, in the order drawn (default :data:`SIZES`).
        first: the earliest day (no earlier than 1950-01-01).
        last: the latest day (no later than 2049-12-31).

    Returns:
        ``{"train": [...], "valid": [...], "test": [...]}`` of ``(source, "YYYY-MM-DD")`` pairs.

    Raises:
        ValueError: days outside 1950-2049, or ``first`` after ``last``.
        DataError: more pairs asked for than the days and formats can write.
    """
    if not FIRST <= first <= last <= LAST:
        raise ValueError(f"days: expected {FIRST} <= first <= last <= {LAST}, got {first} and {last}")
    splits = draw_splits(lambda rng: draw_date(rng, first, last), sizes or SIZES, seed)
    return {name: splits[name] for name in ("train", "valid", "test") if name in splits}
