"""Non-finite and out-of-range numbers, absurd model sizes and diverged weights: refused in one line."""

import dataclasses
import json

import pytest
import torch

from rnnlab import checks
from rnnlab.cells import NAMES
from rnnlab.checkpoint import save_state, save_weights
from rnnlab.cli import main
from rnnlab.configs import check_fields, field_kind, from_dict
from rnnlab.generate import pick
from rnnlab.models.classifier import ClassifierConfig, TextClassifier
from rnnlab.models.language_model import LanguageModel, ModelConfig, count_parameters
from rnnlab.models.sequence import SequenceConfig, build_model
from rnnlab.models.tagger import Tagger, TaggerConfig
from rnnlab.runs import BEST, LAST
from rnnlab.tasks.classify import ClassifyConfig
from rnnlab.tasks.common import TextDataConfig
from rnnlab.tasks.lm import LMDataConfig, load_model
from rnnlab.tasks.tag import TagConfig
from rnnlab.train import OptimConfig, RunConfig
from tests.cli_errors import one_line_error

TEXT = "".join(f"To be, or not to be: that is the question {i % 5}.\n" for i in range(80))
TINY = "--hidden-size 16 --embedding-size 8 --seq-len 16 --batch-size 4 --eval-every 5 --sample-chars 20".split()

# a valid instance of every configuration
CONFIGS = [
    OptimConfig(),
    RunConfig(),
    LMDataConfig(),
    TextDataConfig(data="x"),
    ClassifyConfig(data="x"),
    TagConfig(data="x"),
    ModelConfig(vocab_size=5),
    ClassifierConfig(vocab_size=5, num_classes=2),
    TaggerConfig(vocab_size=5, num_chars=5, num_tags=2),
    SequenceConfig(),
]
FLOAT_FIELDS = [(c, f.name) for c in CONFIGS for f in dataclasses.fields(c) if field_kind(type(c), f.name) is float]


def _brief(argv):
    """Flags that end a training at once, should it start (as it did before these checks)."""
    return ["--epochs", "1"] if "--task" in argv else ["--max-steps", "1"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("numbers")
    (root / "text.txt").write_text(TEXT)
    assert main(["train", "--data", str(root / "text.txt"), "--out", str(root / "run"), "--max-steps", "6", *TINY]) == 0
    return root / "run"


def _copy(run_dir, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in run_dir.iterdir():
        if p.is_file():
            (copy / p.name).write_bytes(p.read_bytes())
    return copy


def _model_filled_with(run, value):
    model = load_model(run)[0]
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)
    return model


# ---------------------------------------------------------------------------------- configs
def test_every_config_is_valid_as_made_here():
    for config in CONFIGS:
        config.validate()


@pytest.mark.parametrize("config, name", FLOAT_FIELDS, ids=[f"{type(c).__name__}.{n}" for c, n in FLOAT_FIELDS])
@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan"), "0.1", True])
def test_every_float_field_of_every_config_must_be_a_finite_number(config, name, bad):
    with pytest.raises(ValueError, match=f"^{name}: expected"):
        dataclasses.replace(config, **{name: bad}).validate()


@pytest.mark.parametrize(
    "config, name, value",
    [
        (OptimConfig(), "lr_decay", 2.0),
        (OptimConfig(), "lr_decay", 0.0),
        (OptimConfig(), "clip_norm", -1.0),
        (OptimConfig(), "clip_value", -0.5),
        (OptimConfig(), "weight_decay", -1e-4),
        (RunConfig(), "seed", -1),
        (RunConfig(), "seed", 2**64),
        (RunConfig(), "seed", -5),
        (SequenceConfig(), "data_seed", -1),
        (LMDataConfig(), "seq_len", 2.5),
        (RunConfig(), "time_budget", "9" * 400 + "s"),
        (ModelConfig(vocab_size=5), "cell_options", {"scale": float("nan")}),
        (SequenceConfig(), "cell_options", {"periods": [1, float("inf")]}),
    ],
)
def test_out_of_range_values_are_refused(config, name, value):
    with pytest.raises(ValueError, match=f"^{name}: expected"):
        dataclasses.replace(config, **{name: value}).validate()


def test_a_saved_config_with_a_null_number_is_refused_on_loading():
    with pytest.raises(ValueError, match="lr: expected a finite number, got None"):
        from_dict(OptimConfig, {"lr": None}, "train config")
    with pytest.raises(ValueError, match="seq_len: expected an integer, got 1.5"):
        from_dict(LMDataConfig, {"seq_len": 1.5}, "train config")
    check_fields(RunConfig(target=None))  # an optional field may be None


# ---------------------------------------------------------------------------------- model size
@pytest.mark.parametrize("cell", NAMES)
def test_the_parameter_bound_never_exceeds_the_true_count(cell):
    lm = ModelConfig(vocab_size=7, cell=cell, hidden_size=8, num_layers=2, embedding_size=3)
    cls = ClassifierConfig(vocab_size=7, num_classes=3, cell=cell, hidden_size=8, num_layers=2, embedding_size=3)
    tag = TaggerConfig(vocab_size=7, num_chars=5, num_tags=3, cell=cell, hidden_size=8, embedding_size=3)
    tag = dataclasses.replace(tag, num_layers=2, char_embedding_size=2, char_hidden_size=4)
    seq = SequenceConfig(cell=cell, hidden_size=8, num_layers=2)
    models = (LanguageModel(lm), TextClassifier(cls), Tagger(tag), build_model(seq)[0])
    for config, model in zip((lm, cls, tag, seq), models):
        assert 0 < config.min_parameters() <= count_parameters(model), type(config).__name__


def test_a_model_larger_than_the_memory_is_refused_before_it_is_built(monkeypatch):
    monkeypatch.setattr(checks, "total_memory", lambda: 100_000)  # 25,000 parameters
    cfg = ModelConfig(vocab_size=50, hidden_size=256, embedding_size=16)
    with pytest.raises(ValueError, match=f"at least {cfg.min_parameters():,} parameters need .* MB of memory"):
        LanguageModel(cfg)
    for config in (
        ClassifierConfig(vocab_size=50, num_classes=2, hidden_size=64),
        TaggerConfig(vocab_size=50, num_chars=5, num_tags=2, hidden_size=64),
        SequenceConfig(hidden_size=256),
    ):
        with pytest.raises(ValueError, match="parameters need"):
            config.validate()


def test_running_out_of_memory_while_building_is_one_clear_error(monkeypatch):
    import rnnlab.models.language_model as lm

    def no_memory(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 123456789012 bytes.")

    monkeypatch.setattr(lm, "Recurrent", no_memory)
    with pytest.raises(ValueError, match=r"out of memory while building its weights \(123.5 GB"):
        LanguageModel(ModelConfig(vocab_size=5))

    def other(*args, **kwargs):
        raise RuntimeError("something else")

    monkeypatch.setattr(lm, "Recurrent", other)
    with pytest.raises(RuntimeError, match="something else"):  # only failed allocations are rephrased
        LanguageModel(ModelConfig(vocab_size=5))


def test_train_refuses_an_allocation_failure_in_one_line_without_a_run(tmp_path, capsys, monkeypatch):
    import rnnlab.models.language_model as lm

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(lm, "Recurrent", no_memory)
    (tmp_path / "text.txt").write_text(TEXT)
    assert main(["train", "--data", str(tmp_path / "text.txt"), "--out", str(tmp_path / "run"), *TINY]) == 2
    one_line_error(capsys, "rnnlab train: error: model: out of memory")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--hidden-size", "1000000000"],
        ["train", "--embedding-size", "100000000000"],
        ["train", "--task", "classify", "--hidden-size", "1000000000"],
        ["train", "--task", "tag", "--char-hidden-size", "1000000000"],
        ["task", "adding", "--hidden-size", "1000000000"],
    ],
)
def test_absurd_sizes_are_refused_before_the_data_is_read(tmp_path, capsys, argv):
    out = tmp_path / "run"
    data = [] if argv[0] == "task" else ["--data", str(tmp_path / "not-there.txt")]  # never read
    assert main([*argv, *data, "--out", str(out), *_brief(argv)]) == 2
    one_line_error(capsys, f"rnnlab {argv[0]}: error: model: at least", "parameters need", "this machine has")
    assert not out.exists()


# ---------------------------------------------------------------------------------- flags


@pytest.mark.parametrize(
    "argv, name",
    [
        (["train", "--lr", "inf"], "lr"),
        (["train", "--lr", "nan"], "lr"),
        (["train", "--lr-decay", "nan"], "lr_decay"),
        (["train", "--max-epochs", "inf"], "max_epochs"),
        (["train", "--dropout", "nan"], "dropout"),
        (["train", "--init-range", "inf"], "init_range"),
        (["train", "--cell-options", '{"scale": NaN}'], "cell_options"),
        (["train", "--task", "classify", "--clip-norm", "nan"], "clip_norm"),
        (["train", "--task", "classify", "--weight-decay=-inf"], "weight_decay"),
        (["train", "--task", "tag", "--word-dropout", "nan"], "word_dropout"),
        (["train", "--task", "tag", "--lr", "inf"], "lr"),
        (["task", "adding", "--lr", "inf"], "lr"),
        (["task", "adding", "--target", "nan"], "target"),
        (["task", "adding", "--clip-value", "inf"], "clip_value"),
    ],
)
def test_training_refuses_non_finite_flags_in_one_line_without_a_run(tmp_path, capsys, argv, name):
    (tmp_path / "text.txt").write_text(TEXT)
    out = tmp_path / "run"
    data = [] if argv[0] == "task" else ["--data", str(tmp_path / "text.txt")]
    assert main([*argv, *data, "--out", str(out), *_brief(argv)]) == 2
    one_line_error(capsys, f"rnnlab {argv[0]}: error: {name}: expected")
    assert not out.exists()


@pytest.mark.parametrize(
    "flag, value, name",
    [
        ("--temperature", "nan", "temperature"),
        ("--temperature", "inf", "temperature"),
        ("--temperature", "-1", "temperature"),
        ("--top-p", "nan", "top_p"),
        ("--top-p", "1.5", "top_p"),
        ("--top-k", "-2", "top_k"),
        ("--length", "-1", "length"),
        ("--seed", "-1", "seed"),
        ("--seed", str(2**70), "seed"),
    ],
)
def test_sample_refuses_bad_numbers_in_one_line(run_dir, capsys, flag, value, name):
    assert main(["sample", str(run_dir), "--length", "5", flag, value]) == 2
    one_line_error(capsys, f"rnnlab sample: error: {name}: expected")


def test_pick_survives_any_positive_temperature_and_refuses_non_finite_scores():
    gen = torch.Generator().manual_seed(0)
    logits = torch.tensor([1.0, 3.0, 2.0])
    assert pick(logits, 1e-310, 0, 1.0, gen) == 1  # logits / T would overflow to inf
    assert pick(logits, 1e300, 0, 1.0, gen) in (0, 1, 2)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="not finite"):
            pick(torch.tensor([1.0, bad, 2.0]), 0.8, 0, 1.0, gen)


# ---------------------------------------------------------------------------------- diverged weights
def test_sample_and_eval_refuse_non_finite_weights_naming_the_file(run_dir, tmp_path, capsys):
    copy = _copy(run_dir, tmp_path)
    save_weights(copy / BEST, _model_filled_with(copy, float("nan")), {"step": 6})
    for command in (["sample", str(copy), "--length", "5"], ["eval", str(copy)]):
        assert main(command) == 2
        err = one_line_error(capsys, f"{copy / BEST} holds non-finite weights (NaN or inf)", "lower --lr")
        assert "--checkpoint best" not in err
    assert main(["sample", str(copy), "--length", "5", "--checkpoint", "last"]) == 0  # the last weights are fine
    capsys.readouterr()


def test_non_finite_last_weights_point_to_the_best_ones(run_dir, tmp_path, capsys):
    copy = _copy(run_dir, tmp_path)
    model = _model_filled_with(copy, float("inf"))
    optimizer = torch.optim.Adam(model.parameters())
    save_state(copy / LAST, model, optimizer, {}, {"step": 6}, {})
    assert main(["eval", str(copy), "--checkpoint", "last"]) == 2
    one_line_error(capsys, f"{copy / LAST} holds non-finite weights", "--checkpoint best")


def test_eval_prints_strict_json_when_the_loss_is_not_finite(run_dir, tmp_path, capsys):
    copy = _copy(run_dir, tmp_path)
    model = load_model(copy)[0]
    with torch.no_grad():  # finite weights whose loss overflows: one token scores 3e38, the others -3e38
        model.readout.weight.zero_()
        model.readout.bias.fill_(-3e38)
        model.readout.bias[0] = 3e38
    save_weights(copy / BEST, model, {"step": 6})
    assert main(["eval", str(copy)]) == 0

    def refuse(constant):
        raise AssertionError(f"not JSON: {constant}")

    result = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert result["perplexity"] is None and result["loss_nats"] is None and result["checkpoint_step"] == 6
