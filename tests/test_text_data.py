"""The named classification and tagging data sets, read from their package archives."""

import collections

import pytest

from rnnlab.data.conll import CONLL
from rnnlab.data.labelled import LABELLED


@pytest.mark.slow  # reads two corpora out of a package archive
def test_pang_lee_sentences_and_reviews():
    sentences = LABELLED["pang-lee"]()
    assert collections.Counter(e.label for e in sentences) == {"positive": 2000, "negative": 2000}
    assert sentences[0].text.startswith("the rock is destined to be the 21st century's new")
    reviews = LABELLED["pang-lee-reviews"]()
    assert collections.Counter(e.label for e in reviews) == {"positive": 750, "negative": 750}
    assert sum(len(e.text.split()) for e in reviews) / len(reviews) > 500


def test_tweets_in_three_classes():
    tweets = LABELLED["tweets"]()
    assert collections.Counter(e.label for e in tweets) == {"negative": 16186, "neutral": 15018, "positive": 6954}
    assert all(e.text for e in tweets)


@pytest.mark.slow  # reads three corpora out of a package archive
def test_conll2003_splits_and_columns():
    ner = CONLL["conll2003"]()
    assert {k: len(v) for k, v in ner.items()} == {"train": 14041, "val": 3250, "test": 3453}
    assert ner["train"][0].tokens[:3] == ("EU", "rejects", "German")
    assert ner["train"][0].tags[:3] == ("B-ORG", "O", "B-MISC")
    assert {t for s in ner["train"] for t in s.tags} == {
        "O",
        *(f"{p}-{k}" for p in "BI" for k in ("PER", "LOC", "ORG", "MISC")),
    }
    assert CONLL["conll2003-pos"]()["train"][0].tags[:3] == ("NNP", "VBZ", "JJ")
    assert CONLL["conll2003-chunk"]()["train"][0].tags[:3] == ("B-NP", "B-VP", "B-NP")
