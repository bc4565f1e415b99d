"""The named classification and tagging data sets, read from their package archives."""

import collections
import io
import tarfile
import zipfile

import pytest

from rnnlab.data.conll import CONLL
from rnnlab.data.corpora import DataError
from rnnlab.data.labelled import LABELLED
from rnnlab.data.packages import package_file


def test_package_file_reads_a_wheel_or_an_sdist_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    folder = tmp_path / "packages"
    folder.mkdir()
    with zipfile.ZipFile(folder / "some_pkg-1.0-py3-none-any.whl", "w") as z:
        z.writestr("some_pkg/data/a.txt", "hello")
    assert package_file("some-pkg", "1.0", "some_pkg/data/a.txt") == b"hello"
    with pytest.raises(DataError, match="has no file some_pkg/b.txt"):
        package_file("some-pkg", "1.0", "some_pkg/b.txt")
    with tarfile.open(folder / "other-2.0.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("other-2.0/test/x.csv")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"a,b"))
    assert package_file("other", "2.0", "test/x.csv", sdist=True) == b"a,b"


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
