"""Samples over training (``samples.jsonl``, ``rnnlab samples``), a held-out test split, a CPU-time budget."""

import json
import time

import pytest

from rnnlab.cli import main
from rnnlab.data.stream import load_splits
from rnnlab.fileio import append_jsonl
from rnnlab.models.language_model import ModelConfig
from rnnlab.runs import read_metrics, read_samples
from rnnlab.tasks import LanguageModelTask, resume
from rnnlab.tasks.lm import LMDataConfig
from rnnlab.train import OptimConfig, RunConfig, Trainer
from tests.cli_errors import one_line_error
from tests.test_train import TEXT, Quiet


@pytest.fixture
def corpus(tmp_path):
    (tmp_path / "corpus.txt").write_text(TEXT)
    return str(tmp_path / "corpus.txt")


def _train(corpus, out, max_steps, **data):
    cfg = LMDataConfig(data=corpus, seq_len=16, sample_chars=30, **data)
    run = RunConfig(eval_every=3, max_steps=max_steps, time_budget="")
    task = LanguageModelTask(ModelConfig(hidden_size=16, embedding_size=8), cfg, 4, run.seed)
    return Trainer(task, out, OptimConfig(batch_size=4, schedule="step"), run, Quiet()).run()


def test_every_evaluation_appends_its_sample_and_resume_keeps_them(tmp_path, corpus):
    out = tmp_path / "run"
    _train(corpus, out, 5)
    first = read_samples(out)
    assert [s["step"] for s in first] == [3, 5]
    assert all(len(s["text"]) == 30 and s["val_loss"] > 0 and "elapsed_s" in s for s in first)
    assert [s["val_loss"] for s in first] == [r["val_loss"] for r in read_metrics(out)]
    append_jsonl(out / "samples.jsonl", {"step": 99, "elapsed_s": 1.0, "val_loss": 1.0, "text": "after the checkpoint"})
    resume(out, {"max_steps": 11}, Quiet()).run()
    again = read_samples(out)
    assert [s["step"] for s in again] == [3, 5, 6, 9, 11]  # the record past the checkpoint was dropped
    assert again[:2] == first


def test_rnnlab_samples_prints_a_timeline(tmp_path, corpus, capsys):
    out = tmp_path / "run"
    _train(corpus, out, 6)
    capsys.readouterr()
    assert main(["samples", str(out)]) == 0
    shown = capsys.readouterr().out
    texts = [s["text"] for s in read_samples(out)]
    assert shown.index("==== step 3 ·") < shown.index(texts[0].strip()) < shown.index("==== step 6 ·")
    assert "nats (" in shown and "bits)" in shown
    assert main(["samples", str(out), "--last", "1", "--json", "--chars", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["step"] == 6 and json.loads(lines[0])["text"] == texts[1][:5]


def test_rnnlab_samples_refuses_what_it_cannot_show(tmp_path, corpus, capsys):
    out = tmp_path / "run"
    _train(corpus, out, 3)
    (out / "samples.jsonl").unlink()
    assert main(["samples", str(out)]) == 2
    one_line_error(capsys, "has no samples", "--sample-chars")
    assert main(["samples", str(tmp_path / "nothing")]) == 2
    one_line_error(capsys, "nothing")
    assert main(["samples", str(out), "--every", "0"]) == 2
    one_line_error(capsys, "--every")


def test_a_test_fraction_holds_out_the_end_of_the_text(tmp_path, corpus):
    whole = load_splits(corpus, 0.1)
    splits = load_splits(corpus, 0.1, 0.05)
    assert "".join(splits.values()) == "".join(whole.values()) == TEXT
    assert len(splits["test"]) == round(len(TEXT) * 0.05) and len(splits["valid"]) == len(whole["valid"])
    summary = _train(corpus, tmp_path / "run", 3, test_fraction=0.2)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["test_tokens"] == round(len(TEXT) * 0.2) - 1 and results["test_loss"] > 0
    assert summary["steps"] == 3
    with pytest.raises(ValueError, match="test_fraction"):
        LMDataConfig(data=corpus, val_fraction=0.5, test_fraction=0.5).validate()


def test_a_cpu_clock_budget_counts_the_process_s_cpu_time(tmp_path, corpus):
    cfg = LMDataConfig(data=corpus, seq_len=16, sample_chars=0)
    run = RunConfig(eval_every=50, time_budget="1s", clock="cpu")
    task = LanguageModelTask(ModelConfig(hidden_size=16, embedding_size=8), cfg, 4, run.seed)
    before = time.process_time()
    summary = Trainer(task, tmp_path / "run", OptimConfig(batch_size=4), run, Quiet()).run()
    assert summary["stopped"] == "time budget" and 1.0 <= summary["seconds"] <= time.process_time() - before
    with pytest.raises(ValueError, match="clock"):
        RunConfig(clock="sundial").validate()


def test_a_kill_at_the_checkpoint_loses_no_sample_and_a_bad_line_stops_nothing(tmp_path, corpus, monkeypatch, capsys):
    import rnnlab.train.trainer as trainer_module

    out, save = tmp_path / "run", trainer_module.save_state
    calls = []

    def killed(*args, **kwargs):  # the second checkpoint (step 6) dies as it is written
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return save(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "save_state", killed)
    with pytest.raises(KeyboardInterrupt):
        _train(corpus, out, 9)
    monkeypatch.setattr(trainer_module, "save_state", save)
    assert [s["step"] for s in read_samples(out)] == [3, 6]  # written before the checkpoint
    with open(out / "samples.jsonl", "a") as f:
        f.write("{not json\n")
    resume(out, {"max_steps": 9}, Quiet()).run()
    assert [s["step"] for s in read_samples(out)] == [r["step"] for r in read_metrics(out)] == [3, 6, 9]
    assert main(["samples", str(out), "--json"]) == 0
    assert [json.loads(line)["step"] for line in capsys.readouterr().out.splitlines()] == [3, 6, 9]
    assert main(["train", "--resume", str(out), "--clock", "cpu"]) == 2
    one_line_error(capsys, "--clock: fixed for a resumed run")


def test_a_test_split_too_short_for_one_chunk_is_refused_before_training(tmp_path, corpus, capsys):
    out = tmp_path / "run"
    argv = ["train", "--data", corpus, "--out", str(out), "--test-fraction", "0.0001", "--max-steps", "1"]
    assert main(argv) == 2
    one_line_error(capsys, "the test text has", "--test-fraction")
    assert not out.exists()
