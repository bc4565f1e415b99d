"""Per-step gradient norms, clipping records, gradient-flow telemetry and ``rnnlab plot``."""

import csv
import json

import pytest
import torch
from torch import nn

from rnnlab.cli import main
from rnnlab.runs import read_profiles, read_steps
from rnnlab.train import OptimConfig
from rnnlab.train.optim import clip_and_report

TEXT = "".join(f"What's in a name? That which we call a rose {i % 5}.\n" for i in range(80))
TINY = "--hidden-size 16 --embedding-size 8 --seq-len 16 --batch-size 4 --sample-chars 0".split()


def _train(tmp_path, *extra):
    (tmp_path / "text.txt").write_text(TEXT)
    argv = ["train", "--data", str(tmp_path / "text.txt"), "--out", str(tmp_path / "run"), *TINY, *extra]
    assert main(argv) == 0
    return tmp_path / "run"


def test_every_step_is_logged_with_its_norm_before_clipping(tmp_path):
    run = _train(tmp_path, "--max-steps", "20", "--eval-every", "10", "--telemetry-every", "5", "--clip-norm", "1e-3")
    steps = read_steps(run)
    assert [r["step"] for r in steps] == list(range(1, 21))
    assert all(r["grad_norm"] > 1e-3 and r["clipped"] == 1 for r in steps)  # the threshold is far below every norm
    profiles = read_profiles(run)
    assert [p["step"] for p in profiles] == [5, 10, 15, 20]
    assert all(len(p["norms"]) == 1 and len(p["norms"][0]) == 16 and min(p["norms"][0]) > 0 for p in profiles)
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["clipped_fraction"] for m in metrics] == [1.0, 1.0]
    for name in ("loss.png", "clipping.png", "gradflow.png"):
        assert (run / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow  # a training; clip_and_report's unclipped case stays fast
def test_no_clipping_is_recorded_when_the_threshold_is_never_reached(tmp_path):
    run = _train(tmp_path, "--max-steps", "6", "--eval-every", "3", "--clip-norm", "1e6", "--telemetry-every", "0")
    assert [r["clipped"] for r in read_steps(run)] == [0] * 6
    assert read_profiles(run) == []


@pytest.mark.slow  # a training and a resume
def test_resume_drops_records_written_after_the_checkpoint(tmp_path):
    run = _train(tmp_path, "--max-steps", "8", "--eval-every", "4", "--telemetry-every", "2")
    with open(run / "steps.csv", "a", newline="") as f:  # as if a crash came after a later flush
        csv.writer(f).writerow([99, 1.0, 1.0, 0, 0.1])
    with open(run / "gradflow.jsonl", "a") as f:
        f.write(json.dumps({"step": 99, "norms": [[1.0]]}) + "\n")
    assert main(["train", "--resume", str(run), "--max-steps", "12"]) == 0
    assert [r["step"] for r in read_steps(run)] == list(range(1, 13))
    assert [p["step"] for p in read_profiles(run)] == [2, 4, 6, 8, 10, 12]


def test_clip_and_report_by_value_and_by_norm():
    model = nn.Linear(2, 1, bias=False)
    model.weight.grad = torch.tensor([[3.0, 4.0]])
    norm, clipped = clip_and_report(model, OptimConfig(clip_norm=0.0, clip_value=3.5))
    assert norm == pytest.approx(5.0) and clipped and model.weight.grad.tolist() == [[3.0, 3.5]]
    model.weight.grad = torch.tensor([[3.0, 4.0]])
    norm, clipped = clip_and_report(model, OptimConfig(clip_norm=10.0, clip_value=0.0))
    assert norm == pytest.approx(5.0) and not clipped
    norm, clipped = clip_and_report(model, OptimConfig(clip_norm=1.0, clip_value=0.0))
    assert clipped and torch.linalg.vector_norm(model.weight.grad) == pytest.approx(1.0)


def test_plot_redraws_a_run_and_summarises_clipping(tmp_path, capsys):
    run = _train(tmp_path, "--max-steps", "6", "--eval-every", "3", "--telemetry-every", "3")
    for name in ("loss.png", "clipping.png", "gradflow.png"):
        (run / name).unlink()
    capsys.readouterr()
    assert main(["plot", str(run)]) == 0
    out = capsys.readouterr().out
    assert json.loads(out.splitlines()[0])["clipping"]["steps"] == 6
    for name in ("loss.png", "clipping.png", "gradflow.png"):
        assert (run / name).read_bytes()[:4] == b"\x89PNG"


def test_plot_refuses_a_missing_run_in_one_line(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a run directory" in err


@pytest.mark.slow  # a training, a plot and a resume
def test_a_line_torn_by_a_crash_neither_breaks_plot_nor_resume(tmp_path, capsys):
    run = _train(tmp_path, "--max-steps", "6", "--eval-every", "3", "--telemetry-every", "3")
    with open(run / "steps.csv", "a") as f:
        f.write("7,3.1")  # killed in the middle of a row
    with open(run / "gradflow.jsonl", "a") as f:
        f.write('{"step": 9, "norms": [[0.1, ')
    assert main(["plot", str(run)]) == 0
    assert main(["train", "--resume", str(run), "--max-steps", "9"]) == 0
    assert [r["step"] for r in read_steps(run)] == list(range(1, 10))
    assert [p["step"] for p in read_profiles(run)] == [3, 6, 9]


@pytest.mark.slow  # a training and a resume
def test_the_heatmap_takes_profiles_of_different_lengths(tmp_path):
    """A run resumed with another --seq-len records shorter or longer chunks."""
    run = _train(tmp_path, "--max-steps", "4", "--eval-every", "2", "--telemetry-every", "2")
    assert main(["train", "--resume", str(run), "--max-steps", "8", "--seq-len", "8"]) == 0
    assert [len(p["norms"][0]) for p in read_profiles(run)] == [16, 16, 8, 8]
    assert (run / "gradflow.png").read_bytes()[:4] == b"\x89PNG"
