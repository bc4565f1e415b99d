"""The guard against divergence: NaN, inf and loss spikes stop the run, keep the last good
checkpoint and say how to go on; the checkpoint resumes."""

import json
import math

import pytest
import torch

from rnnlab.checkpoint import read_tensors
from rnnlab.models.language_model import ModelConfig
from rnnlab.runs import read_metrics
from rnnlab.tasks import LanguageModelTask, resume
from rnnlab.tasks.lm import LMDataConfig
from rnnlab.train import OptimConfig, RunConfig, Trainer
from rnnlab.train.guard import check_step
from rnnlab.train.options import options
from rnnlab.train.progress import Progress
from rnnlab.train.state import TrainerState

TEXT = "".join(f"line {i % 7}: the cat sat on the mat.\n" for i in range(120))


class Said(Progress):
    """Keeps what the trainer logs."""

    def __init__(self):
        super().__init__(stream=open("/dev/null", "w"))
        self.lines: list[str] = []

    def log(self, message: str) -> None:
        self.lines.append(message)


def _guard(losses, factor=3.0):
    state = TrainerState()
    for k, loss in enumerate(losses):
        reason = check_step(loss, 1.0, state, factor)
        if reason:
            return k, reason
    return None, None


def test_the_guard_stops_a_spike_over_the_running_level_or_the_first_loss():
    assert _guard([4.2, 13.0]) == (1, "the training loss 13 is over 3 times its running level 4.2")
    assert _guard([4.2, 12.5])[0] is None  # char-rnn's rule at the start: 3 x the first loss
    learnt = [4.2] + [1.5] * 200
    assert _guard([*learnt, 4.4])[0] is None  # 3 x 1.5 = 4.5 is the limit
    k, reason = _guard([*learnt, 4.6])
    assert k == len(learnt) and "over 3 times its running level 1.5" in reason, reason
    fitted = [4.2] + [0.01] * 200  # nearly perfect: a batch at 0.5 is noise, not divergence
    assert _guard([*fitted, 0.5, 4.0])[0] is None
    assert "and the first step's 4.2" in _guard([*fitted, 4.3])[1]
    assert _guard([*learnt, 50.0], factor=0.0)[0] is None  # off


@pytest.mark.parametrize(("loss", "norm", "said"), [(math.nan, 1.0, "loss is nan"), (1.0, math.inf, "norm is inf")])
def test_the_guard_stops_non_finite_losses_and_gradients_even_when_off(loss, norm, said):
    assert said in check_step(loss, norm, TrainerState(), 0.0)


def test_the_spike_guard_is_the_language_model_s_and_checked():
    assert options("lm")[1].spike_factor == 3.0
    assert {options(kind)[1].spike_factor for kind in ("classify", "tag", "seq2seq", "sequence", "tree")} == {0.0}
    with pytest.raises(ValueError, match="spike_factor"):
        RunConfig(spike_factor=0.5).validate()


def _trainer(tmp_path, inject, at_step=7):
    """A small character model whose loss at ``at_step`` (the step about to be taken) is ``inject(loss)``."""
    (tmp_path / "text.txt").write_text(TEXT)
    data = LMDataConfig(data=str(tmp_path / "text.txt"), seq_len=16, sample_chars=0)
    run = RunConfig(eval_every=5, max_steps=20, time_budget="")
    task = LanguageModelTask(ModelConfig(hidden_size=16, embedding_size=8), data, 4, run.seed)
    progress = Said()
    trainer = Trainer(task, tmp_path / "run", OptimConfig(batch_size=4, schedule="constant"), run, progress)
    loss = task.loss

    def injected(batch):
        objective, figures = loss(batch)
        if trainer.state.step + 1 == at_step:
            objective = inject(objective)
            figures = {**figures, "loss": objective.item()}
        return objective, figures

    task.loss = injected
    return trainer, progress


@pytest.mark.parametrize(
    ("inject", "reason"),
    [
        (lambda loss: loss * math.nan, "the training loss is nan"),
        (lambda loss: loss * 10, "is over 3 times its running level"),
    ],
)
def test_an_injected_nan_or_spike_stops_the_run_and_its_checkpoint_resumes(tmp_path, inject, reason):
    trainer, progress = _trainer(tmp_path, inject)
    summary = trainer.run()
    assert summary["diverged"] and summary["stopped"] == "diverged" and reason in summary["divergence"]
    assert summary["steps"] == 6  # the poisoned step 7 was not taken
    said = "\n".join(progress.lines)
    out = tmp_path / "run"
    assert "diverged at step 7 (" in said and reason in said, said
    assert f"keep the weights of step 5: go on with --resume {out} --lr 0.0025 (or --clip-norm 2.5)" in said, said
    tensors, meta = read_tensors(out / "last.safetensors")
    counters = json.loads(meta["trainer"])
    assert counters["step"] == 5 and counters["loss_start"] > counters["loss_level"] > 0
    assert all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())
    assert not (out / "results.json").exists()
    # the advice, taken: the run goes on from step 5 with half the rate, to its step limit
    again = resume(out, {"lr": 0.0025}, Said()).run()
    assert not again["diverged"] and again["steps"] == 20
    assert [r["step"] for r in read_metrics(out)] == [5, 10, 15, 20]
    assert [r["lr"] for r in read_metrics(out)][1:] == [0.0025] * 3
