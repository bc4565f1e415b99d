"""Dates to ISO 8601: the written forms, their targets, one date a source, seeds and splits."""

import datetime as dt
import random
from collections import defaultdict

import pytest

from rnnlab.data.dates import LOCALES, SIZES, ambiguous, formats, make_dates, write_date
from rnnlab.data.parallel import load_parallel


def test_the_written_forms_of_the_cldr_data():
    day = dt.date(1998, 3, 3)
    assert write_date(day, "fr", "'le' d MMMM y") == "le 3 mars 1998"
    assert write_date(day, "en", "full") == "Tuesday, March 3, 1998"
    assert write_date(day, "en", "short") == "3/3/98"
    assert write_date(dt.date(2049, 12, 31), "de", "short") == "31.12.49"
    assert ambiguous("3/4/98", dt.date(1998, 3, 4))  # es writes April 3 so
    assert not ambiguous("3/3/98", day) and not ambiguous("4 mar 1998", dt.date(1998, 3, 4))


def test_the_named_set_has_its_sizes_and_every_target_is_the_date_written():
    splits = load_parallel("dates", seed=9)
    assert {k: len(v) for k, v in splits.items()} == {"train": SIZES["train"], "valid": 1_000, "test": 1_000}
    sources = [s for split in splits.values() for s, _ in split]
    assert len(set(sources)) == len(sources)  # no source twice, nor in two splits
    combos = [(loc, f) for loc in LOCALES for f in formats(loc)]
    for source, target in random.Random(0).sample(splits["train"], 150) + splits["test"][:50]:
        day = dt.date.fromisoformat(target)
        assert dt.date(1950, 1, 1) <= day <= dt.date(2049, 12, 31)
        assert any(write_date(day, loc, f) == source for loc, f in combos), (source, target)
    written = {s for s, _ in splits["train"]}
    assert any(s[0].isalpha() for s in written) and any(s[0].isdigit() and "/" in s for s in written)


def test_every_source_names_one_date_only():
    year = (dt.date(1998, 1, 1), dt.date(1998, 12, 31))  # swapping day and month keeps the year
    readings = defaultdict(set)
    for k in range(365):
        day = year[0] + dt.timedelta(days=k)
        for loc in LOCALES:
            for f in formats(loc):
                readings[write_date(day, loc, f)].add(day.isoformat())
    splits = make_dates(4, {"test": 300, "valid": 300, "train": 1_500}, *year)
    for source, target in (p for split in splits.values() for p in split):
        assert readings[source] == {target}, source
    assert any(len(r) > 1 for r in readings.values())  # there are ambiguous forms to refuse


def test_dates_are_seeded_and_dealt_from_one_pool():
    small = {"test": 40, "valid": 40, "train": 200}
    one = make_dates(1, small)
    assert one == make_dates(1, small) and one != make_dates(2, small)
    assert {k: len(v) for k, v in one.items()} == {"train": 200, "valid": 40, "test": 40}
    sources = [s for split in one.values() for s, _ in split]
    assert len(set(sources)) == len(sources)
    with pytest.raises(ValueError, match="days"):
        make_dates(0, small, dt.date(1949, 1, 1))
