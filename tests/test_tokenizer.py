"""Tokenizers of sequence to sequence: characters, words and subwords; reserved ids; kept as JSON."""

import json

import pytest

from rnnlab.data.corpora import DataError
from rnnlab.data.symbols import BOS, EOS, PAD, SPECIALS, UNK
from rnnlab.data.tokenizer import Tokenizer, join_words, split_words

TRAIN = [
    "It's a well-known fact: 3.5 apples cost more (or less) than you think.",
    "¿Qué tal? Bien, gracias.",
    "The quick brown fox jumps over the lazy dog!",
] * 10
SEEN = "The quick fox cost 3.5 apples, gracias."


def test_words_split_and_join_back_to_the_text():
    text = "It's a well-known fact: 3.5 apples (or 1,000) cost more than you think!"
    assert split_words(text)[:6] == ["It's", "a", "well-known", "fact", ":", "3.5"]
    assert join_words(split_words(text)) == text
    assert join_words(split_words("¿Qué tal?")) == "¿Qué tal?"


@pytest.mark.parametrize("kind", ["char", "word", "subword"])
def test_round_trips_reserved_ids_and_unknown_tokens(kind):
    tok = Tokenizer.train(TRAIN, kind, vocab_size=60)
    ids = tok.encode(SEEN)
    assert tok.decode(ids) == SEEN and UNK not in ids
    assert min(ids) >= len(SPECIALS) and max(ids) < len(tok)
    assert len(tok.tokens(SEEN)) == len(ids)
    assert tok.decode([BOS, *ids, EOS, *tok.encode("fox"), PAD]) == SEEN  # stops at EOS, skips BOS
    assert tok.decode([*ids, PAD, PAD]) == SEEN
    unknown = tok.encode("The Ωmega")  # no Ω in the training texts
    assert UNK in unknown and "⁇" in tok.decode(unknown) and tok.decode(unknown).startswith("The")


def test_reserved_pieces_sit_where_the_symbols_say():
    for kind in ("char", "word"):
        assert Tokenizer.train(TRAIN, kind).vocab[:4] == list(SPECIALS)
    sp = Tokenizer.train(TRAIN, "subword", vocab_size=60).sp
    assert (sp.pad_id(), sp.bos_id(), sp.eos_id(), sp.unk_id()) == (PAD, BOS, EOS, UNK)
    assert [sp.id_to_piece(i) for i in range(4)] == list(SPECIALS)


def test_vocabulary_limits_frequency_and_case():
    words = Tokenizer.train(["b a a c c c", "A"], "word", vocab_size=6)
    assert words.vocab == [*SPECIALS, "c", "a"]  # most frequent first, at most 6 ids
    assert Tokenizer.train(["b a a c c c"], "word", min_freq=2).vocab[4:] == ["c", "a"]
    lower = Tokenizer.train(["Hola"], "char", lowercase=True)
    assert lower.decode(lower.encode("HOLA")) == "hola"
    folded = Tokenizer.train(TRAIN, "subword", vocab_size=60, lowercase=True)
    assert folded.encode("THE QUICK") == folded.encode("the quick")
    with pytest.raises(ValueError, match="kind: expected one of char, word, subword"):
        Tokenizer.train(TRAIN, "bytes")
    with pytest.raises(DataError, match="no training text"):
        Tokenizer.train(["", " "], "word")
    with pytest.raises(DataError, match=r"cannot train a vocabulary of 10: .*smaller than required_chars") as caught:
        Tokenizer.train(TRAIN, "subword", vocab_size=10)
    assert "\n" not in str(caught.value) and "trainer_interface" not in str(caught.value)


def test_subwords_learn_from_the_training_split_only():
    splits = {"train": [("the cat sat", "x")] * 5, "test": [("zebra quiz", "y")]}
    tok = Tokenizer.train((s for s, _ in splits["train"]), "subword", vocab_size=40)
    assert tok.encode("zebra quiz").count(UNK) >= 3  # z, b, q, u, i were never seen
    assert len(tok) < 40  # capped to what the data gives


@pytest.mark.parametrize("kind", ["char", "word", "subword"])
def test_json_round_trip(kind):
    tok = Tokenizer.train(TRAIN, kind, vocab_size=60)
    saved = json.loads(json.dumps(tok.to_json()))  # plain JSON, as in a run's config.json
    back = Tokenizer.from_json(saved)
    assert back.kind == kind and len(back) == len(tok) and back.encode(SEEN) == tok.encode(SEEN)
    assert back.decode(tok.encode(SEEN)) == SEEN
    assert [back.piece(i) for i in tok.encode(SEEN)] == tok.tokens(SEEN)
    if kind == "subword":
        saved["model"] = saved["model"][: len(saved["model"]) // 3]
        with pytest.raises(DataError, match="tokenizer: not a") as caught:
            Tokenizer.from_json(saved)
        assert "\n" not in str(caught.value)


def test_a_foreign_vocabulary_is_one_line():
    with pytest.raises(DataError, match=r"not a saved tokenizer \(KeyError"):
        Tokenizer.from_json({"kind": "word"})
    with pytest.raises(DataError, match=r"not a saved tokenizer \(ValueError: tokens: expected"):
        Tokenizer.from_json({"kind": "word", "lowercase": False, "tokens": ["a", "b"]})
