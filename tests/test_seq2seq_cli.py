"""``rnnlab train --task seq2seq``, ``rnnlab translate`` and ``rnnlab eval`` on a tiny TSV, and the
bad input each refuses with one line and exit status 2, writing nothing."""

import json
import random

import pytest
import sacrebleu

from rnnlab.cli import main
from rnnlab.metrics.translation import bleu_by_length, translation_scores

WORDS = ["red", "blue", "green", "cat", "dog", "sun", "moon", "tree"]


def _pairs(n=400):
    """Word reversal: a small task a tiny model learns in a few hundred steps."""
    rng = random.Random(0)
    rows = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 4))]
        rows.append((" ".join(words), " ".join(reversed(words))))
    return rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("s2s")
    tsv = root / "pairs.tsv"
    tsv.write_text("source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in _pairs()))
    out = root / "run"
    argv = [
        *("train", "--task", "seq2seq", "--data", str(tsv), "--out", str(out), "--tokens", "word"),
        *("--hidden-size", "32", "--embedding-size", "16", "--max-steps", "400", "--lr", "0.01"),
        *("--batch-size", "16", "--eval-every", "100", "--eval-sentences", "20", "--test-beam", "2"),
        *("--val-fraction", "0.1", "--test-fraction", "0.1"),
    ]
    assert main(argv) == 0
    return root, out


def test_train_translate_and_eval(trained, capsys):
    root, out = trained
    capsys.readouterr()
    assert main(["translate", str(out), "red cat sun", "--beam", "3"]) == 0
    assert capsys.readouterr().out.strip() == "sun cat red"
    assert main(["translate", str(out), "dog tree", "--beam", "3", "--nbest", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["source"] == "dog tree" and len(rows[0]["translations"]) == 2
    scores = [t["score"] for t in rows[0]["translations"]]
    assert scores[0] >= scores[1] and rows[0]["translations"][0]["text"] == "tree dog"
    png = root / "att.png"
    assert main(["translate", str(out), "red cat sun", "--attention", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out.strip() == "sun cat red"
    assert main(["eval", str(out), "--split", "test", "--beam", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "test" and result["beam"] == 2 and result["exact"] > 0.5
    assert result["by_length"][0]["words"] == "1-10"
    assert main(["inspect", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "seq2seq" and report["test"]["bleu"] > 0


def test_sampling_is_seeded(trained, capsys):
    _, out = trained
    capsys.readouterr()
    runs = []
    for _ in range(2):
        assert main(["translate", str(out), "red cat sun", "--temperature", "1.5", "--seed", "3"]) == 0
        runs.append(capsys.readouterr().out)
    assert runs[0] == runs[1] and runs[0].strip()


def _refused(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, err
    return err


def test_bad_input_is_refused_and_nothing_written(tmp_path, capsys, trained):
    _, out = trained
    src, tgt = tmp_path / "a.src", tmp_path / "a.tgt"
    src.write_text("one\ntwo\nthree\n")
    tgt.write_text("uno\ndos\n")
    train = ["train", "--task", "seq2seq", "--out", str(tmp_path / "o"), "--max-steps", "1"]
    _refused(capsys, [*train, "--data", f"{src},{tgt}"], "3", "2")
    tgt.write_text("uno\n\ntres\n")
    _refused(capsys, [*train, "--data", f"{src},{tgt}"], "line 2")
    tsv = tmp_path / "p.tsv"
    tsv.write_text("en\tes\nhello\thola\n")
    _refused(capsys, [*train, "--data", str(tsv)], "en, es", "--source-column")
    assert not (tmp_path / "o").exists()
    _refused(capsys, ["translate", str(out), "  "], "empty")
    _refused(capsys, ["translate", str(out), "red", "--temperature", "1", "--beam", "3"], "--temperature")
    _refused(capsys, ["translate", str(out), "red", "--nbest", "3", "--beam", "2"], "--nbest")
    _refused(capsys, ["translate", str(out), "red", "--attention", str(tmp_path / "a.jpg")], ".png")
    assert not (tmp_path / "a.jpg").exists()


def test_translate_refuses_other_runs(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat.\n" * 80)
    lm = tmp_path / "lm"
    argv = ["train", "--data", str(corpus), "--out", str(lm), "--max-steps", "2", "--hidden-size", "8"]
    assert main([*argv, "--embedding-size", "4", "--seq-len", "8", "--batch-size", "2", "--sample-chars", "0"]) == 0
    capsys.readouterr()
    _refused(capsys, ["translate", str(lm), "hello"], "lm")


def test_bleu_is_sacrebleu():
    hyps = ["the cat sat on the mat", "a dog ran", "hello there"]
    refs = ["the cat sat on a mat", "the dog ran", "hello there"]
    found = translation_scores(hyps, refs)
    assert found["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
    assert found["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score, abs=1e-9)
    assert found["exact"] == pytest.approx(1 / 3) and found["signature"].startswith("nrefs:1")
    buckets = bleu_by_length(["a " * 12, "b", "c d"], hyps, refs)
    assert [b["sentences"] for b in buckets] == [2, 1] and buckets[1]["words"] == "11-20"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dates", "addition"])
def test_named_sets_train_and_score_by_exact_match(tmp_path, capsys, name):
    out = tmp_path / name
    argv = [
        *("train", "--task", "seq2seq", "--data", name, "--out", str(out), "--hidden-size", "16"),
        *("--embedding-size", "8", "--max-steps", "20", "--eval-every", "10", "--eval-sentences", "20"),
        *("--test-beam", "1", "--threads", "1"),
    ]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["tokens"] == "auto" and config["tables"]["source"]["kind"] == "char"
    results = json.loads((out / "results.json").read_text())
    assert results["metric"] == "val_exact" and 0 <= results["test"]["exact"] <= 1
    assert results["sizes"]["test"] == {"dates": 1_000, "addition": 5_000}[name]


def test_attention_labels_show_white_space_and_drop_the_word_mark():
    from rnnlab.viz.attention import _label

    assert [_label(p) for p in ["\u2581En", "\u2581", " ", "ginning"]] == ["En", "\u2581", "\u2423", "ginning"]
