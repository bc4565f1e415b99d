"""The one trainer: training, checkpoints, exact resume for every kind of task, and sampling."""

import hashlib

import pytest
import torch

from rnnlab.generate import generate
from rnnlab.models.classifier import ClassifierConfig
from rnnlab.models.language_model import ModelConfig
from rnnlab.models.seq2seq import Seq2SeqConfig
from rnnlab.models.sequence import SequenceConfig
from rnnlab.models.tagger import TaggerConfig
from rnnlab.runs import LAST, read_metrics
from rnnlab.tasks import ClassifyTask, LanguageModelTask, Seq2SeqTask, SequenceTask, TagTask, resume
from rnnlab.tasks.classify import ClassifyConfig
from rnnlab.tasks.lm import LMDataConfig, load_model
from rnnlab.tasks.seq2seq import Seq2SeqDataConfig
from rnnlab.tasks.tag import TagConfig
from rnnlab.train import OptimConfig, RunConfig, Trainer, distributed
from rnnlab.train.options import options, parse_duration
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


def _lm(corpus, **run):
    model = ModelConfig(cell="lstm", hidden_size=24, num_layers=2, embedding_size=8, dropout=0.2)
    data = LMDataConfig(data=corpus, seq_len=16, sample_chars=0)
    optim = OptimConfig(batch_size=4, schedule="step")
    opts = RunConfig(**{"time_budget": "", "eval_every": 3, **run})
    return LanguageModelTask(model, data, optim.batch_size, opts.seed), optim, opts


def _weights(run):
    model = load_model(run, "last")[0]
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_overfits_a_tiny_text(tmp_path, corpus):
    task, optim, run = _lm(corpus, max_steps=150, eval_every=50)
    task.model.config.dropout = 0.0
    task = LanguageModelTask(task.model.config, task.data, 4, 1234)
    optim.lr, optim.schedule = 1e-2, "constant"
    summary = Trainer(task, tmp_path / "run", optim, run, Quiet()).run()
    assert summary["best"]["val_loss"] < 0.8  # from ln(19) ~ 2.9 nats at the start
    model, vocab, *_ = load_model(tmp_path / "run")
    text = "".join(generate(model, vocab, "line 3: the cat ", 21, temperature=0))
    assert text == "sat on the mat.\nline "


def test_lm_resume_equals_uninterrupted_training(tmp_path, corpus):
    Trainer(*_split(_lm(corpus, max_steps=11), tmp_path / "whole")).run()
    Trainer(*_split(_lm(corpus, max_steps=5), tmp_path / "parts")).run()
    resume(tmp_path / "parts", {"max_steps": 11}, Quiet()).run()
    _same_weights(tmp_path / "whole", tmp_path / "parts")
    # the chunks wrapped around the text (10 chunks a pass), so carry reset and RNG both mattered
    assert [r["step"] for r in read_metrics(tmp_path / "parts")] == [3, 5, 6, 9, 11]


def _split(made, out):
    task, optim, run = made
    optim.schedule = "step"  # cosine follows max_steps, which a stopped and resumed run changes
    return task, out, optim, run, Quiet()


def _same_weights(a, b):
    from rnnlab.checkpoint import read_tensors

    whole, parts = read_tensors(a / LAST)[0], read_tensors(b / LAST)[0]
    weights = sorted(k for k in whole if k.startswith(("model.", "optim.")))
    assert weights and weights == sorted(k for k in parts if k.startswith(("model.", "optim.")))
    for k in weights:
        assert torch.equal(whole[k], parts[k]), k


def _sequence(**run):
    model = SequenceConfig(task="adding", steps=6, hidden_size=8)
    optim, opts = options("sequence", {"eval_every": 4, "time_budget": "", **run})
    optim.batch_size = 5
    return SequenceTask(model, optim.batch_size, opts.seed), optim, opts


def _classify(tmp_path, **run):
    rows = ["label,text"] + [
        f"{'pos' if i % 2 else 'neg'},{'good fine' if i % 2 else 'bad poor'} film {i}" for i in range(60)
    ]
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    model = ClassifierConfig(hidden_size=8, embedding_size=8, dropout=0.3)
    optim, opts = options("classify", {"eval_every": 4, "max_epochs": 0.0, "batch_size": 8, **run})
    data = ClassifyConfig(data=str(tmp_path / "c.csv"), baseline=False)
    return ClassifyTask(model, data, optim.batch_size, opts.seed), optim, opts


def _tag(tmp_path, **run):
    sentences = [f"I met Mary Smith {i} .\n" for i in range(40)]
    conll = "\n".join(
        "".join(f"{w} {t}\n" for w, t in zip(s.split(), ["O", "O", "B-PER", "I-PER", "O", "O"])) for s in sentences
    )
    (tmp_path / "t.conll").write_text(conll)
    model = TaggerConfig(hidden_size=8, embedding_size=8, char_embedding_size=4, char_hidden_size=4)
    optim, opts = options("tag", {"eval_every": 4, "max_epochs": 0.0, "batch_size": 4, **run})
    return TagTask(model, TagConfig(data=str(tmp_path / "t.conll")), optim.batch_size, opts.seed), optim, opts


def _seq2seq(tmp_path, **run):
    words = ["red", "blue", "cat", "dog", "sun"]
    rows = [(" ".join(words[(i + k) % 5] for k in range(2 + i % 3)), words[i % 5]) for i in range(60)]
    (tmp_path / "p.tsv").write_text("source\ttarget\n" + "".join(f"{a}\t{b}\n" for a, b in rows))
    model = Seq2SeqConfig(hidden_size=8, embedding_size=8, dropout=0.3)
    optim, opts = options("seq2seq", {"eval_every": 4, "max_epochs": 0.0, "batch_size": 8, **run})
    data = Seq2SeqDataConfig(data=str(tmp_path / "p.tsv"), tokens="word", eval_sentences=5, test_beam=2)
    return Seq2SeqTask(model, data, optim.batch_size, opts.seed), optim, opts


@pytest.mark.parametrize("make", [_sequence, _classify, _tag, _seq2seq], ids=["sequence", "classify", "tag", "seq2seq"])
def test_every_task_resumes_exactly(tmp_path, make):
    args = (tmp_path,) if make is not _sequence else ()
    Trainer(*_split(make(*args, max_steps=14), tmp_path / "whole")).run()
    Trainer(*_split(make(*args, max_steps=6), tmp_path / "parts")).run()
    summary = resume(tmp_path / "parts", {"max_steps": 14}, Quiet()).run()
    assert summary["steps"] == 14 and not summary["diverged"]
    _same_weights(tmp_path / "whole", tmp_path / "parts")
    # the same weights score the same at every evaluation both runs made
    held = [
        {k: v for k, v in r.items() if k == "step" or k.startswith(("val_", "test_"))}
        for r in read_metrics(tmp_path / "whole")
    ]
    parts = {r["step"]: {k: r[k] for k in held[0]} for r in read_metrics(tmp_path / "parts")}
    assert len(held[0]) > 1 and held == [parts[r["step"]] for r in held]


def test_checkpoint_round_trip_and_deterministic_sampling(tmp_path, corpus):
    task, optim, run = _lm(corpus, max_steps=6)
    Trainer(task, tmp_path / "run", optim, run, Quiet()).run()
    loaded, vocab, loaded_cfg, loaded_data, info = load_model(tmp_path / "run", "last")
    assert loaded_cfg == task.model.config and loaded_data == task.data and info["step"] == 6
    for (k, a), b in zip(task.model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k

    def sample(seed):
        return "".join(generate(loaded, vocab, "the", 40, 1.0, generator=torch.Generator().manual_seed(seed)))

    assert sample(7) == sample(7) != sample(8)


def test_refuses_to_overwrite_a_run_and_keeps_it(tmp_path, corpus):
    Trainer(*_split(_lm(corpus, max_steps=3), tmp_path / "run")).run()
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "run").iterdir()}
    with pytest.raises(ValueError, match="already holds a run; use --resume"):
        Trainer(*_split(_lm(corpus, max_steps=3), tmp_path / "run"))
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "run").iterdir()}
    assert before == after


def test_patience_stops_early_and_keeps_the_best(tmp_path):
    task, optim, run = _classify(tmp_path, max_epochs=50.0, eval_every=0, patience=2)
    optim.lr = 1e-12  # nothing improves after the first evaluation
    summary = Trainer(task, tmp_path / "run", optim, run, Quiet()).run()
    assert summary["stopped"] == "no better score for 2 evaluations"
    assert summary["best_step"] == task.batches_per_epoch and summary["steps"] == 3 * task.batches_per_epoch


def test_an_endless_stream_has_no_epochs(tmp_path):
    task, optim, run = _sequence(max_steps=2)
    run.eval_every = 0
    with pytest.raises(ValueError, match="eval_every: this task's data is an endless stream"):
        Trainer(task, tmp_path / "run", optim, run, Quiet())
    assert not (tmp_path / "run").exists()


def test_durations():
    assert parse_duration("100s") == 100 and parse_duration("3m") == 180 and parse_duration("1.5h") == 5400
    assert parse_duration("90") == 90 and parse_duration("") is None
    with pytest.raises(ValueError, match="time_budget: expected a duration"):
        parse_duration("soon")


def test_a_signal_after_the_agreement_waits_for_the_next_step(tmp_path, corpus, monkeypatch):
    # Several processes agree at the top of each step whether any was signalled. A signal that lands
    # on one of them just after that must not end its loop alone (it would wait in a collective the
    # others never join): the step is taken, and the next agreement stops every process.
    trainer = Trainer(*_split(_lm(corpus, max_steps=50), tmp_path / "run"))
    agree, calls = distributed.agree, []

    def late_signal(elapsed, signalled):
        result = agree(elapsed, signalled)
        calls.append(result[1])
        if len(calls) == 2:  # step 1 agreed to go on; then the signal
            trainer._stop = True
        return result

    monkeypatch.setattr(distributed, "agree", late_signal)
    summary = trainer.run()
    assert calls == [False, False, True] and summary["steps"] == 2 and summary["interrupted"]
