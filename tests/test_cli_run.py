"""The train / sample / eval / inspect commands on tiny data, and every bad input they refuse."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from rnnlab.cli import main
from rnnlab.tasks.lm import load_model
from tests.cli_errors import one_line_error

TEXT = "".join(f"To be, or not to be: that is the question {i % 5}.\n" for i in range(80))
TINY = "--hidden-size 16 --embedding-size 8 --seq-len 16 --batch-size 4 --eval-every 5 --sample-chars 20"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    (root / "text.txt").write_text(TEXT)
    argv = ["train", "--data", str(root / "text.txt"), "--out", str(root / "run"), "--max-steps", "12"]
    assert main(argv + TINY.split()) == 0
    return root / "run"


def test_train_writes_a_complete_run(run_dir, capsys):
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "model.safetensors", "last.safetensors", "metrics.jsonl", "loss.png"} <= names
    assert not any(n.endswith(".tmp") for n in names)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [5, 10, 12]
    for key in ("step", "elapsed_s", "train_loss", "val_loss", "lr", "grad_norm", "chars_per_s"):
        assert all(r[key] is not None for r in records), key
    assert (run_dir / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_sample_eval_inspect(run_dir, capsys):
    assert main(["sample", str(run_dir), "--prime", "To be", "--length", "30", "--seed", "3"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("To be") and len(first) == len("To be") + 30 + 1
    assert main(["sample", str(run_dir), "--prime", "To be", "--length", "30", "--seed", "3"]) == 0
    assert capsys.readouterr().out == first
    assert main(["sample", str(run_dir), "--length", "10", "--temperature", "0", "--top-k", "3"]) == 0
    assert len(capsys.readouterr().out) == 11
    assert main(["eval", str(run_dir)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["loss_nats"] > 0 and abs(result["bits_per_char"] * 0.6931 - result["loss_nats"]) < 1e-3
    assert main(["inspect", str(run_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"]["hidden_size"] == 16 and report["parameters"] > 0 and report["best"]["val_loss"] > 0


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        (b"na\xefve caf\xe9", "not UTF-8"),
        (b"short text\n", "needs at least"),
    ],
)
def test_train_refuses_bad_corpora(tmp_path, capsys, content, fragment):
    (tmp_path / "bad.txt").write_bytes(content)
    argv = ["train", "--data", str(tmp_path / "bad.txt"), "--out", str(tmp_path / "run"), "--max-steps", "2"]
    assert main(argv + TINY.split()) == 2
    one_line_error(capsys, "rnnlab train: error: data:", fragment)
    assert not (tmp_path / "run").exists()


def test_train_refuses_missing_path_existing_run_and_bad_flags(run_dir, tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "nope.txt"), "--max-steps", "1"]) == 2
    one_line_error(capsys, "no such file")
    before = (run_dir / "last.safetensors").read_bytes()
    assert main(["train", "--data", str(run_dir.parent / "text.txt"), "--out", str(run_dir), "--max-steps", "1"]) == 2
    one_line_error(capsys, "already holds a run", "--resume")
    assert (run_dir / "last.safetensors").read_bytes() == before
    assert main(["train", "--resume", str(run_dir), "--hidden-size", "32"]) == 2
    one_line_error(capsys, "--hidden-size", "fixed")
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    one_line_error(capsys, "no such directory")
    assert main(["train", "--optimizer", "adamw", "--max-steps", "1"]) == 2
    one_line_error(capsys, "optimizer: expected one of 'adam'")
    assert main(["train", "--cell", "transformer", "--max-steps", "1"]) == 2
    one_line_error(capsys, "cell: expected one of", "lstm")
    assert main(["train", "--lr", "fast"]) == 2
    one_line_error(capsys, "--lr")


def test_sample_refuses_unknown_prime_characters_and_bad_options(run_dir, capsys):
    assert main(["sample", str(run_dir), "--prime", "Zebra~"]) == 2
    one_line_error(capsys, "outside the model's vocabulary", "'Z'", "'~'")
    assert main(["sample", str(run_dir), "--top-p", "0"]) == 2
    one_line_error(capsys, "top_p")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "config"])
def test_damaged_runs_are_reported_not_crashed_on(run_dir, tmp_path, capsys, damage):
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in run_dir.iterdir():
        (copy / p.name).write_bytes(p.read_bytes())
    if damage == "truncate":
        data = (copy / "model.safetensors").read_bytes()
        (copy / "model.safetensors").write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        (copy / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    else:
        (copy / "config.json").write_text('{"format": "rnnlab-run/1", "model": {"hidden_size": "big"}}')
    for command in (["sample", str(copy), "--length", "5"], ["eval", str(copy)], ["inspect", str(copy)]):
        assert main(command) == 2
        one_line_error(capsys, str(copy))


@pytest.mark.slow  # a training in a subprocess, interrupted, then resumed
def test_ctrl_c_saves_and_resume_continues(tmp_path):
    (tmp_path / "text.txt").write_text(TEXT * 20)
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "rnnlab", "train", "--data", str(tmp_path / "text.txt"), "--out", str(out)]
    argv += [*TINY.split(), "--eval-every", "5", "--sample-chars", "0", "--time-budget", "30m"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # the first evaluation (step 5) proves the loop is running, however slow a busy machine makes the start;
    # the deadlines only keep a broken run from hanging the suite
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None and not (out / "metrics.jsonl").exists():
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()[1]
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "resume with: rnnlab train --resume" in stdout
    stopped = load_model(out, "last")[4]["step"]
    assert stopped > 0
    assert main(["train", "--resume", str(out), "--max-steps", str(stopped + 3), "--time-budget", ""]) == 0
    assert os.path.exists(out / "model.safetensors")
