"""What a training's time budget does not pay for: the timing of ``path="auto"``'s candidates."""

import time

import pytest

from rnnlab import path_choice
from rnnlab.bptt import native
from rnnlab.train.clock import budget_clock


def test_the_timing_of_paths_is_counted_apart(monkeypatch):
    monkeypatch.setattr(path_choice, "_choices", {})
    monkeypatch.setattr(path_choice, "_timings", {})
    monkeypatch.setattr(path_choice, "_spent", {"wall": 0.0, "cpu": 0.0})
    runs = {"fused": lambda: time.sleep(0.02), "bptt": lambda: sum(range(200_000))}
    clock = budget_clock("wall")
    wall0, on_budget0 = time.monotonic(), clock()
    path_choice.choose("key", lambda: runs)
    timed = path_choice.spent("wall")
    assert timed >= 0.04 and path_choice.spent("cpu") > 0  # at least two rounds of a 20 ms sleep
    assert time.monotonic() - wall0 >= timed
    assert clock() - on_budget0 < time.monotonic() - wall0 - timed + 0.05  # what the budget saw
    path_choice.choose("key", lambda: runs)  # decided: a lookup, no more timing
    assert path_choice.spent("wall") == timed


@pytest.mark.slow  # sleeps through a stand-in timing, then trains for a 2 s budget
def test_a_slow_choice_of_path_is_not_paid_from_the_time_budget(tmp_path, monkeypatch):
    from rnnlab.models.language_model import ModelConfig
    from rnnlab.tasks.lm import LanguageModelTask, LMDataConfig
    from rnnlab.train import OptimConfig, RunConfig, Trainer

    measured = []

    def slow_measure(runs):  # longer than the whole budget
        measured.append(sorted(runs))
        time.sleep(3)
        return "fused", {"fused": 1.0, "bptt": 2.0}

    monkeypatch.setattr(path_choice, "_measure", slow_measure)
    monkeypatch.setattr(path_choice, "_choices", {})
    monkeypatch.setattr(native, "ready", lambda: True)
    (tmp_path / "text.txt").write_text("To be, or not to be: that is the question.\n" * 40)
    data = LMDataConfig(data=str(tmp_path / "text.txt"), seq_len=16, sample_chars=0)
    run = RunConfig(time_budget="2s", eval_every=1000)
    # 16 steps x batch 4 x 4*64 gate units: a shape whose path is timed
    task = LanguageModelTask(ModelConfig(hidden_size=64, embedding_size=8), data, 4, run.seed)
    summary = Trainer(task, tmp_path / "run", OptimConfig(batch_size=4), run).run()
    assert measured and measured[0] == ["bptt", "fused"]
    assert summary["steps"] >= 2  # paid from the budget, the timing would have taken all of it
