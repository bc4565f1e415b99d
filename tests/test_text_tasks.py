"""The character tasks ``arithmetic`` and ``xml``: generators, targets, loss, metrics and a CLI run."""

import json
import re

import pytest
import torch

from rnnlab.cli import main
from rnnlab.data.task_base import IGNORE
from rnnlab.data.tasks import make_task
from rnnlab.data.text_tasks import ArithmeticTask, XmlTask


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def perfect(task, y):
    """Logits that put all their mass on each target (any class where the target is ignored)."""
    return torch.nn.functional.one_hot(y.clamp(min=0), task.output_size).float() * 20.0


def question_and_answer(task, x, y):
    """``(question without distractors, a, op, b, answer text)`` of each sequence."""
    out = []
    for text, column in zip(task.decode(x), y.t()):
        steps = (column != IGNORE).nonzero().flatten()
        question = text[: int(steps[0]) + 1].strip()
        answer = "".join(task.alphabet[i] for i in column[steps].tolist())
        clean = re.sub(f"[{task.distractor_letters}]", "", question)
        a, op, b = re.fullmatch(r"(\d+)([+-])(\d+)=", clean).groups()
        out.append((question, int(a), op, int(b), answer))
    return out


@pytest.mark.parametrize("digits, distractors", [(3, 0), (3, 1), (5, 2)])
def test_arithmetic_answers_are_the_sums_and_differences(digits, distractors):
    task = ArithmeticTask(steps=digits, distractors=distractors)
    x, y = task.batch(300, gen())
    assert x.shape == (task.length, 300, len(task.alphabet)) and y.shape == (task.length, 300)
    ops, lengths, gaps = set(), set(), set()
    for question, a, op, b, answer in question_and_answer(task, x, y):
        assert len(answer) == digits + 1 and answer == answer.strip().rjust(digits + 1)
        assert int(answer) == (a + b if op == "+" else a - b)
        assert max(a, b) < 10**digits
        ops.add(op)
        lengths.update((len(str(a)), len(str(b))))
        gaps.update(len(g) for g in re.findall(f"[{task.distractor_letters}]+", question))
        assert question[0].isdigit() and question[-1] == "="  # no distractor before or after
    assert ops == {"+", "-"} and lengths == set(range(1, digits + 1))
    assert gaps <= set(range(1, distractors + 1)) and (distractors == 0) == (not gaps)
    answers = [a for *_, a in question_and_answer(task, x, y)]
    assert any(a.strip().startswith("-") for a in answers)  # negative differences happen
    assert (y[: task.question - 1] == IGNORE).all() and (y[task.question - 1 :] != IGNORE).all()
    assert (x[task.question :].argmax(-1) == task.alphabet.index(" ")).all()  # the answer steps read blanks


def test_arithmetic_distractors_do_not_change_the_answer():
    plain, noisy = ArithmeticTask(steps=4, distractors=0), ArithmeticTask(steps=4, distractors=3)
    for task in (plain, noisy):
        x, y = task.batch(200, gen(1))
        for _, a, op, b, answer in question_and_answer(task, x, y):
            assert int(answer) == (a + b if op == "+" else a - b)
    # the same draws of numbers give the same answers whatever the distractors
    ya, yb = plain.batch(50, gen(2))[1], noisy.batch(50, gen(2))[1]
    assert torch.equal(ya[-plain.width :], yb[-noisy.width :])


def test_arithmetic_refuses_bad_sizes():
    with pytest.raises(ValueError, match="at most 15 digits"):
        make_task("arithmetic", 16)
    with pytest.raises(ValueError, match="distractors"):
        ArithmeticTask(distractors=-1)


def test_xml_is_well_formed_and_targets_are_the_next_characters():
    task = XmlTask(steps=80)
    x, y = task.batch(50, gen())
    assert x.shape == (80, 50, len(task.alphabet)) and y.shape == (80, 50)
    for text, following in zip(task.decode(x), task.decode(y)):
        assert following[:-1] == text[1:]  # the target at each step is the next input
        stack = []
        tags = re.findall(r"<(/?)([a-z]*)(>?)", text + following[-1])
        for k, (slash, name, end) in enumerate(tags):
            last = k == len(tags) - 1
            assert end or last  # only the stream's cut may end a tag
            assert 1 <= len(name) <= 10 or (last and not end)
            if slash:
                assert stack, "a closing tag without an open one"
                top = stack.pop()
                assert top == name or (last and top.startswith(name))
            elif end:
                stack.append(name)


def test_xml_scores_exactly_the_closing_tag_characters():
    task = XmlTask(steps=40)
    y = torch.tensor([task.encode("ab><cd></cd></ab><e></e><f")]).t()  # targets of "<ab><cd></cd>..."
    marks = "".join("^" if m else "." for m in task.predictable(y)[:, 0].tolist())
    assert marks == "........." + "^^^" + ".." + "^^^" + "....." + "^^" + ".."  # cd>, ab>, e>


@pytest.mark.parametrize("name", ["arithmetic", "xml"])
def test_perfect_prediction_scores_one_and_wrong_less(name):
    task = make_task(name, 3 if name == "arithmetic" else 40)
    x, y = task.batch(40, gen())
    best = task.metrics(perfect(task, y), y)
    assert best["accuracy"] == 1.0 and best["char_accuracy"] == 1.0
    assert float(task.loss(perfect(task, y), y)) < 1e-6
    wrong = perfect(task, y)
    wrong[-1] = wrong[-1].roll(1, dims=-1)  # the last target of every sequence wrong
    worse = task.metrics(wrong, y)
    assert worse["char_accuracy"] < 1.0
    if name == "arithmetic":
        assert worse["accuracy"] == 0.0  # one wrong character makes the whole answer wrong
    shuffled = perfect(task, y).roll(1, dims=-1)  # every prediction wrong
    assert task.metrics(shuffled, y)["accuracy"] == 0.0


def test_arithmetic_loss_ignores_the_question_steps():
    task = make_task("arithmetic", 3)
    x, y = task.batch(20, gen())
    logits = torch.randn(task.length, 20, task.output_size)
    changed = logits.clone()
    changed[y == IGNORE] = torch.randn(int((y == IGNORE).sum()), task.output_size) * 10
    assert float(task.loss(changed, y)) == pytest.approx(float(task.loss(logits, y)))
    assert task.metrics(changed, y) == task.metrics(logits, y)
    changed[-1] += 10 * torch.randn(20, task.output_size)  # an answer step does count
    assert float(task.loss(changed, y)) != pytest.approx(float(task.loss(logits, y)))


@pytest.mark.parametrize("name", ["arithmetic", "xml"])
def test_same_seed_same_batch_and_fixed_evaluation_sets(name):
    task = make_task(name, 3 if name == "arithmetic" else 40)
    a, b, c = task.batch(8, gen(5)), task.batch(8, gen(5)), task.batch(8, gen(6))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])
    other = make_task(name, 3 if name == "arithmetic" else 40)
    assert torch.equal(task.evaluation_set()[1], other.evaluation_set()[1])
    assert not torch.equal(task.evaluation_set("train")[1], task.evaluation_set("test")[1])


@pytest.mark.parametrize("name", ["arithmetic", "xml"])
def test_baseline_is_a_memoryless_model_scored_like_any_other(name):
    task = make_task(name, 3 if name == "arithmetic" else 40)
    base = task.baseline
    assert {"loss", "accuracy", "char_accuracy", "what"} <= set(base)
    assert 0.0 <= base["accuracy"] < 0.3 and base["loss"] > 0.5  # memory is needed to do better


def test_task_arithmetic_runs_end_to_end(tmp_path):
    out = tmp_path / "arithmetic"
    flags = "--hidden 16 --max-steps 30 --eval-every 15 --batch-size 16 --threads 1".split()
    assert main(["task", "arithmetic", "-T", "3", "--cell", "gru", "--out", str(out), *flags]) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 15, 30]
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and "test_char_accuracy" in r for r in records)
    summary = json.loads((out / "results.json").read_text())
    assert (summary["task"], summary["cell"], summary["T"], summary["task_kind"]) == (
        "arithmetic",
        "gru",
        3,
        "classify-every",
    )
    assert summary["baseline"]["accuracy"] < 0.05
