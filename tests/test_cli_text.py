"""``rnnlab train --task classify|tag``, ``rnnlab predict`` and ``rnnlab tag`` on tiny files, and their bad input."""

import json
import random

import pytest

from rnnlab.cli import main

POS, NEG, FILL = ["good", "great", "superb"], ["bad", "awful", "dull"], ["the", "film", "was", "a", "plot", "very"]
PEOPLE, PLACES = ["John", "Mary", "Alice"], ["Paris", "London", "Berlin"]


def _texts(path, n=120, seed=0, header="label,text"):
    rng = random.Random(seed)
    rows = [header]
    for _ in range(n):
        label = rng.choice(["pos", "neg"])
        words = [rng.choice(FILL) for _ in range(rng.randint(2, 6))]
        words.insert(rng.randrange(len(words) + 1), rng.choice(POS if label == "pos" else NEG))
        rows.append(f"{label},{' '.join(words)}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _conll(path, n=120, seed=0):
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        if rng.random() < 0.5:
            tokens = [("I", "O"), ("met", "O"), (rng.choice(PEOPLE), "B-PER"), ("Smith", "I-PER")]
        else:
            tokens = [("We", "O"), ("saw", "O"), (rng.choice(PLACES), "B-LOC")]
        pos = {"I": "PRP", "We": "PRP", "met": "VBD", "saw": "VBD", ".": "."}
        lines += [f"{t} {pos.get(t, 'NNP')} {g}" for t, g in tokens + [(".", "O")]] + [""]
    path.write_text("\n".join(lines) + "\n")
    return path


def _one_error_line(capsys, command):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"rnnlab {command}: error: ") and "Traceback" not in err[0]
    return err[0]


def _quick_classifier(tmp_path, n, *options):
    """A classifier trained for one epoch on ``n`` made-up texts (no baseline); its run directory."""
    data, out = _texts(tmp_path / "t.csv", n=n), tmp_path / "run"
    argv = ["train", "--task", "classify", "--data", str(data), "--out", str(out), "--epochs", "1"]
    assert main([*argv, "--baseline", "false", *SMALL, *options]) == 0
    return out


SMALL = ["--hidden-size", "12", "--embedding-size", "12", "--batch-size", "8", "--lr", "0.02"]


def test_classify_trains_writes_its_run_and_predicts(tmp_path, capsys):
    data, out = _texts(tmp_path / "reviews.csv", n=200), tmp_path / "cls"
    assert main(["train", "--task", "classify", "--data", str(data), "--out", str(out), "--epochs", "12", *SMALL]) == 0
    printed = capsys.readouterr().out
    assert "tf-idf + logistic regression" in printed and "val accuracy" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["sizes"] == {"train": 160, "val": 20, "test": 20}
    assert results["test"]["accuracy"] >= 0.9 and results["baseline"]["test"]["accuracy"] >= 0.9
    assert (out / "confusion.png").read_bytes()[:4] == b"\x89PNG" and (out / "model.safetensors").is_file()
    assert len((out / "metrics.jsonl").read_text().splitlines()) == results["epochs"]
    assert main(["predict", str(out), "a superb film", "the plot was awful", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in rows] == ["pos", "neg"]
    assert sum(rows[0]["probabilities"].values()) == pytest.approx(1.0)
    (tmp_path / "lines.txt").write_text("great\n\nawful\n")
    assert main(["predict", str(out), "--file", str(tmp_path / "lines.txt")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == ["pos", "neg"]


@pytest.mark.parametrize(
    "options", [["--level", "char", "--pooling", "last"], ["--pooling", "mean", "--bidirectional", "false"]]
)
def test_classify_at_char_level_and_with_other_poolings(tmp_path, capsys, options):
    out = _quick_classifier(tmp_path, 60, *options)
    config = json.loads((out / "config.json").read_text())
    assert (config["format"], config["kind"]) == ("rnnlab-run/2", "classify")
    assert "baseline" not in json.loads((out / "results.json").read_text())
    assert config["data"]["level"] == ("char" if "char" in options else "word")
    assert main(["predict", str(out), "good"]) == 0


def test_classify_bad_input_gets_one_line_and_leaves_no_run(tmp_path, capsys):
    data = _texts(tmp_path / "t.csv", n=40)
    out = tmp_path / "never"
    base = ["train", "--task", "classify", "--out", str(out)]
    nocols = _texts(tmp_path / "cols.csv", n=10, header="sentiment,body")
    assert main([*base, "--data", str(nocols)]) == 2
    assert "no column 'label' or 'text'" in _one_error_line(capsys, "train")
    test = tmp_path / "test.csv"
    test.write_text("label,text\npos,good\nmaybe,a film\n")
    assert main([*base, "--data", str(data), "--test-data", str(test)]) == 2
    assert "'maybe' never appear in the training data" in _one_error_line(capsys, "train")
    empty = tmp_path / "empty.csv"
    empty.write_text("label,text\npos,good\nneg,\n")
    assert main([*base, "--data", str(empty)]) == 2
    assert "line 3: empty text" in _one_error_line(capsys, "train")
    assert main([*base, "--data", str(data), "--pooling", "sum"]) == 2
    assert "pooling: expected one of last, mean, max" in _one_error_line(capsys, "train")
    assert main(["train", "--task", "classify"]) == 2
    assert "give --data" in _one_error_line(capsys, "train")
    assert not out.exists()


def test_tag_trains_scores_entities_and_tags_a_sentence(tmp_path, capsys):
    data, out = _conll(tmp_path / "ner.conll"), tmp_path / "tagger"
    argv = ["train", "--task", "tag", "--data", str(data), "--out", str(out), "--epochs", "15", "--patience", "0"]
    assert main([*argv, *SMALL, "--char-embedding-size", "6", "--char-hidden-size", "6"]) == 0
    printed = capsys.readouterr().out
    assert "test: precision" in printed and " PER " in printed
    results = json.loads((out / "results.json").read_text())
    assert results["scheme"] == "bio" and results["learned"] == "bioes"
    assert results["test"]["f1"] >= 0.9 and set(results["test"]["per_type"]) == {"PER", "LOC"}
    assert main(["tag", str(out), "I met Mary Smith .", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["tokens"] == ["I", "met", "Mary", "Smith", "."]
    assert row["tags"] == ["O", "O", "B-PER", "I-PER", "O"]
    assert row["entities"] == [{"type": "PER", "text": "Mary Smith", "start": 2, "end": 4}]
    assert main(["tag", str(out), "We saw Paris .", "--conll"]) == 0
    assert capsys.readouterr().out.splitlines()[2] == "Paris\tB-LOC"
    assert main(["inspect", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "tag" and report["scheme"] == "bio" and report["test"]["f1"] == results["test"]["f1"]
    assert report["tags"] == ["B-PER", "E-PER", "O", "S-LOC"] and report["parameters"] > 0


def test_a_tag_only_in_the_test_data_is_noted_and_scored_as_an_error(tmp_path, capsys):
    data, out, test = _conll(tmp_path / "ner.conll", n=40), tmp_path / "run", tmp_path / "test.conll"
    test.write_text("Acme NNP B-ORG\nsaw VBD O\nJohn NNP B-PER\n")
    argv = ["train", "--task", "tag", "--data", str(data), "--test-data", str(test), "--out", str(out), "--epochs", "1"]
    assert main([*argv, *SMALL]) == 0
    err = capsys.readouterr().err
    assert "note: test tokens with tags never seen in training, scored as errors: 'B-ORG' (1)" in err
    results = json.loads((out / "results.json").read_text())
    assert results["test"]["entities"] == 2 and results["test"]["recall"] <= 0.5


def test_iob1_tags_are_read_as_bio_and_a_baseline_without_features_is_skipped(tmp_path, capsys):
    data = _conll(tmp_path / "ner.conll", n=40)
    iob1 = tmp_path / "iob1.conll"
    iob1.write_text(data.read_text().replace("B-PER", "I-PER").replace("B-LOC", "I-LOC"))
    argv = ["train", "--task", "tag", "--data", str(iob1), "--out", str(tmp_path / "t"), "--epochs", "1", *SMALL]
    assert main(argv) == 0
    assert "note: an I- tag begins an entity (IOB1)" in capsys.readouterr().err
    assert json.loads((tmp_path / "t" / "config.json").read_text())["tables"]["tags"] == [
        "B-PER",
        "E-PER",
        "O",
        "S-LOC",
    ]
    one = tmp_path / "one.csv"
    one.write_text("label,text\n" + "".join(f"{'ab'[i % 2]},{'xy'[i % 2]}\n" for i in range(40)))
    argv = ["train", "--task", "classify", "--data", str(one), "--out", str(tmp_path / "c"), "--epochs", "1"]
    assert main([*argv, *SMALL]) == 0
    assert "note: no TF-IDF baseline" in capsys.readouterr().out
    assert "baseline_skipped" in json.loads((tmp_path / "c" / "results.json").read_text())


def test_tag_with_a_tag_column_without_entities_is_scored_by_accuracy(tmp_path, capsys):
    data, out = _conll(tmp_path / "pos.conll", n=40), tmp_path / "pos"
    argv = ["train", "--task", "tag", "--data", str(data), "--out", str(out), "--tag-column", "0", "--epochs", "2"]
    assert main([*argv, *SMALL, "--crf", "false"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["scheme"] == "none" and set(results["test"]) == {"accuracy"}
    assert "token accuracy" in capsys.readouterr().out


def test_tag_bad_input_gets_one_line(tmp_path, capsys):
    data, out = _conll(tmp_path / "ner.conll", n=30), tmp_path / "never"
    base = ["train", "--task", "tag", "--out", str(out)]
    assert main([*base, "--data", str(data), "--tag-scheme", "iob3"]) == 2
    assert "tag_scheme: expected one of auto, bio, bioes, none" in _one_error_line(capsys, "train")
    assert main([*base, "--data", str(data), "--tag-scheme", "bioes", "--tag-column", "0"]) == 2
    assert "do not fit the bioes scheme" in _one_error_line(capsys, "train")
    assert main([*base, "--data", str(tmp_path / "nothing.conll")]) == 2
    assert "no such file" in _one_error_line(capsys, "train")
    assert not out.exists()


def test_predict_and_tag_refuse_the_wrong_run_and_empty_text(tmp_path, capsys):
    out = _quick_classifier(tmp_path, 40)
    capsys.readouterr()
    assert main(["tag", str(out), "a sentence"]) == 2
    assert "is a classifier (rnnlab train --task classify" in _one_error_line(capsys, "tag")
    assert main(["predict", str(out), "  "]) == 2
    assert "text 1 is empty" in _one_error_line(capsys, "predict")
    assert main(["predict", str(out)]) == 2
    assert "nothing to classify" in _one_error_line(capsys, "predict")
    assert main(["predict", str(tmp_path), "x"]) == 2
    assert "is not a run directory" in _one_error_line(capsys, "predict")
    assert main(["sample", str(out)]) == 2
    assert "rnnlab predict" in _one_error_line(capsys, "sample")
    assert main(["train", "--task", "classify", "--data", str(tmp_path / "t.csv"), "--out", str(out)]) == 2
    assert "already holds a run" in _one_error_line(capsys, "train")


def test_train_help_names_the_tasks(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--task", "tag", "--help"])
    text = capsys.readouterr().out
    assert "--crf" in text and "conll2003" in text and "--tag-scheme" in text


def test_a_config_edited_so_a_table_no_longer_fits_the_model_is_one_line(tmp_path, capsys):
    out = _quick_classifier(tmp_path, 60)
    config = json.loads((out / "config.json").read_text())
    config["tables"]["labels"] = config["tables"]["labels"][:1]  # the model still has two classes
    (out / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert main(["predict", str(out), "a good film"]) == 2
    line = _one_error_line(capsys, "predict")
    assert line.endswith("config.json is damaged (labels: 1 entries for a model of 2)") and line.count("damaged") == 1
