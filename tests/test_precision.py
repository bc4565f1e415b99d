"""``--precision bf16``: mixed precision for language models, refused where it cannot help."""

import json

import pytest
import torch

from rnnlab.cli import main
from rnnlab.models.language_model import LanguageModel, ModelConfig, loss_of
from rnnlab.runs import read_config
from rnnlab.tasks import LanguageModelTask, resume
from rnnlab.tasks.lm import LMDataConfig
from rnnlab.train import OptimConfig, RunConfig, Trainer, precision
from rnnlab.train.precision import autocast, check_precision
from tests.cli_errors import one_line_error
from tests.test_train import Quiet

TEXT = "".join(f"line {i % 7}: the cat sat on the mat.\n" for i in range(60))


def _model(cell: str = "lstm") -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(ModelConfig(vocab_size=11, cell=cell, hidden_size=32, num_layers=2, embedding_size=8))


def _grads(model: LanguageModel, ids: torch.Tensor, how: str) -> tuple[float, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    with autocast(model, how):
        logits, _ = model(ids[:-1])
        loss = loss_of(logits, ids[1:])
    loss.backward()
    return loss.item(), torch.cat([p.grad.flatten() for p in model.parameters()])


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision: expected one of 'fp32', 'bf16', got 'fp16'"):
        RunConfig(precision="fp16", max_steps=1).validate()


def test_bf16_is_refused_where_it_cannot_help(monkeypatch):
    model = _model()
    check_precision("fp32", "classify", _model("scrn"))  # fp32: nothing to check
    with pytest.raises(ValueError, match="a classify run trains in fp32"):
        check_precision("bf16", "classify", model)
    monkeypatch.setattr(precision, "native_bf16", lambda: True)
    check_precision("bf16", "lm", model)
    for cell in ("scrn", "gru", "rnn-tanh", "lstm-1997"):  # no fused kernel, or one that is not oneDNN's
        with pytest.raises(ValueError, match=f"cell {cell} trains faster in fp32"):
            check_precision("bf16", "lm", _model(cell))
    monkeypatch.setattr(precision, "native_bf16", lambda: False)
    with pytest.raises(ValueError, match="AVX-512 BF16 or AMX"):
        check_precision("bf16", "lm", model)


def test_the_command_line_refuses_bf16_on_a_cpu_without_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(precision, "native_bf16", lambda: False)
    (tmp_path / "t.txt").write_text(TEXT)
    argv = ["train", "--data", str(tmp_path / "t.txt"), "--max-steps", "2", "--precision", "bf16"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    one_line_error(capsys, "precision: bf16 needs a CPU that multiplies bfloat16 natively")
    assert not (tmp_path / "run").exists()


def test_bf16_products_with_float32_state_and_nothing_left_behind():
    model, ids = _model(), torch.randint(0, 11, (9, 3))
    with autocast(model, "bf16"):
        logits, state = model(ids)
    assert logits.dtype == torch.bfloat16  # the readout's product ran in bfloat16
    assert [s.dtype for s in state] == [torch.float32, torch.float32]  # what the next chunk starts from
    assert not model.rnn._forward_hooks
    assert not torch.is_autocast_enabled("cpu")
    plain, _ = model(ids)
    with autocast(model, "fp32"):
        same, _ = model(ids)
    assert plain.dtype == torch.float32 and torch.equal(plain, same)


def test_bf16_loss_and_gradients_follow_fp32():
    model, ids = _model(), torch.randint(0, 11, (17, 4))
    loss32, grad32 = _grads(model, ids, "fp32")
    loss16, grad16 = _grads(model, ids, "bf16")
    assert grad16.dtype == torch.float32  # master weights and their gradients stay float32
    assert abs(loss16 - loss32) < 1e-2 * loss32  # bfloat16 keeps 8 bits: about 0.4% a product
    cosine = torch.nn.functional.cosine_similarity(grad16, grad32, dim=0)
    assert 0.99 < cosine <= 1.0 + 1e-6
    assert not torch.equal(grad16, grad32)  # it did run in another precision


@pytest.mark.slow
@pytest.mark.skipif(not precision.native_bf16(), reason="this CPU has no native bfloat16")
def test_a_bf16_run_learns_and_resumes_in_bf16(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(TEXT)
    model = ModelConfig(cell="lstm", hidden_size=24, embedding_size=8)
    data = LMDataConfig(data=str(path), seq_len=16, sample_chars=0)
    optim = OptimConfig(batch_size=4, schedule="constant", lr=1e-2)
    run = RunConfig(time_budget="", max_steps=30, eval_every=15, precision="bf16", telemetry_every=10)
    task = LanguageModelTask(model, data, optim.batch_size, run.seed)
    first = Trainer(task, tmp_path / "run", optim, run, Quiet()).run()
    assert first["final"]["val_loss"] < 2.0  # from ln(19) ~ 2.9 nats
    assert read_config(tmp_path / "run").sections["run"]["precision"] == "bf16"
    profiles = [json.loads(line) for line in (tmp_path / "run" / "gradflow.jsonl").read_text().splitlines()]
    assert [p["step"] for p in profiles] == [10, 20, 30]  # those steps ran in fp32, on explicit BPTT
    assert all(len(p["norms"][0]) == 16 and min(p["norms"][0]) > 0 for p in profiles)
    again = resume(tmp_path / "run", {"max_steps": 40}, Quiet())
    assert again.cfg.precision == "bf16"
    assert again.run()["steps"] == 40
