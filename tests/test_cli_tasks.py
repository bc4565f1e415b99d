"""``rnnlab task`` and ``rnnlab compare`` on tiny settings, and every bad input they refuse."""

import json

import pytest
import torch

from rnnlab.cli import main
from rnnlab.runs import read_config, read_steps
from rnnlab.tasks.sequence import load_sequence_run
from tests.cli_errors import one_line_error

TINY = "--hidden 8 --max-steps 20 --eval-every 10 --batch-size 16 --threads 1".split()


@pytest.fixture(scope="module")
def adding_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("task") / "adding"
    assert main(["task", "adding", "--cell", "lstm", "-T", "8", "--target", "10", "--out", str(out), *TINY]) == 0
    return out


def test_task_writes_a_complete_run(adding_run):
    names = {p.name for p in adding_run.iterdir()}
    assert {"metrics.jsonl", "curve.png", "results.json", "model.safetensors", "config.json"} <= names
    assert not any(n.endswith(".tmp") for n in names)
    records = [json.loads(line) for line in (adding_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 10, 20]
    for key in ("elapsed_s", "train_loss", "test_loss", "test_mse"):
        assert all(r[key] is not None for r in records[1:]), key
    assert (adding_run / "curve.png").read_bytes()[:4] == b"\x89PNG"
    steps = read_steps(adding_run)  # every step's gradient norm before clipping
    assert [r["step"] for r in steps] == list(range(1, 21)) and all(r["grad_norm"] > 0 for r in steps)
    assert (adding_run / "clipping.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((adding_run / "results.json").read_text())
    assert (summary["task"], summary["cell"], summary["T"], summary["steps"]) == ("adding", "lstm", 8, 20)
    assert summary["final"]["test_mse"] == records[-1]["test_mse"]
    assert summary["baseline"]["mse"] == pytest.approx(1 / 6, abs=1e-6)
    assert summary["target"] == {"value": 10.0, "reached": True, "step": 0, "seconds": 0.0}


def test_a_run_loads_back_with_its_weights(adding_run):
    model, task, model_cfg = load_sequence_run(adding_run)
    max_steps = read_config(adding_run).sections["run"]["max_steps"]
    assert (task.name, task.steps, model_cfg.hidden_size, max_steps) == ("adding", 8, 8, 20)
    x, _ = task.batch(3, torch.Generator().manual_seed(0))
    assert model(x).shape == (3,)
    summary = json.loads((adding_run / "results.json").read_text())
    with torch.no_grad():
        mse = sum(float(task.loss(model(x), y)) * x.shape[1] for x, y in task.evaluation_batches()) / task.eval_size
    assert mse == pytest.approx(summary["best"]["test_mse"], rel=1e-5)  # the best weights are loaded


def test_task_refuses_to_overwrite_without_force(adding_run, capsys):
    before = (adding_run / "metrics.jsonl").read_text()
    assert main(["task", "adding", "-T", "8", "--out", str(adding_run), *TINY]) == 2
    one_line_error(capsys, "already holds a run", "--force")
    assert (adding_run / "metrics.jsonl").read_text() == before


@pytest.mark.slow  # two trainings on the digits
def test_force_replaces_a_run_and_classification_runs(tmp_path, capsys):
    out = tmp_path / "digits"
    argv = ["task", "digits", "--cell", "gru", "--out", str(out), "--hidden", "8", "--max-steps", "5"]
    argv += ["--eval-every", "5", "--batch-size", "8", "--threads", "1", "--target", "0.99"]
    assert main(argv) == 0
    assert main([*argv, "--force"]) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "baseline" in printed
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [0, 5]  # replaced, not appended
    summary = json.loads((out / "results.json").read_text())
    assert summary["metric"] == "test_accuracy" and summary["target"]["reached"] is False
    assert 0 <= summary["final"]["test_accuracy"] <= 1


@pytest.mark.slow  # the adding run above keeps `rnnlab task` in the fast tier
def test_copy_runs_through_the_cli(tmp_path):
    out = tmp_path / "copy"
    assert main(["task", "copy", "-T", "3", "--out", str(out), *TINY]) == 0
    summary = json.loads((out / "results.json").read_text())
    assert summary["length"] == 23 and summary["task_kind"] == "classify-every"


def test_compare_trains_each_cell_and_draws_one_plot(tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", "adding", "--cells", "rnn-tanh,gru", "-T", "6", "--out", str(out), *TINY]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "rnn-tanh" in printed and "gru" in printed and "baseline" in printed
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    table = json.loads((out / "compare.json").read_text())
    assert [r["cell"] for r in table["runs"]] == ["rnn-tanh", "gru"] and table["T"] == 6
    assert all(r["final"]["mse"] >= r["best"]["mse"] > 0 for r in table["runs"])  # as benchmarks/long_range.sh reads
    for cell in ("rnn-tanh", "gru"):
        assert json.loads((out / cell / "results.json").read_text())["cell"] == cell
    assert main(argv) == 2
    one_line_error(capsys, "already holds", "--force")


@pytest.mark.parametrize(
    "argv,fragments",
    [
        (["task", "adder"], ["unknown 'adder'", "adding, copy, digits"]),
        (["task", "adding", "--cell", "lstn"], ["cell: expected one of", "graph:PATH.json", "got 'lstn'"]),
        (["task", "adding", "-T", "1"], ["T must be at least 2"]),
        (["task", "digits", "-T", "100"], ["has T = 64"]),
        (["task", "mnist-rows", "-T", "784"], ["has T = 28"]),
        (["task", "adding", "--hidden", "0"], ["hidden_size", "positive"]),
        (["task", "adding", "--batch-size", "-3"], ["batch_size", "positive"]),
        (["task", "adding", "--layers", "0"], ["num_layers", "positive"]),
        (["task", "adding", "--lr", "0"], ["lr", "positive"]),
        (["task", "adding", "-T", "ten"], ["invalid int value"]),
        (["task", "adding", "--cell-options", "[1]"], ["JSON object"]),
        (["task", "adding", "--cell-options", '{"nope": 1}'], ["nope"]),
        (["task", "adding", "--stop-at-target"], ["target"]),
        (["compare", "adding", "--cells", "lstm,lstn"], ["unknown lstn"]),
        (["compare", "adding", "--cells", "lstm,lstm"], ["distinct"]),
        (["compare", "digits", "-T", "5"], ["has T = 64"]),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, fragments):
    out = tmp_path / "never"
    assert main([*argv, "--out", str(out), "--max-steps", "1"]) == 2
    one_line_error(capsys, *fragments)
    assert not out.exists()


def test_a_diverged_task_exits_1(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["task", "adding", "-T", "8", "--out", str(out), *TINY, "--optimizer", "sgd", "--lr", "1e30"]
    assert main([*argv, "--clip-norm", "0", "--max-steps", "200"]) == 1
    assert "diverged at step" in capsys.readouterr().out
