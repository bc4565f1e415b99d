"""One run format for every kind of training: resume from the command line, runs of earlier
versions, and a run of one kind refused where another is needed."""

import json
import os
import signal
import subprocess
import sys

import pytest

from rnnlab.cli import main
from rnnlab.runs import read_config, read_metrics
from tests.cli_errors import one_line_error
from tests.test_cli_text import _texts

QUICK = ["--hidden-size", "8", "--embedding-size", "8", "--batch-size", "16", "--seed", "3"]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    base = tmp_path_factory.mktemp("classify")
    out, data = base / "run", _texts(base / "texts.csv")
    argv = ["train", "--task", "classify", "--data", str(data), "--out", str(out), "--epochs", "2", *QUICK]
    assert main([*argv, "--baseline", "false"]) == 0
    return out


def test_a_classifier_resumes_from_the_command_line(classifier, capsys):
    assert read_config(classifier).kind == "classify"
    assert main(["train", "--resume", str(classifier), "--epochs", "3"]) == 0
    said = capsys.readouterr().out
    assert "epoch 3" in said and "predict with" in said
    assert [r["epoch"] for r in read_metrics(classifier)] == [1.0, 2.0, 3.0]
    assert main(["predict", str(classifier), "a superb film"]) == 0


def test_a_resumed_run_keeps_its_data_order_and_batch(classifier, capsys):
    before = (classifier / "config.json").read_text()
    for flag in (["--seed", "7"], ["--batch-size", "4"], ["--test-fraction", "0.2"]):
        assert main(["train", "--task", "classify", "--resume", str(classifier), "--epochs", "9", *flag]) == 2
        one_line_error(capsys, f"{flag[0]}: fixed for a resumed run")
    assert (classifier / "config.json").read_text() == before


def test_cell_options_reach_the_classifier(tmp_path, capsys):
    data, out = _texts(tmp_path / "texts.csv"), tmp_path / "run"
    argv = ["train", "--task", "classify", "--data", str(data), "--out", str(out), "--epochs", "1", *QUICK]
    assert main([*argv, "--cell", "irnn", "--cell-options", '{"scale": 0.5}', "--baseline", "false"]) == 0
    assert read_config(out).sections["model"]["cell_options"] == {"scale": 0.5}
    assert main([*argv, "--force", "--cell", "irnn", "--cell-options", '{"periods": [2]}']) == 2
    one_line_error(capsys, "periods")


def _as_earlier_version(out, fmt):
    """Rewrite a run's config.json as earlier versions wrote it: one flat "train" object."""
    raw = json.loads((out / "config.json").read_text())
    flat = {**raw["data"], **raw["optim"], **raw["run"]}
    if fmt == "rnnlab-classify/1":
        flat["epochs"] = int(flat.pop("max_epochs"))
    old = {"format": fmt, "model": raw["model"], "train": flat, **raw["tables"]}
    (out / "config.json").write_text(json.dumps(old))


def test_runs_of_earlier_versions_are_read(classifier, tmp_path, capsys):
    copy = tmp_path / "old"
    copy.mkdir()
    for p in classifier.iterdir():
        if p.is_file():
            (copy / p.name).write_bytes(p.read_bytes())
    _as_earlier_version(copy, "rnnlab-classify/1")
    run = read_config(copy, "classify", {"run": ("max_epochs", "seed")})
    assert run.sections["run"]["max_epochs"] == 3 and run.kind == "classify"
    assert main(["predict", str(copy), "a superb film", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["label"] in ("pos", "neg")
    assert main(["inspect", str(copy)]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == "classify"


def test_a_run_of_another_kind_is_named(classifier, capsys):
    assert main(["sample", str(classifier), "--length", "5"]) == 2
    one_line_error(capsys, "is a classifier (rnnlab train --task classify; use it with rnnlab predict)")
    assert main(["tag", str(classifier), "a sentence"]) == 2
    one_line_error(capsys, "is a classifier", "not a tagger")


@pytest.mark.slow  # a subprocess, signalled
def test_sigterm_saves_like_ctrl_c_and_the_run_resumes(tmp_path):
    data = _texts(tmp_path / "texts.csv", n=400)
    out = tmp_path / "run"
    argv = ["train", "--task", "classify", "--data", str(data), "--out", str(out), "--epochs", "500"]
    argv += [*QUICK, "--baseline", "false", "--eval-every", "5"]
    code = f"import sys; from rnnlab.cli import main; sys.exit(main({argv!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ)
    for line in proc.stdout:  # wait for the first evaluation: the run is under way
        if line.startswith("step 5"):
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stdout.read()
    assert proc.wait(timeout=120) == 130, rest
    assert "resume with: rnnlab train --resume" in rest
    # an interrupted run leaves the held-out scores to the run that finishes it
    assert json.loads((out / "results.json").read_text())["interrupted"] and "examples):" not in rest
    stopped = read_metrics(out)[-1]["step"]
    assert main(["train", "--resume", str(out), "--max-steps", str(stopped + 5), "--epochs", "0"]) == 0
    assert read_metrics(out)[-1]["step"] == stopped + 5
    results = json.loads((out / "results.json").read_text())
    assert not results["interrupted"] and results["steps"] == stopped + 5 and results["test"]["accuracy"] >= 0


def _word_lm(tmp_path):
    """A tiny word language model's run folder and the ``train`` arguments that start it (40 tokens a row)."""
    text = tmp_path / "text.txt"
    text.write_text(" ".join(f"w{i % 37} w{i % 11}" for i in range(3000)) + "\n")
    out = tmp_path / "lm"
    tiny = ["--hidden-size", "8", "--embedding-size", "4", "--batch-size", "4", "--sample-chars", "0"]
    return out, ["train", "--level", "word", "--data", str(text), "--out", str(out), "--seq-len", "40", *tiny]


def test_epochs_go_on_across_a_resume_with_another_sequence_length(tmp_path, capsys):
    """A resumed language model whose passes hold another number of batches (a new --seq-len)
    counts its epochs on from where it stopped: the epoch limit, the schedule and the best epoch
    read that count."""
    out, argv = _word_lm(tmp_path)
    assert main([*argv, "--max-steps", "40", "--eval-every", "20", "--time-budget", ""]) == 0
    assert main(["train", "--resume", str(out), "--seq-len", "20", "--max-steps", "80"]) == 0
    epochs = [r["epoch"] for r in read_metrics(out)]
    assert len(epochs) == 4 and all(b > a for a, b in zip(epochs, epochs[1:])), epochs
    step_before, step_after = epochs[1] - epochs[0], epochs[3] - epochs[2]  # 20 steps of 40 tokens, then of 20
    assert step_after == pytest.approx(step_before / 2, rel=0.02)
    results = json.loads((out / "results.json").read_text())
    assert results["epochs"] == pytest.approx(epochs[-1])
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--max-steps", "400", "--max-epochs", f"{epochs[-1] - 0.01}"]) == 0
    assert "epoch limit" in capsys.readouterr().out and len(read_metrics(out)) == 4  # nothing more trained


def test_a_task_flag_on_a_resume_without_task_is_read_as_that_runs_flag(classifier, capsys):
    """``--resume OUT`` alone parses the flags of OUT's task: an architecture flag is refused as
    fixed, as it is with ``--task classify``, not as an unrecognised argument."""
    before = (classifier / "config.json").read_text()
    for argv in (["--pooling", "max"], ["--label-column", "other"]):
        assert main(["train", "--resume", str(classifier), "--epochs", "9", *argv]) == 2
        err = one_line_error(capsys)
        assert "unrecognized" not in err and "fixed" in err, err
    assert (classifier / "config.json").read_text() == before


def test_a_checkpoint_keeps_the_paths_auto_chose_for_the_resumed_process(tmp_path, monkeypatch):
    from rnnlab import path_choice
    from rnnlab.train import trainer

    path_choice.forget()
    path_choice.preset({"('a key',)": "bptt"})  # as if this process had chosen it
    text = tmp_path / "text.txt"
    text.write_text(" ".join(f"w{i % 37}" for i in range(3000)) + "\n")
    out = tmp_path / "lm"
    tiny = ["--hidden-size", "8", "--embedding-size", "4", "--batch-size", "4", "--sample-chars", "0"]
    argv = ["train", "--level", "word", "--data", str(text), "--out", str(out), *tiny, "--eval-every", "10"]
    assert main([*argv, "--max-steps", "10", "--time-budget", ""]) == 0
    path_choice.forget()
    taken = []
    monkeypatch.setattr(trainer.path_choice, "preset", taken.append)
    assert main(["train", "--resume", str(out), "--max-steps", "20"]) == 0
    assert taken and taken[0].get("('a key',)") == "bptt"
    path_choice.forget()


def test_evaluations_per_epoch_follow_the_epoch_count_across_a_new_sequence_length(tmp_path):
    import math

    out, argv = _word_lm(tmp_path)
    assert main([*argv, "--max-epochs", "2", "--eval-every", "0", "--time-budget", ""]) == 0
    assert main(["train", "--resume", str(out), "--seq-len", "30", "--max-epochs", "4"]) == 0
    epochs = [r["epoch"] for r in read_metrics(out)]
    assert [math.floor(e + 1e-9) for e in epochs] == [1, 2, 3, 4], epochs  # one evaluation as each epoch ends
    assert all(e - math.floor(e + 1e-9) < 0.05 for e in epochs), epochs
