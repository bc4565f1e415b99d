"""Data-parallel training of the classifier, the tagger and the long-range tasks: two processes give
what one gives, with batches that do not split evenly and a batch of one example."""

import os
import random
import subprocess
import sys

import pytest

from rnnlab.runs import read_metrics
from tests.test_distributed import _assert_same_run

WORDS = "good bad fine awful great poor nice dull warm cold".split()


def _run(argv, nproc):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    command = [sys.executable, "-m", "rnnlab", *argv, "--nproc", str(nproc)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def rows_file(path, count, seed, row, header=None):
    """A file of ``count`` lines ``row(i, rng)`` (after ``header``), drawn from a generator seeded by ``seed``."""
    rng = random.Random(seed)
    lines = [header] if header else []
    lines += [row(i, rng) for i in range(count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _text(i, rng):
    words = rng.choices(WORDS, k=rng.randint(2, 9))
    label = "pos" if i < 2 and i % 2 == 0 or i >= 2 and WORDS.index(words[0]) % 2 == 0 else "neg"
    return f"{label},{' '.join(words)}"


def _sentence(i, rng):
    tag = {"Paris": "B-LOC", "Rome": "B-LOC", "Anna": "B-PER"}
    words = rng.choices([*WORDS, *tag], k=rng.randint(2, 8))
    return "".join(f"{w} {tag.get(w, 'O')}\n" for w in words)  # and a blank line after it


def _tree(i, rng):
    a, b, c = rng.choices(WORDS, k=3)
    label = ["pos", "neg"][i % 2] if i < 2 else ["pos", "neg"][WORDS.index(b) % 2]
    return f"{label}\t(S (A {a}) (B {b} (C {c})))"


def _twice(tmp_path, argv):
    one, two = tmp_path / "one", tmp_path / "two"
    _run([*argv, "--out", str(one)], 1)
    _run([*argv, "--out", str(two)], 2)
    _assert_same_run(one, two)  # the loss of every step, and the weights
    return one, two


SMALL = ["--max-steps", "12", "--eval-every", "4", "--dropout", "0", "--hidden-size", "8", "--embedding-size", "8"]


@pytest.mark.slow  # four short trainings in subprocesses, two of them on two processes
def test_a_classifier_and_a_tagger_on_two_processes_train_as_on_one(tmp_path):
    # 31 training texts in batches of 3: the batches split 2 + 1, and the last is one text (weight 0 on one process)
    data = [
        rows_file(tmp_path / f"{s}.csv", n, i, _text, "label,text")
        for i, (s, n) in enumerate((("t", 31), ("v", 13), ("e", 9)))
    ]
    files = ["--data", str(data[0]), "--val-data", str(data[1]), "--test-data", str(data[2])]
    one, two = _twice(tmp_path / "c", ["train", "--task", "classify", *files, "--batch-size", "3", *SMALL])
    val = [
        [r[k] for r in read_metrics(run) for k in ("val_loss", "val_accuracy", "val_macro_f1")] for run in (one, two)
    ]
    assert len(val[0]) == 9 and val[0] == pytest.approx(val[1], rel=1e-5)  # the sharded validation, exact
    _run(["train", "--resume", str(one), "--max-steps", "20"], 2)  # each on the other number of processes
    _run(["train", "--resume", str(two), "--max-steps", "20"], 1)
    _assert_same_run(one, two)
    tag = [
        rows_file(tmp_path / f"{s}.conll", n, i, _sentence) for i, (s, n) in enumerate((("t", 25), ("v", 11), ("e", 7)))
    ]
    files = ["--data", str(tag[0]), "--val-data", str(tag[1]), "--test-data", str(tag[2])]
    _twice(tmp_path / "t", ["train", "--task", "tag", *files, "--batch-size", "4", "--word-dropout", "0.3", *SMALL])


@pytest.mark.slow  # three short trainings on two processes
def test_each_process_resumes_its_own_dropout_stream(tmp_path):
    # a classifier's dropout masks come from each process's random stream, saved per process
    data = [
        rows_file(tmp_path / f"{s}.csv", n, i, _text, "label,text") for i, (s, n) in enumerate((("t", 31), ("v", 13)))
    ]
    files = ["--data", str(data[0]), "--val-data", str(data[1]), "--batch-size", "4", "--hidden-size", "8"]
    drop = [*files, "--dropout", "0.3", "--schedule", "constant", "--eval-every", "4"]
    _run(["train", "--task", "classify", *drop, "--max-steps", "16", "--out", str(tmp_path / "straight")], 2)
    _run(["train", "--task", "classify", *drop, "--max-steps", "8", "--out", str(tmp_path / "halves")], 2)
    _run(["train", "--resume", str(tmp_path / "halves"), "--max-steps", "16"], 2)
    _assert_same_run(tmp_path / "straight", tmp_path / "halves")  # the second half drew the straight run's masks


@pytest.mark.slow  # two short trainings in subprocesses, one on two processes
def test_a_tree_classifier_on_two_processes_trains_as_on_one(tmp_path):
    data = [rows_file(tmp_path / f"{s}.tsv", n, i, _tree) for i, (s, n) in enumerate((("t", 31), ("v", 13), ("e", 9)))]
    files = ["--data", str(data[0]), "--val-data", str(data[1]), "--test-data", str(data[2])]
    one, two = _twice(tmp_path, ["train", "--task", "tree", *files, "--batch-size", "3", *SMALL])
    val = [[r[k] for r in read_metrics(run) for k in ("val_loss", "val_accuracy")] for run in (one, two)]
    assert len(val[0]) == 6 and val[0] == pytest.approx(val[1], rel=1e-5)


@pytest.mark.slow  # two short trainings in subprocesses, one on two processes
def test_a_long_range_task_on_two_processes_trains_as_on_one(tmp_path):
    argv = ["task", "adding", "-T", "12", "--hidden", "8", "--batch-size", "5", "--max-steps", "6", "--eval-every", "3"]
    _twice(tmp_path, argv)
