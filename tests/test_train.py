"""Training, checkpoints, resume and sampling on a tiny corpus the test writes."""

import hashlib

import pytest
import torch

from rnnlab.generate import generate
from rnnlab.models.language_model import ModelConfig
from rnnlab.train import checkpoint as ckpt
from rnnlab.train.config import TrainConfig, parse_duration
from rnnlab.train.loop import Trainer
from rnnlab.train.progress import Progress

TEXT = "".join(f"line {i % 7}: the cat sat on the mat.\n" for i in range(120))


class Quiet(Progress):
    def __init__(self):
        super().__init__(stream=open("/dev/null", "w"))


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT)
    return str(path)


def _cfgs(corpus, **train):
    model = ModelConfig(cell="lstm", hidden_size=24, num_layers=2, embedding_size=8, dropout=0.2)
    base = dict(data=corpus, seq_len=16, batch_size=4, time_budget="", eval_every=3, sample_chars=0, schedule="step")
    base.update(train)
    return model, TrainConfig(**base)


def _weights(run):
    model = ckpt.load_model(run, "last")[0]
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_overfits_a_tiny_text(tmp_path, corpus):
    model_cfg, cfg = _cfgs(corpus, max_steps=150, lr=1e-2, eval_every=50, schedule="constant")
    model_cfg.dropout = 0.0
    summary = Trainer(tmp_path / "run", model_cfg, cfg, progress=Quiet()).run()
    assert summary["best_val"] < 0.8  # from ln(19) ~ 2.9 nats at the start
    model, vocab, *_ = ckpt.load_model(tmp_path / "run")
    text = "".join(generate(model, vocab, "line 3: the cat ", 21, temperature=0))
    assert text == "sat on the mat.\nline "


def test_resume_equals_uninterrupted_training(tmp_path, corpus):
    model_cfg, cfg = _cfgs(corpus, max_steps=11)
    Trainer(tmp_path / "whole", model_cfg, cfg, progress=Quiet()).run()
    model_cfg, cfg = _cfgs(corpus, max_steps=5)
    Trainer(tmp_path / "parts", model_cfg, cfg, progress=Quiet()).run()
    _, cfg = _cfgs(corpus, max_steps=11)
    Trainer(tmp_path / "parts", ModelConfig(), cfg, resume=True, progress=Quiet()).run()
    whole, parts = _weights(tmp_path / "whole"), _weights(tmp_path / "parts")
    assert whole.keys() == parts.keys()
    for k in whole:
        assert torch.equal(whole[k], parts[k]), k
    # the chunks wrapped around the text (10 chunks a pass), so carry reset and RNG both mattered
    lines = (tmp_path / "parts" / "metrics.jsonl").read_text().splitlines()
    assert [int(line.split('"step": ')[1].split(",")[0]) for line in lines] == [3, 5, 6, 9, 11]


def test_checkpoint_round_trip_and_deterministic_sampling(tmp_path, corpus):
    model_cfg, cfg = _cfgs(corpus, max_steps=6)
    trainer = Trainer(tmp_path / "run", model_cfg, cfg, progress=Quiet())
    trainer.run()
    loaded, vocab, loaded_cfg, loaded_train, info = ckpt.load_model(tmp_path / "run", "last")
    assert loaded_cfg == trainer.model.config and loaded_train == cfg and info["step"] == 6
    for (k, a), b in zip(trainer.model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k

    def sample(seed):
        return "".join(generate(loaded, vocab, "the", 40, 1.0, generator=torch.Generator().manual_seed(seed)))

    assert sample(7) == sample(7) != sample(8)


def test_refuses_to_overwrite_a_run_and_keeps_it(tmp_path, corpus):
    model_cfg, cfg = _cfgs(corpus, max_steps=3)
    Trainer(tmp_path / "run", model_cfg, cfg, progress=Quiet()).run()
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "run").iterdir()}
    with pytest.raises(ValueError, match="already holds a run; use --resume"):
        Trainer(tmp_path / "run", *_cfgs(corpus, max_steps=3), progress=Quiet())
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "run").iterdir()}
    assert before == after


def test_durations():
    assert parse_duration("100s") == 100 and parse_duration("3m") == 180 and parse_duration("1.5h") == 5400
    assert parse_duration("90") == 90 and parse_duration("") is None
    with pytest.raises(ValueError, match="time_budget: expected a duration"):
        parse_duration("soon")
