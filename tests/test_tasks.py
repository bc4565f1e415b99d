"""Long-range tasks: generators, layouts, splits, baselines, the sequence model and a short training."""

import io
import math

import numpy as np
import pytest
import torch

from rnnlab.data.digits import load_images
from rnnlab.data.tasks import TASKS, make_task
from rnnlab.models.sequence import READOUTS, SequenceModel
from rnnlab.tasks.sequence import SequenceTask, evaluate, resolve_configs
from rnnlab.train import Trainer
from rnnlab.train.progress import Progress

SHORT = {"adding": 12, "copy": 5}  # small T for the synthetic tasks keeps the tests fast


@pytest.fixture(scope="module")
def tasks():
    return {name: make_task(name, SHORT.get(name)) for name in TASKS}


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", list(TASKS))
def test_batch_shapes_and_dtypes(tasks, name):
    task = tasks[name]
    x, y = task.batch(6, gen())
    assert x.shape == (task.length, 6, task.input_size) and x.dtype == torch.float32
    expected_y = {"regression": ((6,), torch.float32), "classify": ((6,), torch.int64)}
    expected_y["classify-every"] = ((task.length, 6), torch.int64)
    assert (tuple(y.shape), y.dtype) == expected_y[task.kind]
    assert task.kind in READOUTS and task.metric in task.baseline and "loss" in task.baseline
    x2, y2 = task.batch(6, gen())
    assert torch.equal(x, x2) and torch.equal(y, y2)  # the generator alone decides the batch


def test_adding_has_two_markers_one_per_half_and_sums_them():
    task = make_task("adding", steps=30)
    x, y = task.batch(500, gen(1))  # (T, B, 2)
    values, marks = x[..., 0], x[..., 1]
    assert torch.all(marks.sum(0) == 2) and set(marks.unique().tolist()) == {0.0, 1.0}
    assert torch.all(marks[:15].sum(0) == 1) and torch.all(marks[15:].sum(0) == 1)
    assert torch.allclose(y, (values * marks).sum(0))
    assert values.min() >= 0 and values.max() <= 1 and values.std() > 0.2


def test_adding_baseline_matches_a_large_sample_and_one_sixth():
    task = make_task("adding", steps=4)
    _, y = task.batch(200_000, gen(2))
    sample_mse = float(((y - y.mean()) ** 2).mean())  # always predicting the mean
    assert task.baseline["mse"] == pytest.approx(1 / 6, abs=1e-6)
    assert sample_mse == pytest.approx(task.baseline["mse"], abs=3e-3)
    assert task.baseline["loss"] == task.baseline["mse"]
    assert task.baseline["test_set_mse"] == pytest.approx(1 / 6, abs=0.02)


def test_copy_layout():
    T = 7
    task = make_task("copy", steps=T)
    assert task.steps == T and task.length == T + 20 and task.input_size == 10 and task.output_size == 9
    x, y = task.batch(64, gen(3))
    seq = x.argmax(-1)  # (T + 20, B) symbols
    assert torch.all(x.sum(-1) == 1)  # one-hot
    data = seq[:10]
    assert data.min() >= 1 and data.max() <= 8 and len(data.unique()) == 8
    assert torch.all(seq[10 : T + 9] == 0)  # T - 1 blanks
    assert torch.all(seq[T + 9] == 9)  # the delimiter
    assert torch.all(seq[T + 10 :] == 0)  # blanks while the model answers
    assert torch.all(y[: T + 10] == 0) and torch.equal(y[T + 10 :], data)


def test_copy_baseline_is_the_memoryless_cross_entropy():
    T = 40
    task = make_task("copy", steps=T)
    assert task.baseline["loss"] == pytest.approx(10 * math.log(8) / (T + 20))
    assert task.baseline["accuracy"] == pytest.approx(1 / 8)
    x, y = task.batch(32, gen(4))
    logits = torch.full((task.length, 32, 9), -1e4)
    logits[:-10, :, 0] = 0.0  # certain blank while there is nothing to recall
    logits[-10:, :, 1:] = 0.0  # uniform over the 8 symbols when recalling
    assert float(task.loss(logits, y)) == pytest.approx(task.baseline["loss"], rel=1e-5)


def test_synthetic_evaluation_sets_are_fixed_and_seeded():
    a, b, c = make_task("adding", 10, seed=0), make_task("adding", 10, seed=0), make_task("adding", 10, seed=1)
    xa, _ = next(iter(a.evaluation_batches()))
    assert torch.equal(xa, next(iter(b.evaluation_batches()))[0])
    assert not torch.equal(xa, next(iter(c.evaluation_batches()))[0])
    assert sum(x.shape[1] for x, _ in a.evaluation_batches("test", batch_size=300)) == a.eval_size
    assert not torch.equal(a.evaluation_set("train")[0], a.evaluation_set("test")[0])


@pytest.mark.parametrize("name,total,test", [("digits", 1797, 359), ("mnist", 5000, 1000)])
def test_image_split_sizes_and_stratification(tasks, name, total, test):
    task = tasks[name]
    train_idx, test_idx = task.indices["train"], task.indices["test"]
    assert len(train_idx) + len(test_idx) == total and len(test_idx) == test
    assert not set(train_idx) & set(test_idx)
    labels = load_images(name).labels
    for c in range(10):  # each class keeps its 20 % share in the test split
        n_c = int((labels == c).sum())
        assert abs(int((labels[test_idx] == c).sum()) - 0.2 * n_c) <= 0.5
    assert sum(x.shape[1] for x, _ in task.evaluation_batches()) == test
    assert torch.equal(torch.cat([y for _, y in task.evaluation_batches()]), torch.from_numpy(labels[test_idx]))


def test_image_tasks_read_pixels_rows_and_a_fixed_permutation(tasks):
    digits, permuted = tasks["digits"], tasks["digits-permuted"]
    assert (digits.steps, digits.input_size, tasks["mnist"].steps, tasks["mnist-rows"].steps) == (64, 1, 784, 28)
    assert tasks["mnist-rows"].input_size == 28
    x, y = next(iter(digits.evaluation_batches()))  # (64, B, 1)
    xp, yp = next(iter(permuted.evaluation_batches()))
    perm = torch.from_numpy(permuted.permutation)
    assert torch.equal(y, yp) and not torch.equal(perm, torch.arange(64))
    assert torch.equal(xp, x[perm])  # the same images, pixels in another fixed order
    assert np.array_equal(make_task("digits-permuted").permutation, permuted.permutation)
    assert 0 <= float(x.min()) and float(x.max()) == 1.0
    rows, _ = next(iter(tasks["mnist-rows"].evaluation_batches()))  # (28, B, 28)
    pixels, _ = next(iter(tasks["mnist"].evaluation_batches()))  # (784, B, 1)
    assert torch.equal(rows.transpose(0, 1).reshape(-1, 784), pixels.squeeze(-1).T)


def test_classification_baseline_is_the_majority_training_class(tasks):
    task = tasks["digits"]
    labels = load_images("digits").labels
    majority = np.bincount(labels[task.indices["train"]]).argmax()
    expected = float((labels[task.indices["test"]] == majority).mean())
    assert task.baseline["accuracy"] == pytest.approx(expected)
    assert 0.05 < task.baseline["accuracy"] < 0.15 and task.baseline["loss"] == pytest.approx(math.log(10), abs=0.01)


def test_make_task_refuses_bad_names_and_steps():
    with pytest.raises(ValueError, match="known tasks: adding, copy, digits"):
        make_task("addition")
    with pytest.raises(ValueError, match="T must be at least 2"):
        make_task("adding", steps=1)
    with pytest.raises(ValueError, match="T must be at least 2"):
        make_task("copy", steps=0)
    with pytest.raises(ValueError, match="has T = 64"):
        make_task("digits", steps=100)
    assert make_task("digits", steps=64).steps == 64


@pytest.mark.parametrize("name", ["adding", "digits", "copy"])
@pytest.mark.parametrize("cell", ["lstm", "irnn", "gru"])
def test_sequence_model_shapes_and_readout(tasks, name, cell):
    task = tasks[name]
    model = SequenceModel(task, cell, hidden_size=8, num_layers=2)
    x, y = task.batch(5, gen())
    pred = model(x)
    shapes = {"regression": (5,), "classify": (5, task.output_size), "classify-every": (task.length, 5, 9)}
    assert tuple(pred.shape) == shapes[task.kind]
    outputs, _ = model.rnn(x)  # (T, B, H)
    assert torch.equal(model.readout(outputs), pred)
    if task.kind != "classify-every":  # many-to-one reads the last step only
        changed = outputs.clone()
        changed[:-1] = 0
        assert torch.equal(model.readout(changed), pred)
    loss = task.loss(pred, y)
    loss.backward()
    assert loss.dim() == 0 and model.rnn.weight_hh_l0.grad.abs().sum() > 0


@pytest.mark.slow  # 300 steps of training
def test_short_training_lowers_the_test_loss(tmp_path):
    given = {"steps": 10, "hidden_size": 16, "batch_size": 32, "lr": 1e-2, "max_steps": 300, "eval_every": 100}
    model_cfg, optim, run = resolve_configs("adding", "gru", {**given, "threads": 1})
    task = SequenceTask(model_cfg, optim.batch_size, run.seed)
    trainer = Trainer(task, tmp_path / "run", optim, run, progress=Progress(io.StringIO()))
    summary = trainer.run()
    first, last = trainer.records[0]["test_mse"], trainer.records[-1]["test_mse"]
    assert last < 0.25 * task.task.baseline["mse"] < first
    assert summary["final"]["test_mse"] == last and summary["best"]["test_mse"] <= last
    assert evaluate(task.model, task.task)["mse"] == pytest.approx(last, rel=1e-5)


def test_resolved_defaults_follow_task_then_cell_then_user():
    _, irnn, _ = resolve_configs("adding", "irnn", {})
    _, lstm, _ = resolve_configs("adding", "lstm", {})
    _, given, _ = resolve_configs("adding", "irnn", {"lr": 0.05})
    assert irnn.lr < lstm.lr and given.lr == 0.05
    model_cfg, _, _ = resolve_configs("digits", "irnn", {})
    assert model_cfg.cell_options.get("input_std") == 1.0
    with pytest.raises(ValueError, match="hidden_size"):
        resolve_configs("adding", "lstm", {"hidden_size": 0})
    with pytest.raises(ValueError, match="cell: expected one of .*got 'lstn'"):
        resolve_configs("adding", "lstn", {})
