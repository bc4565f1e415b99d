"""Gradient-flow diagnostics on cells whose Jacobians are known in closed form, and the diagnose CLI."""

import json
import math

import pytest
import torch

from rnnlab.bptt import GradientFlow
from rnnlab.cli import main
from rnnlab.diagnose.flow import gradient_flow, summarize_profile, trace
from rnnlab.diagnose.jacobian import eigenvalues, jacobian_spectrum, recurrent_blocks, step_jacobian
from rnnlab.layers import Recurrent

TEXT = "".join(f"Now is the winter of our discontent {i % 7}, made glorious summer.\n" for i in range(60))


def _scaled_orthogonal(name: str, hidden: int, scale: float) -> Recurrent:
    """A one-layer stack whose recurrent matrix is ``scale`` times an orthogonal matrix."""
    rnn = Recurrent(name, 3, hidden).double()
    q, _ = torch.linalg.qr(torch.randn(hidden, hidden, dtype=torch.float64))
    with torch.no_grad():
        rnn.cell_at(0).weight_hh.copy_(scale * q)
    return rnn


def test_linear_rnn_gradient_shrinks_by_exactly_the_scale_per_step():
    """h_t = W h_{t-1} + U x_t with W = a Q (Q orthogonal): ||dL_T/dh_{T-d}|| = a^d ||dL_T/dh_T||."""
    a, T = 0.5, 30
    rnn = _scaled_orthogonal("rnn-linear", 6, a)
    tr = trace(rnn, torch.randn(T, 4, 3, dtype=torch.float64))
    profiles, summaries = gradient_flow(tr, lambda out: (out[-1] ** 2).sum())
    d = torch.arange(T, dtype=torch.float64)
    torch.testing.assert_close(profiles[0] / profiles[0, 0], a**d)
    assert summaries[0]["log10_per_step"] == pytest.approx(math.log10(a))
    assert summaries[0]["distance_below_threshold"] == min(d for d in range(T) if a**d < 1e-6) == 20
    assert summaries[0]["ratio_at_max_distance"] == pytest.approx(a ** (T - 1))


def test_linear_rnn_jacobian_is_w_and_the_running_product_grows_as_its_scale():
    a, T = 1.1, 12
    rnn = _scaled_orthogonal("rnn-linear", 5, a)
    tr = trace(rnn, torch.randn(T, 2, 3, dtype=torch.float64))
    js = jacobian_spectrum(rnn.cell_at(0), tr.inputs[0], tr.states[0], tr.initial[0])
    torch.testing.assert_close(js["sigma_max"], torch.full((T,), a, dtype=torch.float64))
    torch.testing.assert_close(js["log10_product"], (torch.arange(T, dtype=torch.float64) + 1) * math.log10(a))


def test_tanh_rnn_jacobian_is_diag_of_the_derivative_times_w():
    """The seed notes' J = diag(f'(net)) W with f = tanh, f' = 1 - h_t^2."""
    cell = Recurrent("rnn-tanh", 4, 7).double().cell_at(0)
    h, x = torch.randn(1, 7, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    h_new = torch.tanh(cell.weight_ih @ x + cell.bias_ih + cell.weight_hh @ h[0] + cell.bias_hh)
    torch.testing.assert_close(step_jacobian(cell, x, (h,)), torch.diag(1 - h_new**2) @ cell.weight_hh)


@pytest.mark.parametrize("name", ["lstm", "gru", "scrn", "clockwork", "mut2"])
def test_step_jacobian_matches_autograd_jacobian_of_the_whole_state(name):
    cell = Recurrent(name, 3, 8).double().cell_at(0)
    state = tuple(
        s + torch.randn_like(s) if s.is_floating_point() else s + 2 for s in cell.init_state(1, dtype=torch.float64)
    )
    x = torch.randn(3, dtype=torch.float64)
    slots = [i for i, s in enumerate(state) if s.is_floating_point()]
    sizes = [state[i].numel() for i in slots]

    def step(flat):
        parts = list(state)
        for i, piece in zip(slots, flat.split(sizes)):
            parts[i] = piece.view_as(state[i])
        new = cell(x.unsqueeze(0), tuple(parts))[1]
        return torch.cat([new[i].reshape(-1) for i in slots])

    expected = torch.autograd.functional.jacobian(step, torch.cat([state[i].reshape(-1) for i in slots]))
    torch.testing.assert_close(step_jacobian(cell, x, state), expected)


def test_trace_profile_equals_the_norms_recorded_by_gradient_flow():
    """Two independent routes to ||dL/dh_t||: autograd over the step loop, and the fast path's recorder."""
    rnn = Recurrent("lstm", 3, 8).double()
    x = torch.randn(9, 1, 3, dtype=torch.float64)
    profiles, _ = gradient_flow(trace(rnn, x), lambda out: out[-1].sum())
    with GradientFlow() as flow:
        out, _ = rnn(x)
    out[-1].sum().backward()
    torch.testing.assert_close(profiles[0], flow.norms[0].flip(0))


def test_recurrent_blocks_are_named_by_gate_and_irnn_starts_on_the_unit_circle():
    assert list(recurrent_blocks(Recurrent("lstm", 2, 4).cell_at(0))) == [f"weight_hh[{g}]" for g in "ifgo"]
    assert list(recurrent_blocks(Recurrent("gru", 2, 4).cell_at(0))) == [f"weight_hh[{g}]" for g in "rzn"]
    eig = eigenvalues(Recurrent("irnn", 2, 5).cell_at(0))["weight_hh"]
    torch.testing.assert_close(eig, torch.ones(5, dtype=torch.complex128))
    clock = Recurrent("clockwork", 2, 8, periods=[1, 2]).cell_at(0)
    block = recurrent_blocks(clock)["weight_hh"]
    assert torch.all(block[4:, :4] == 0)  # slow modules do not read fast ones


def test_summary_handles_a_gradient_that_never_fades():
    s = summarize_profile(torch.ones(10, dtype=torch.float64))
    assert s["log10_per_step"] == pytest.approx(0.0) and s["distance_below_threshold"] is None
    assert s["zero_from_distance"] is None


def test_summary_reports_where_dead_units_cut_the_gradient():
    norms = torch.tensor([1.0, 0.5, 0.25, 0.0, 0.0], dtype=torch.float64)
    s = summarize_profile(norms)
    assert s["zero_from_distance"] == 3 and s["distance_below_threshold"] == 3
    assert s["log10_per_step"] == pytest.approx(math.log10(0.5))  # the fit leaves the zeros out


def test_diagnose_json_is_strict_even_when_a_product_underflows(tmp_path):
    """A one-unit ReLU RNN can die: its Jacobian product becomes 0 and log10 of it -inf, written as null."""
    (tmp_path / "text.txt").write_text(TEXT)
    out = tmp_path / "diag"
    argv = ["diagnose", "--cells", "rnn-relu", "--hidden", "1", "-T", "30", "--batch", "2", "--seed", "0"]
    assert main(argv + ["--data", str(tmp_path / "text.txt"), "--out", str(out)]) == 0
    text = (out / "diagnose.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    json.loads(text)  # strict parse


def test_diagnose_cli_on_fresh_cells_writes_figures_and_the_tanh_rnn_forgets_faster(tmp_path, capsys):
    (tmp_path / "text.txt").write_text(TEXT)
    out = tmp_path / "diag"
    argv = ["diagnose", "--cells", "rnn-tanh,lstm", "--data", str(tmp_path / "text.txt"), "-T", "40"]
    assert main(argv + ["--batch", "3", "--hidden", "16", "--out", str(out)]) == 0
    for name in ("gradient-flow.png", "jacobians.png", "spectra.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    report = json.loads((out / "diagnose.json").read_text())
    tanh, lstm = (s["layers"][0] for s in report["subjects"])
    assert tanh["gradient_flow"]["log10_per_step"] < lstm["gradient_flow"]["log10_per_step"] < 0
    assert lstm["jacobian"]["state_size"] == 32 and tanh["jacobian"]["state_size"] == 16
    assert "rnn-tanh (initial)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["diagnose"], "give trained run directories"),
        (["diagnose", "--cells", "lstm,nope"], "unknown nope"),
        (["diagnose", "--cells", "lstm", "-T", "1"], "at least 2 steps"),
        (["diagnose", "/no/such/run"], "/no/such/run is not a directory"),
        (["diagnose", "--cells", "lstm", "--hidden", "0"], "--hidden"),
    ],
)
def test_diagnose_cli_refuses_bad_input_in_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err


def test_a_language_subject_reads_windows_of_the_text_through_a_float64_copy_of_the_model():
    """The library takes a model in memory and leaves it as it was; the loss at the end is the
    model's own cross-entropy for the character after each window."""
    from rnnlab.data.vocab import CharVocab
    from rnnlab.diagnose.subjects import language_subject
    from rnnlab.models.language_model import LanguageModel, ModelConfig

    gen = torch.Generator().manual_seed(1)
    text = "".join("abcdefghij"[k] for k in torch.randint(0, 10, (400,), generator=gen).tolist())
    vocab = CharVocab.from_text(text)
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), cell="gru", hidden_size=6)).train()
    ids = vocab.encode(text)
    subject = language_subject("gru", model, ids, steps=12, batch=3, seed=5, source="here")
    assert model.training and all(p.dtype == torch.float32 for p in model.parameters())
    assert subject.x.dtype == torch.float64 and subject.x.shape[:2] == (12, 3)
    model64 = model.double().eval()  # the weights the subject copied, in float64 as its copy
    table = model64.embed(torch.arange(len(vocab)))  # (V, E)
    window = torch.cdist(subject.x.reshape(-1, table.shape[1]), table).argmin(1).view(12, 3)  # (T, B) ids read
    after = []
    for b in range(3):
        starts = [s for s in range(len(ids) - 12) if torch.equal(ids[s : s + 12], window[:, b])]
        assert len(starts) == 1, "each window is one stretch of the text"
        after.append(ids[starts[0] + 12])
    with torch.no_grad():
        logits = model64(window)[0][-1]  # (B, V)
        out, _ = subject.rnn(subject.x)
    expected = torch.nn.functional.cross_entropy(logits, torch.stack(after), reduction="sum")
    torch.testing.assert_close(subject.loss_at_end(out), expected)


def test_diagnose_cli_reads_a_trained_character_run_and_a_task_run(tmp_path, capsys):
    (tmp_path / "text.txt").write_text(TEXT)
    chars, task = tmp_path / "chars", tmp_path / "adding"
    train = ["train", "--data", str(tmp_path / "text.txt"), "--out", str(chars), "--max-steps", "2"]
    assert main(train + "--time-budget 0 --hidden-size 8 --seq-len 16 --batch-size 2 --sample-chars 0".split()) == 0
    tiny = "--hidden 8 --max-steps 2 --eval-every 2 --batch-size 4 --threads 1".split()
    assert main(["task", "adding", "--cell", "gru", "-T", "8", "--out", str(task), *tiny]) == 0
    out = tmp_path / "diag"
    argv = ["diagnose", str(chars), str(task), "-T", "10", "--batch", "2", "--no-jacobians", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads((out / "diagnose.json").read_text())["subjects"]
    assert [(s["label"], s["T"], s["batch"]) for s in report] == [
        ("chars (lstm, trained)", 10, 2),
        ("adding (gru, trained)", 8, 2),
    ]
    assert report[0]["source"] == f"run {chars}, validation text of {tmp_path / 'text.txt'}"
    assert report[1]["source"] == f"run {task}"
    assert "chars (lstm, trained)" in capsys.readouterr().out
