"""``benchmarks/peak_memory.py``: what it counts as saved for backward, and one measured step."""

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from rnnlab import Recurrent
from rnnlab.bptt import native

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "peak_memory.py"


@pytest.fixture(scope="module")
def peak():
    spec = importlib.util.spec_from_file_location("peak_memory", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _graph(w, x):
    y = (w * x).exp()  # mul saves w and x, exp its output y
    return y * y[:500].repeat(2)  # y again, and the repeated view's copy


def test_saved_bytes_count_each_storage_once_without_the_skipped(peak):
    w = torch.randn(1000, requires_grad=True)
    x = torch.randn(1000)
    with peak.SavedBytes([w, x]) as saved:
        z = _graph(w, x)
    assert saved.total == 1000 * 4 + 1000 * 4  # y and the copy; w and x skipped
    assert saved.resident() >= saved.total  # whole pages, all written
    (grad,) = torch.autograd.grad(z.sum(), w)  # the hooks left the graph as it was
    assert torch.equal(grad, torch.autograd.grad(_graph(w, x).sum(), w)[0])


@pytest.mark.slow
def test_a_measured_step_in_a_fresh_process(peak):
    row = peak.in_child("lstm:4x20x8x32", "bptt", 1)
    assert row["path"] == "bptt"
    T, B, H = 20, 4, 32
    # the explicit-BPTT LSTM saves its gates (4H) and h, c (2H) for every step, and h0, c0: not
    # tanh(c), which backward takes again from c
    saved = row["saved_mib"] * peak.MIB
    assert 4 * T * B * 6 * H <= saved <= 4 * (T * B * 6 * H + 2 * B * H)
    assert row["peak_mib"] >= 0 and row["held_mib"] >= 0


TWINS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn-tanh": nn.RNN}


def _pair(cell):
    torch.manual_seed(0)
    twin = TWINS[cell](5, 7)
    ours = Recurrent(cell, 5, 7, path="bptt")
    ours.load_state_dict(twin.state_dict())
    return twin, ours


@pytest.mark.parametrize("cell", list(TWINS))
@pytest.mark.parametrize("weighted", [False, True])  # sum: a private copy of the gradient; weighted: a caller's
def test_buffers_reused_in_backward_leave_the_callers_gradient_and_a_retained_graph_alone(cell, weighted):
    if native.loops(torch.zeros(1)) is None:
        pytest.skip("no compiled loops here")
    twin, ours = _pair(cell)
    x = torch.randn(6, 3, 5)
    g = torch.randn(6, 3, 7)
    kept = g.clone()
    runs = []
    for module in (twin, ours):
        out = module(x)[0]
        params = list(module.parameters())
        # backward writes the gate gradients over the outputs' gradient only where that is its own copy
        first = torch.autograd.grad(
            out, params, grad_outputs=g if weighted else torch.ones(()).expand_as(out), retain_graph=True
        )
        again = torch.autograd.grad(out, params, grad_outputs=g if weighted else torch.ones(()).expand_as(out))
        for a, b in zip(first, again, strict=True):  # nothing saved for backward was overwritten
            torch.testing.assert_close(b, a, atol=0, rtol=0)
        runs.append(first)
    assert torch.equal(g, kept)
    for a, b in zip(*runs, strict=True):
        torch.testing.assert_close(b, a, atol=2e-5, rtol=1e-4)
