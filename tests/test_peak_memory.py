"""``benchmarks/peak_memory.py``: what it counts as saved for backward, and one measured step."""

import importlib.util
from pathlib import Path

import pytest
import torch

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
    # the explicit-BPTT LSTM saves its gates (4H) and h, c (2H) for every step, and h0, c0; it may
    # save tanh(c) (H) too
    saved = row["saved_mib"] * peak.MIB
    assert 4 * T * B * 6 * H <= saved <= 4 * T * B * 7 * H + 4 * 4096
    assert row["peak_mib"] >= 0 and row["held_mib"] >= 0
