"""Word language models: the vocabulary, <unk> handling, sentence probabilities and perplexity
computed by hand, tied weights, the epoch schedule, the Penn Treebank loader and the CLI."""

import json
import math

import pytest
import torch

from rnnlab.cli import main
from rnnlab.data.vocab import CharVocab, vocab_from_json
from rnnlab.data.words import EOS, UNK, WordVocab, tokenize
from rnnlab.models.language_model import LanguageModel, ModelConfig
from rnnlab.score import score_sentences
from rnnlab.tasks.lm import evaluate
from rnnlab.train import OptimConfig
from rnnlab.train.optim import learning_rate

TEXT = "the cat sat\nthe cat ate\n\nthe dog sat down\n"


def test_vocabulary_orders_by_frequency_and_keeps_unk_and_eos_first():
    v = WordVocab.from_text(TEXT)
    assert v.words == [UNK, EOS, "the", "cat", "sat", "ate", "dog", "down"]  # ties in first-seen order
    assert WordVocab.from_text(TEXT).words == v.words  # the same text gives the same vocabulary


def test_max_size_and_min_freq_send_rare_words_to_unk():
    assert WordVocab.from_text(TEXT, max_size=4).words == [UNK, EOS, "the", "cat"]
    v = WordVocab.from_text(TEXT, min_freq=2)
    assert v.words == [UNK, EOS, "the", "cat", "sat"]
    ids = v.encode("the dog sat\nzebra")
    assert ids.tolist() == [2, 0, 4, 1, 0, 1]  # dog and zebra are <unk>; every line ends with <eos>
    assert v.unknown(v.tokens("the dog sat zebra dog")) == ["dog", "zebra"]


def test_a_text_that_marks_its_own_rare_words_keeps_one_unk():
    v = WordVocab.from_text("a <unk> b\n<unk> a\n")
    assert v.words == [UNK, EOS, "a", "b"] and v.encode("<unk> b").tolist() == [0, 3, 1]


def test_tokenizers():
    assert tokenize("Hello, world! It's 3.5 km.\n\n  \nx", "regex") == [
        ["Hello", ",", "world", "!", "It's", "3.5", "km", "."],
        ["x"],
    ]
    assert tokenize("Hello, world!", "whitespace") == [["Hello,", "world!"]]
    assert tokenize("a <unk> rose, <eos>", "regex") == [["a", "<unk>", "rose", ",", "<eos>"]]  # markers stay whole
    with pytest.raises(ValueError, match="tokenizer"):
        tokenize("x", "nltk")


def test_bad_vocabulary_options_and_empty_text():
    with pytest.raises(ValueError, match="no tokens"):
        WordVocab.from_text(" \n\n ")
    with pytest.raises(ValueError, match="max_size"):
        WordVocab.from_text(TEXT, max_size=2)
    with pytest.raises(ValueError, match="min_freq"):
        WordVocab.from_text(TEXT, min_freq=0)


def test_both_kinds_of_vocabulary_round_trip_through_json():
    words = WordVocab.from_text(TEXT, tokenizer="regex")
    back = vocab_from_json(json.loads(json.dumps(words.to_json())))
    assert isinstance(back, WordVocab) and back.words == words.words and back.tokenizer == "regex"
    chars = vocab_from_json(CharVocab.from_text("abc").to_json())
    assert isinstance(chars, CharVocab) and chars.chars == ["a", "b", "c"]
    with pytest.raises(ValueError, match="unknown kind"):
        vocab_from_json({"kind": "bpe"})
    assert words.decode(words.encode("the cat sat\nthe dog")) == "the cat sat\nthe dog\n"


def _constant_model(vocab_size: int, bias: torch.Tensor) -> LanguageModel:
    """An LSTM model whose state stays zero, so every prediction is softmax(bias)."""
    model = LanguageModel(ModelConfig(vocab_size=vocab_size, hidden_size=4, embedding_size=3))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.readout.bias.copy_(bias)
    return model


def test_sentence_probability_and_perplexity_by_hand():
    vocab = WordVocab.from_text(TEXT)  # 8 entries
    bias = torch.tensor([0.0, 1.0, 2.0, 0.5, -1.0, 0.0, 0.3, 0.0])
    model = _constant_model(len(vocab), bias)
    logp = torch.log_softmax(bias.double(), 0)
    [s, u] = score_sentences(model, vocab, ["the cat sat", "the zebra"])
    # P(the) P(cat) P(sat) P(<eos>), each softmax(bias) since the model ignores its input
    by_hand = float(logp[2] + logp[3] + logp[4] + logp[1])
    assert s.tokens == ["the", "cat", "sat", EOS] and s.logprob == pytest.approx(by_hand)
    assert s.perplexity == pytest.approx(math.exp(-by_hand / 4))
    assert u.known == [True, False, True] and u.logprobs[1] == pytest.approx(float(logp[0]))  # zebra -> <unk>
    ids = vocab.encode(TEXT * 3)  # 39 ids: 38 predictions
    mean = -float(logp[ids[1:]].mean())  # every next-token prediction
    assert evaluate(model, ids, seq_len=4, exact=True) == pytest.approx(mean, rel=1e-6)
    # 4 streams of 9 (2 chunks of 4 read, the 9th left out), and the 3 ids beyond them
    quick = -float(logp[ids[[b * 9 + 1 + k for b in range(4) for k in range(8)]]].mean())
    assert evaluate(model, ids, seq_len=4, batch_size=4) == pytest.approx(quick, rel=1e-6)


class Bigram(torch.nn.Module):
    """A causal stand-in for a model: next-word logits from a table, by the current word only."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.table = torch.randn(n, n, generator=torch.Generator().manual_seed(0))

    def forward(self, ids):
        return self.table[ids], None


def test_each_word_is_scored_given_the_words_before_it():
    vocab = WordVocab.from_text(TEXT)
    model = Bigram(len(vocab))
    [s] = score_sentences(model, vocab, ["the dog sat"])
    logp = torch.log_softmax(model.table.double(), 1)
    e, the, dog, sat = (vocab.index[w] for w in (EOS, "the", "dog", "sat"))
    expected = [logp[e, the], logp[the, dog], logp[dog, sat], logp[sat, e]]  # from <eos>, then each word
    assert s.logprobs == pytest.approx([float(v) for v in expected])


def test_score_pads_a_batch_without_changing_a_sentence():
    vocab = WordVocab.from_text(TEXT)
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), hidden_size=8, embedding_size=4))
    alone = score_sentences(model, vocab, ["the cat"])[0].logprob
    together = score_sentences(model, vocab, ["the dog sat down down down", "the cat"])[1].logprob
    # float32: a GEMM over another batch size may round differently (a few ulps of each term)
    assert together == pytest.approx(alone, rel=1e-5, abs=1e-6)
    with pytest.raises(ValueError, match="empty sentence"):
        score_sentences(model, vocab, ["  "])


def test_tied_weights_share_one_matrix_and_survive_a_checkpoint(tmp_path):
    from rnnlab import checkpoint as ckpt

    cfg = ModelConfig(vocab_size=11, hidden_size=6, embedding_size=6, tie_weights=True, init_range=0.1)
    model = LanguageModel(cfg)
    assert model.readout.weight is model.embedding.weight and float(model.readout.weight.detach().abs().max()) <= 0.1
    assert sum(p.numel() for p in model.parameters()) < sum(
        p.numel() for p in LanguageModel(ModelConfig(11, "lstm", 6, 1, 6)).parameters()
    )
    ckpt.save_weights(tmp_path / "w.safetensors", model, {})
    other = LanguageModel(cfg)
    ckpt.load_weights(tmp_path / "w.safetensors", other)
    assert (
        torch.equal(other.embedding.weight, model.embedding.weight) and other.readout.weight is other.embedding.weight
    )
    with pytest.raises(ValueError, match="tie_weights"):
        LanguageModel(ModelConfig(vocab_size=11, hidden_size=6, embedding_size=5, tie_weights=True))


def test_the_epoch_schedule_is_zarembas():
    cfg = OptimConfig(lr=1.0, schedule="epoch", lr_decay=0.5, decay_after=4)
    rates = [learning_rate(cfg, 0, 0.0, 1.0, epoch) for epoch in range(7)]
    assert rates == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25, 0.125]


def _train_words(tmp_path, text: str, *flags: str):
    (tmp_path / "words.txt").write_text(text)
    argv = ["train", "--level", "word", "--data", str(tmp_path / "words.txt"), "--out", str(tmp_path / "run")]
    argv += "--hidden-size 16 --embedding-size 8 --seq-len 8 --batch-size 4 --time-budget 0 --sample-chars 5".split()
    assert main(argv + list(flags)) == 0
    return tmp_path / "run"


def test_word_training_stops_after_max_epochs_and_saves_the_word_vocabulary(tmp_path):
    run = _train_words(tmp_path, TEXT * 60, "--max-epochs", "2", "--min-freq", "2")
    config = json.loads((run / "config.json").read_text())
    assert config["tables"]["vocab"]["kind"] == "word" and "down" in config["tables"]["vocab"]["words"]
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["epoch"] == pytest.approx(2.0) and last["val_loss"] < math.log(len(config["tables"]["vocab"]["words"]))


SENTENCES = [f"the {n} {v} full" for n, v in [("cat", "was"), ("cats", "were"), ("dog", "is"), ("dogs", "are")]]


def test_score_command_and_its_bad_input(tmp_path, capsys):
    run = _train_words(tmp_path, "\n".join(SENTENCES * 50) + "\n", "--max-steps", "5")
    capsys.readouterr()
    assert main(["score", str(run), "the cat was full", "--words", "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert [w["token"] for w in result["words"]] == ["the", "cat", "was", "full", EOS]
    assert result["logprob"] == pytest.approx(sum(w["logprob"] for w in result["words"]))
    (tmp_path / "list.txt").write_text("the cat was full\n\nthe zebra was full\n")
    assert main(["score", str(run), "--file", str(tmp_path / "list.txt")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    (tmp_path / "blank.txt").write_text(" \n\n")
    chars = tmp_path / "chars"
    argv = [
        "train",
        "--data",
        str(tmp_path / "words.txt"),
        "--out",
        str(chars),
        "--max-steps",
        "1",
        "--time-budget",
        "0",
    ]
    assert main(argv + "--hidden-size 8 --embedding-size 4 --seq-len 8 --batch-size 2 --sample-chars 0".split()) == 0
    capsys.readouterr()
    for bad, message in [
        (["score", str(run), "  "], "sentence 1 is empty"),
        (["score", str(run), "--file", str(tmp_path / "blank.txt")], "holds no sentence"),
        (["score", str(run)], "nothing to score"),
        (["score", str(chars), "the cat"], "char-level model"),
        (["score", str(tmp_path / "nope"), "the cat"], "no such directory"),
        (["units", str(run), "--text", str(tmp_path / "words.txt")], "word-level model"),
        (["visualize", str(run), "--text", str(tmp_path / "words.txt")], "word-level model"),
        (["train", "--resume", str(run), "--level", "char"], "vocabulary of a resumed run is fixed"),
        (["eval", str(run), "--split", "test"], "no test split"),
        (["train", "--level", "word", "--data", str(tmp_path / "blank.txt"), "--out", str(tmp_path / "b")], "data:"),
    ]:
        assert main(bad) == 2, bad
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
