"""Both directions of a bidirectional layer at once on the forward-only path.

They must give what the directions one after another give, and what ``torch.nn`` gives, to
float32 rounding; and they must be the path that ran where the batch is small enough.
"""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.bptt import infer, native
from tests.test_inference_paths import _pair, _twin_run

TOL = {"atol": 2e-5, "rtol": 1e-4}
CELLS = ["lstm", "gru", "rnn-tanh"]


@pytest.fixture(autouse=True)
def two_threads(compiled_loops):
    """The compiled loops, on two intra-op threads (the quick tier runs on one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _run(ours, x, hx, lengths, max_batch, monkeypatch):
    """The layer forward-only with both directions at once up to ``max_batch``, and how many
    layers ran that way."""
    monkeypatch.setattr(infer, "BOTH_DIRECTIONS_MAX_BATCH", max_batch)
    calls = []
    real = infer.run_directions
    monkeypatch.setattr(infer, "run_directions", lambda *a: calls.append(1) or real(*a))
    with torch.inference_mode():
        out, state = ours(x, hx, lengths=lengths)
    return [out, *state], len(calls)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("B", [1, 2, 7])
@pytest.mark.parametrize("layers, padded", [(1, False), (2, True)])
def test_both_directions_at_once_equal_one_after_another(cell, B, layers, padded, monkeypatch):
    torch.manual_seed(B)
    T, D, H = 9, 5, 8
    twin, ours = _pair(cell, D, H, layers, True, torch.float32)
    x = torch.randn(T, B, D)
    hx = tuple(torch.randn(2 * layers, B, H) for _ in range(2 if cell == "lstm" else 1))
    lengths = torch.randint(1, T + 1, (B,)) if padded else None
    together, n_together = _run(ours, x, hx, lengths, 64, monkeypatch)
    apart, n_apart = _run(ours, x, hx, lengths, 0, monkeypatch)
    assert (n_together, n_apart) == (layers, 0)
    with torch.no_grad():
        want = _twin_run(twin, x, hx, lengths)
    for a, b, c in zip(together, apart, want, strict=True):
        torch.testing.assert_close(a, b, **TOL)
        torch.testing.assert_close(a, c, **TOL)


@pytest.mark.parametrize("cell", CELLS)
def test_packed_input_takes_both_directions_at_once(cell, monkeypatch):
    torch.manual_seed(3)
    T, B, D, H = 6, 3, 4, 5
    twin, ours = _pair(cell, D, H, 2, True, torch.float32)
    x, lengths = torch.randn(T, B, D), torch.tensor([6, 2, 4])
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    monkeypatch.setattr(infer, "BOTH_DIRECTIONS_MAX_BATCH", 64)
    calls = []
    real = infer.run_directions
    monkeypatch.setattr(infer, "run_directions", lambda *a: calls.append(1) or real(*a))
    with torch.inference_mode():
        out, state = ours(packed)
        want, want_state = twin(packed)
    assert len(calls) == 2
    torch.testing.assert_close(pad_packed_sequence(out)[0], pad_packed_sequence(want)[0], **TOL)
    for a, b in zip(state if isinstance(state, tuple) else (state,), want_state if cell == "lstm" else (want_state,)):
        torch.testing.assert_close(a, b, **TOL)


def test_empty_batch_keeps_the_directions_apart(monkeypatch):
    _, ours = _pair("lstm", 4, 5, 1, True, torch.float32)
    monkeypatch.setattr(infer, "BOTH_DIRECTIONS_MAX_BATCH", 64)
    with torch.inference_mode():
        out, (h, c) = ours(torch.randn(3, 0, 4))
    assert out.shape == (3, 0, 10) and h.shape == c.shape == (2, 0, 5)


def test_one_thread_a_large_batch_or_large_weights_keep_the_directions_apart(monkeypatch):
    _, ours = _pair("gru", 4, 5, 1, True, torch.float32)
    x = torch.randn(3, 2, 4)
    monkeypatch.setattr(infer, "BOTH_DIRECTIONS_MAX_BATCH", 1)
    assert not infer.both_at_once(ours, x)
    monkeypatch.setattr(infer, "BOTH_DIRECTIONS_MAX_BATCH", 2)
    assert infer.both_at_once(ours, x)
    monkeypatch.setattr(infer, "BOTH_DIRECTIONS_MAX_WEIGHT", 3 * 5 * 5 * 4 - 1)  # W_hh of (15, 5) floats
    assert not infer.both_at_once(ours, x)
    monkeypatch.setattr(infer, "BOTH_DIRECTIONS_MAX_WEIGHT", 3 * 5 * 5 * 4)
    assert infer.both_at_once(ours, x)
    torch.set_num_threads(1)
    assert not infer.both_at_once(ours, x)


@pytest.mark.parametrize("cell", CELLS)
def test_the_benchmark_s_training_loops_call_the_compiled_loops_as_they_are(cell):
    """``benchmarks/two_cores.py --parts training`` calls the compiled loops directly: their
    signatures must be those it passes."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "two_cores.py"
    spec = importlib.util.spec_from_file_location("two_cores", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    forward, backward = bench.loop_jobs(native.loops(torch.zeros(1)), cell, 3, 5, 8)
    forward()
    d_pre = backward()[0]
    assert d_pre.shape[:2] == (5, 3) and torch.isfinite(d_pre).all()
