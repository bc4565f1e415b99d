"""Corpora, vocabulary and truncated-BPTT batches."""

from pathlib import Path

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


def _read_in_a_thread(read, path):
    """What ``read(path)`` raises, from a thread; a read still waiting after 60 s is unblocked (by
    opening the FIFO for writing and closing it) and fails the test."""
    import os
    import threading

    caught = []
    thread = threading.Thread(target=lambda: caught.append(pytest.raises(DataError, read, path)), daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # the reader is waiting: give it end-of-file
        thread.join(60)
        pytest.fail(f"reading {path} blocked")
    return str(caught[0].value)


def test_a_fifo_a_device_and_a_socket_are_not_regular_files(tmp_path):
    import os
    import socket

    from rnnlab.data.conll import read_conll
    from rnnlab.data.corpora import read_data_file
    from rnnlab.data.labelled import read_table

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    for read in (load_corpus, read_table, read_conll):
        message = _read_in_a_thread(read, str(fifo))
        assert "is not a regular file (a named pipe (FIFO))" in message and "no such file" not in message
    for read in (load_corpus, lambda p: read_data_file(Path(p), ["x"], "a CSV file")):
        with pytest.raises(DataError, match=r"/dev/null is not a regular file \(a character device\)"):
            read("/dev/null")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "s.sock"))
        with pytest.raises(DataError, match=r"is not a regular file \(a socket\)"):
            read_conll(tmp_path / "s.sock")
    finally:
        sock.close()
    with pytest.raises(DataError, match=r"missing.csv: no such file \(or a name: x\)"):
        read_data_file(tmp_path / "missing.csv", ["x"], "a CSV file")
    with pytest.raises(DataError, match="is a folder; expected a CSV file"):
        read_data_file(tmp_path, ["x"], "a CSV file")


def test_a_data_file_reads_as_text_mode_did(tmp_path):
    from rnnlab.data.corpora import read_data_file

    path = tmp_path / "d.csv"
    path.write_bytes(b"\xef\xbb\xbflabel,text\r\npos,a\rneg,b\n")
    assert read_data_file(path, [], "a CSV file") == "label,text\npos,a\nneg,b\n"
