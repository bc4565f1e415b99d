"""Corpora, vocabulary and truncated-BPTT batches."""

import pytest
import torch

from rnnlab.data import CharVocab, DataError, StreamBatches, load_corpus, split_text
from rnnlab.data.corpora import play_markdown_to_text

PLAY = """# Hamlet

## ACT I

### SCENE I. Elsinore.

_FRANCISCO at his post. Enter to him BERNARDO_

**BERNARDO**  
Who's there?

**FRANCISCO**  
Nay, answer me: stand, _Aside_ and unfold yourself.  
And I am sick at heart.

_Enter OBERON, with his train; from the other, TITANIA, with
hers_

**LORD POLONIUS**  
Long live the king!
"""


def test_play_markdown_becomes_plain_play_text():
    assert play_markdown_to_text(PLAY) == (
        "Bernardo:\nWho's there?\n\n"
        "Francisco:\nNay, answer me: stand,  and unfold yourself.\nAnd I am sick at heart.\n\n"
        "Lord Polonius:\nLong live the king!\n"
    )


def test_shakespeare_corpus_from_the_package():
    text = load_corpus("shakespeare")
    assert len(text) > 4_000_000
    assert "#" not in text and "**" not in text and "_" not in text
    assert "Hamlet:\nTo be, or not to be" in text


def test_paths_folders_and_globs(tmp_path):
    (tmp_path / "a.txt").write_text("alpha\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("beta")
    (tmp_path / "sub" / "c.bin").write_bytes(b"\x00\x01\x02")
    assert load_corpus(str(tmp_path / "a.txt")) == "alpha\n"
    assert load_corpus(str(tmp_path)) == "alpha\nbeta\n"  # the binary file is skipped
    assert load_corpus(str(tmp_path / "**" / "*.txt")) == "alpha\nbeta\n"


@pytest.mark.parametrize(
    "content, message",
    [(b"", "is empty"), (b"  \n", "is empty"), (b"ab\x00cd", "binary"), (b"caf\xe9 au lait", "not UTF-8")],
)
def test_unusable_files(tmp_path, content, message):
    path = tmp_path / "f.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_corpus(str(path))


def test_missing_path_names_the_corpora(tmp_path):
    with pytest.raises(DataError, match="no such file.*named corpora: shakespeare, python-stdlib"):
        load_corpus(str(tmp_path / "nope.txt"))


def test_vocab_round_trip_and_unknown_characters():
    vocab = CharVocab.from_text("hello world")
    assert vocab.decode(vocab.encode("low")) == "low"
    assert CharVocab.from_json(vocab.to_json()).chars == vocab.chars
    with pytest.raises(ValueError, match="2 character\\(s\\) outside the vocabulary: 'X' 'z'"):
        vocab.encode("Xzl")


def test_stream_batches_are_contiguous_per_stream():
    ids = torch.arange(103)
    batches = StreamBatches(ids, batch_size=2, seq_len=10)
    assert len(batches) == 5
    x0, y0, first = batches.next()
    x1, y1, _ = batches.next()
    assert first and x0.shape == (10, 2)
    assert torch.equal(y0, x0 + 1)
    assert torch.equal(x0[:, 1], torch.arange(51, 61))  # stream 1 starts half-way through
    assert torch.equal(x1[0], x0[-1] + 1)  # the next chunk continues each stream
    for _ in range(3):
        batches.next()
    assert batches.next()[2]  # a new pass after 5 chunks


def test_too_short_corpus_says_the_minimum():
    with pytest.raises(DataError, match="needs at least 321"):
        StreamBatches(torch.arange(100), batch_size=32, seq_len=10, name="training text")


def test_split_is_contiguous():
    train, val = split_text("abcdefghij", 0.2)
    assert (train, val) == ("abcdefgh", "ij")
