"""Many classes and long sentences: the files a run writes and the memory scoring takes stay bounded."""

import json

import pytest
import torch

from rnnlab.cli import main
from rnnlab.commands import predict
from rnnlab.data.words import WordVocab
from rnnlab.models.language_model import LanguageModel, ModelConfig
from rnnlab.score import score_sentences

SMALL = ["--hidden-size", "8", "--embedding-size", "8", "--batch-size", "32", "--epochs", "1", "--baseline", "false"]


def test_a_run_of_many_classes_logs_scalars_and_keeps_no_square_matrix(tmp_path, capsys, monkeypatch):
    classes = 101  # more than a confusion matrix is kept for (100) or drawn for (50)
    rows = "".join(f"c{k},word{k} and text {r}\n" for k in range(classes) for r in range(5))
    data, out = tmp_path / "many.csv", tmp_path / "run"
    data.write_text("label,text\n" + rows)
    assert main(["train", "--task", "classify", "--data", str(data), "--out", str(out), *SMALL]) == 0
    assert f"note: no confusion.png for {classes} classes (drawn for up to 50)" in capsys.readouterr().out
    assert not (out / "confusion.png").exists()
    for line in (out / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert {"val_accuracy", "val_macro_f1", "val_loss"} <= set(record), record
        assert all(isinstance(v, (int, float)) for v in record.values()), record
    results = json.loads((out / "results.json").read_text())
    for split in ("val", "test"):
        assert "confusion" not in results[split] and len(results[split]["per_class"]) == classes
        assert len(results[split]["most_confused"]) <= 20
    assert main(["inspect", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["test"]["accuracy"] == results["test"]["accuracy"]
    monkeypatch.setattr(predict, "CHUNK", 2)  # three texts: two pieces, printed as one JSON list
    assert main(["predict", str(out), "word1 and", "word2 text", "word3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["text"] for r in rows] == ["word1 and", "word2 text", "word3"]
    assert all(
        len(r["probabilities"]) == classes and sum(r["probabilities"].values()) == pytest.approx(1) for r in rows
    )


class Recorder(torch.nn.Module):
    """A language model that records how many steps each call reads."""

    def __init__(self, model: LanguageModel) -> None:
        super().__init__()
        self.model, self.steps = model, []

    def forward(self, ids, state=None):
        self.steps.append(ids.shape[0])
        return self.model(ids, state)


def test_a_long_sentence_is_scored_in_pieces_with_the_state_carried():
    text = "the cat sat on the mat and the dog ate the bone\n"
    vocab = WordVocab.from_text(text)
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), hidden_size=8, embedding_size=4)).eval()
    words = text.split() * 5  # 60 words and <eos>: 61 predictions
    ids = vocab.ids(["<eos>", *words, "<eos>"]).unsqueeze(1)
    with torch.no_grad():  # the whole sentence at once, in float64
        whole = torch.log_softmax(model(ids[:-1])[0].double(), -1).gather(2, ids[1:].unsqueeze(2)).flatten()
    recorder = Recorder(model)
    [s] = score_sentences(recorder, vocab, [" ".join(words)], max_logits=7 * len(vocab))
    assert max(recorder.steps) == 7 and sum(recorder.steps) == 61
    assert s.logprobs == pytest.approx(whole.tolist(), abs=1e-5)
    assert s.logprob == pytest.approx(float(whole.sum()), abs=1e-4)


def test_sentences_come_back_in_their_order_whatever_their_length():
    vocab = WordVocab.from_text("a b c d e\n")
    torch.manual_seed(1)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), hidden_size=6, embedding_size=3))
    sentences = ["a b c d e a b", "c", "d e", "a b c", "e"]
    alone = [score_sentences(model, vocab, [s])[0] for s in sentences]
    together = score_sentences(model, vocab, sentences, batch=2, max_logits=3 * len(vocab))
    assert [s.text for s in together] == sentences
    for a, b in zip(alone, together):
        assert b.logprobs == pytest.approx(a.logprobs, abs=1e-5)
