"""Slot filling with intents through the tag task: the window RNNs and the joint model train on
ATIS-format files, score slots, intents and whole sentences, and tag a sentence from the command
line with its intent."""

import json

from rnnlab.cli import main
from tests.cli_errors import one_line_error
from tests.test_atis_data import _utterances

SMALL = ["--hidden-size", "8", "--embedding-size", "8", "--char-embedding-size", "0", "--epochs", "2"]


def _train(tmp_path, name, *flags, train=None, test=None):
    data = tmp_path / "train.txt"
    data.write_text(train or _utterances(40))
    extra = []
    if test is not None:
        (tmp_path / "test.txt").write_text(test)
        extra = ["--test-data", str(tmp_path / "test.txt")]
    out = tmp_path / name
    code = main(["train", "--task", "tag", "--data", str(data), "--out", str(out), *extra, *SMALL, *flags])
    return code, out


def test_the_joint_model_scores_slots_intents_and_sentences(tmp_path, capsys):
    code, out = _train(tmp_path, "joint", "--model", "joint", "--batch-size", "8")
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    test = results["test"]
    assert {"f1", "intent_accuracy", "sentence_accuracy"} <= set(test)
    assert 0 <= test["sentence_accuracy"] <= min(test["intent_accuracy"], 1.0)
    assert json.loads((out / "config.json").read_text())["tables"]["intents"] == ["atis_airfare", "atis_flight"]
    capsys.readouterr()
    assert main(["tag", str(out), "fly to boston flight 7", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["intent"] in ("atis_airfare", "atis_flight") and 0 < row["probability"] <= 1
    assert len(row["tags"]) == len(row["tokens"]) == 5
    assert main(["tag", str(out), "fly to boston flight 7"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("fly/") and printed[-1].startswith(f"  intent: {row['intent']} (")


def test_an_intent_never_seen_in_training_is_an_error(tmp_path, capsys):
    unseen = _utterances(6, ("atis_day_name",), start=40)
    code, out = _train(tmp_path, "joint", "--model", "joint", test=unseen)
    assert code == 0
    assert json.loads((out / "results.json").read_text())["test"]["intent_accuracy"] == 0.0
    assert "'atis_day_name' (6)" in capsys.readouterr().err


def test_window_models_tag_without_an_intent(tmp_path, capsys):
    for model in ("elman", "jordan"):
        code, out = _train(tmp_path, model, "--model", model, "--window", "3", "--crf", "false")
        assert code == 0, model
        results = json.loads((out / "results.json").read_text())
        assert "f1" in results["test"] and "intent_accuracy" not in results["test"]
        capsys.readouterr()
        assert main(["tag", str(out), "fly to denver", "--json"]) == 0
        (row,) = json.loads(capsys.readouterr().out)
        assert "intent" not in row and len(row["tags"]) == 3


def test_the_joint_model_without_intents_and_an_empty_sentence_are_one_line(tmp_path, capsys):
    conll = tmp_path / "train.conll"
    conll.write_text("".join(f"fly O\nto O\nboston B-city\n{i} O\n\n" for i in range(30)))
    out = tmp_path / "run"
    code = main(["train", "--task", "tag", "--data", str(conll), "--out", str(out), "--model", "joint", *SMALL])
    assert code == 2
    one_line_error(capsys, "--model joint: the training sentences have no intents")
    assert not out.exists()
    code, run = _train(tmp_path, "elman", "--model", "elman", "--epochs", "1")
    assert code == 0
    capsys.readouterr()
    assert main(["tag", str(run), "  "]) == 2
    one_line_error(capsys, "sentence 1 is empty")


class _Stub:
    """A model whose tags and intents are given: the scores are then known exactly."""

    has_intent = True

    def __init__(self, tags, intents):
        self.tags, self.intents = tags, intents

    def eval(self):
        return self

    def predict_all(self, batch):
        n = batch["words"].shape[1]
        taken, self.tags, self.intents = (self.tags[:n], self.intents[:n]), self.tags[n:], self.intents[n:]
        return taken[0], taken[1], [0.5] * n


def test_intent_and_sentence_accuracy_count_each_utterance_once():
    from rnnlab.data.conll import Sentence
    from rnnlab.data.tokens import Labels, TokenVocab
    from rnnlab.tasks.tag import TagEncoder
    from rnnlab.tasks.tag_scores import score

    words, chars = TokenVocab.build([["a", "b"]]), TokenVocab.build(["a", "b"])
    tags, intents = Labels(["B-x", "O"]), Labels(["fly", "fare"])
    encoder = TagEncoder(words, chars, tags, True, "bio", "bio", intents)
    gold = [
        Sentence(("a", "b"), ("B-x", "O"), "fly"),  # all right
        Sentence(("a", "b"), ("B-x", "O"), "fare"),  # slots right, intent wrong
        Sentence(("a", "b"), ("O", "O"), "fly"),  # intent right, a slot wrong
        Sentence(("a", "b"), ("O", "O"), "day"),  # an intent never seen: an error whatever is predicted
    ]
    # every sentence has 2 words, so they share one batch in this order
    stub = _Stub([[0, 1], [0, 1], [0, 1], [1, 1]], [0, 0, 0, 1])
    scores = score(stub, encoder, gold)
    assert scores["intent_accuracy"] == 0.5  # sentences 1 and 3
    assert scores["sentence_accuracy"] == 0.25  # sentence 1 alone
    assert scores["precision"] == 2 / 3 and scores["recall"] == 1.0  # conlleval's count of the slots


def test_the_best_weights_follow_the_scores_the_loss_trains():
    from rnnlab.models.tagger import TaggerConfig
    from rnnlab.models.taggers import build_tagger
    from rnnlab.tasks.tag import _headline

    def model(**kw):
        return build_tagger(TaggerConfig(vocab_size=5, num_tags=3, num_chars=4, hidden_size=4, embedding_size=4, **kw))

    assert _headline("bio", model(model="joint", num_intents=2)) == "val_sentence_accuracy"
    assert _headline("bio", model(model="joint", num_intents=2, slot_weight=0.0)) == "val_intent_accuracy"
    assert _headline("bio", model(model="joint", num_intents=2, intent_weight=0.0)) == "val_f1"
    assert _headline("bio", model(model="elman", window=3)) == "val_f1"
    assert model(model="elman", window=3).crf is not None and model(model="joint", crf=False).crf is None


def test_resuming_on_data_with_a_new_intent_is_one_line(tmp_path, capsys):
    code, out = _train(tmp_path, "joint", "--model", "joint", "--epochs", "1")
    assert code == 0
    (tmp_path / "train.txt").write_text(_utterances(40, ("atis_flight", "atis_city")))
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--epochs", "2"]) == 2
    one_line_error(capsys, "the training sentences have intents the run was not made with: 'atis_city'")


def test_unused_character_sizes_are_still_checked(tmp_path, capsys):
    code, _ = _train(tmp_path, "elman", "--model", "elman", "--char-embedding-size", "-5")
    assert code == 2
    one_line_error(capsys, "char_embedding_size")
