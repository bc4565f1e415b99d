"""Explicit BPTT: path selection, clock handling, gradient recording, the packed GEMM."""

import shutil

import pytest
import torch

from rnnlab import Recurrent, make_cell
from rnnlab.bptt import GradientFlow, has_bptt, native, run_sequence
from rnnlab.bptt.common import PACKED_GEMM, Matmul
from rnnlab.cells import NAMES
from rnnlab.engine import unroll


def test_path_choice_and_refusals():
    assert Recurrent("lstm", 3, 4).paths == ("fused", "bptt", "steps")
    assert Recurrent("gru", 3, 4).paths == ("fused", "bptt", "steps")
    assert Recurrent("mut1", 3, 4).paths == ("bptt", "steps")
    assert Recurrent("graph:lstm", 3, 4).paths == ("steps",)
    assert Recurrent("scrn", 3, 4).resolved_path() == "bptt"
    assert Recurrent("lstm", 3, 4).resolved_path() == "fused"
    with pytest.raises(ValueError, match=r"path: expected one of steps for cell 'graph:lstm', got 'bptt'"):
        Recurrent("graph:lstm", 3, 4, path="bptt")
    with pytest.raises(ValueError, match="path: expected one of bptt, steps"):
        Recurrent("clockwork", 3, 4, path="fused")
    with pytest.raises(ValueError, match="path: expected one of 'auto'"):
        Recurrent("lstm", 3, 4, path="fast")


def _clocked_run(fn, cell, x, clock):
    h0 = torch.randn(x.shape[1], cell.hidden_size, dtype=x.dtype, requires_grad=True)
    out, (h, c) = fn(cell, x, (h0, clock))
    grads = torch.autograd.grad((out * out.detach().sin()).sum() + h.sum(), [x, h0, *cell.parameters()])
    return out, h, c, grads


@pytest.mark.parametrize("periods", [(1, 2, 4, 8), (2, 3, 5, 7)])
@pytest.mark.parametrize("start", [0, 3, 13])
def test_clockwork_continues_any_clock(periods, start):
    torch.manual_seed(start)
    cell = make_cell("clockwork", 3, 8, periods=periods).double()
    x = torch.randn(11, 2, 3, dtype=torch.float64, requires_grad=True)
    clock = torch.full((2,), start)
    torch.manual_seed(start)  # the same h0 for both runs
    fast = _clocked_run(run_sequence, cell, x, clock)
    torch.manual_seed(start)
    ref = _clocked_run(unroll, cell, x, clock)
    assert torch.equal(fast[2], ref[2]) and torch.equal(fast[2], clock + 11)
    for a, b in zip([fast[0], fast[1], *fast[3]], [ref[0], ref[1], *ref[3]]):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


def test_clockwork_with_clocks_that_differ_across_the_batch_takes_the_step_loop():
    cell = make_cell("clockwork", 3, 8).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    clock = torch.tensor([0, 5])
    torch.manual_seed(1)
    fast = _clocked_run(run_sequence, cell, x, clock)
    torch.manual_seed(1)
    ref = _clocked_run(unroll, cell, x, clock)
    for a, b in zip([fast[0], fast[1], fast[2], *fast[3]], [ref[0], ref[1], ref[2], *ref[3]]):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", ["rnn-tanh", "lstm", "lstm-1997", "scrn", "mut3", "clockwork", "lstm-ln", "gru"])
def test_gradient_flow_records_the_norm_of_dl_dh_at_every_step(name):
    """The recorded norms equal ||dL/dh_t|| taken from autograd over the step loop."""
    torch.manual_seed(0)
    cell = make_cell(name, 4, 8).double()
    x = torch.randn(7, 3, 4, dtype=torch.float64)
    weights = torch.randn(7, 3, cell.output_size, dtype=torch.float64)
    state, hs, outs = cell.init_state(3, dtype=torch.float64), [], []
    for t in range(7):
        y, state = cell(x[t], state)
        state[0].retain_grad()
        hs.append(state[0])
        outs.append(y)
    (torch.stack(outs) * weights).sum().backward()
    expected = torch.stack([torch.linalg.vector_norm(h.grad) for h in hs])

    layer = Recurrent(name, 4, 8, dtype=torch.float64)
    layer.layers[0].load_state_dict(cell.state_dict())
    with GradientFlow() as flow:
        out, _ = layer(x)
    assert flow.norms == []  # filled in by backward
    (out * weights).sum().backward()
    assert len(flow.norms) == 1 and flow.norms[0].shape == (7,)
    torch.testing.assert_close(flow.norms[0], expected)


def test_gradient_flow_takes_the_bptt_path_for_standard_cells_and_records_every_layer():
    layer = Recurrent("lstm", 3, 5, num_layers=2, bidirectional=True)
    x = torch.randn(6, 2, 3)
    with GradientFlow() as flow:
        assert layer.resolved_path() == "bptt"
        out, _ = layer(x)
    assert layer.resolved_path() == "fused"
    out.sum().backward()
    assert len(flow.norms) == 4 and all(n.shape == (6,) and torch.all(n > 0) for n in flow.norms)


def test_gradient_flow_runs_cells_without_a_bptt_path_on_the_step_loop():
    """A graph cell has no explicit-BPTT path: inside the block it runs on the step loop, whose
    hooks record the norms."""
    layer = Recurrent("graph:lstm", 3, 5, num_layers=2)
    with GradientFlow() as flow:
        assert layer.resolved_path() == "steps"
        out, _ = layer(torch.randn(6, 2, 3))
    out[-1].sum().backward()  # the loss sits at the last step only: the gradient reaches back through time
    assert len(flow.norms) == 2 and all(n.shape == (6,) and torch.all(n > 0) for n in flow.norms)


@pytest.mark.skipif(not PACKED_GEMM, reason="this PyTorch build has no MKL packed GEMM")
def test_packed_gemm_equals_plain_matmul():
    w, a, u = torch.randn(12, 5), torch.randn(3, 5), torch.randn(3, 12)
    mm = Matmul(w, 3)
    assert mm.packed is not None
    torch.testing.assert_close(mm(a), a @ w.t())
    torch.testing.assert_close(mm.plus(u, a, out=torch.empty(3, 12)), u + a @ w.t())
    assert Matmul(w.double(), 3).packed is None  # float64 takes addmm


def test_compiled_loops_build_here():
    """The machines this project targets have a C++ compiler and AVX2: the build must work."""
    if not native.enabled:
        pytest.skip("RNNLAB_NATIVE=0 asks for the PyTorch loops")
    if shutil.which("c++") is None or torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"):
        pytest.skip("no C++ compiler or no AVX2 on this machine")
    assert native.loops(torch.zeros(1)) is not None
    assert native.loops(torch.zeros(1, dtype=torch.float64)) is None  # float64 takes the PyTorch loops


@pytest.mark.parametrize(
    "name",
    [
        "rnn-tanh",
        "rnn-sigmoid",
        "irnn",
        "scrn",
        "clockwork",
        "lstm",
        "lstm-1997",
        "gru",
        "lstm-cifg",
        "lstm-peephole",
        "lstm-ln",
        "mut1",
        "mut2",
        "mut3",
    ],
)
@pytest.mark.parametrize("use_final_state", [False, True])
def test_compiled_loops_equal_the_pytorch_loops(name, use_final_state, monkeypatch):
    torch.manual_seed(0)
    cell = make_cell(name, 5, 16, **({"periods": (1, 3, 5, 7)} if use_final_state and name == "clockwork" else {}))
    x = torch.randn(12, 4, 5, requires_grad=True)
    state = tuple(
        torch.randn(s.shape, requires_grad=True) if s.is_floating_point() else s + 2  # a clock starts at 2
        for s in cell.init_state(4)
    )

    def run():
        out, final = run_sequence(cell, x, state)
        loss = (out * out.detach().cos()).sum()
        if use_final_state:  # the last c (LSTM) reaches backward as its own gradient
            loss = loss + sum((s * 0.5).sum() for s in final if s.is_floating_point())
        with GradientFlow() as flow:
            out2, _ = run_sequence(cell, x, state)
        out2.sum().backward()
        inputs = [x, *[s for s in state if s.requires_grad], *cell.parameters()]
        return [out, *final, *torch.autograd.grad(loss, inputs), *flow.norms]

    compiled = run()
    monkeypatch.setattr(native, "enabled", False)
    reference = run()
    assert len(compiled) == len(reference)
    for a, b in zip(compiled, reference):
        torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["rnn-sigmoid", "rnn-relu", "irnn", "scrn", "lstm-1997", "mut1", "clockwork"])
def test_nan_and_inf_propagate_as_on_the_step_loop(name):
    torch.manual_seed(0)
    steps = Recurrent(name, 2, 4, path="steps")
    fast = Recurrent(name, 2, 4, path="bptt")
    fast.load_state_dict(steps.state_dict())
    for bad in (float("nan"), float("inf")):
        x = torch.randn(3, 1, 2)
        x[1, 0, 0] = bad
        a, b = steps(x)[0], fast(x)[0]
        assert torch.equal(a.isnan(), b.isnan()), (a, b)
        torch.testing.assert_close(a, b, equal_nan=True)


def test_nested_gradient_flow_blocks_restore_the_outer_one():
    layer = Recurrent("lstm", 3, 5)
    x = torch.randn(4, 2, 3)
    with GradientFlow() as outer:
        with GradientFlow() as inner:
            layer(x)[0].sum().backward()
        assert GradientFlow.current() is outer
        out, _ = layer(x)
    assert GradientFlow.current() is None
    out.sum().backward()
    assert len(inner.norms) == 1 and len(outer.norms) == 1


@pytest.mark.parametrize("name", ["lstm", "rnn-sigmoid", "clockwork", "scrn", "mut2", "lstm-ln"])
def test_empty_batch_and_autocast_work_as_on_the_step_loop(name):
    layer = Recurrent(name, 3, 8, path="bptt")
    out, state = layer(torch.randn(4, 0, 3))
    assert out.shape == (4, 0, layer.output_size) and state[0].shape == (1, 0, 8)
    steps = Recurrent(name, 3, 8, path="steps")
    steps.load_state_dict(layer.state_dict())
    x = torch.randn(5, 2, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the step loop runs under autocast
        out, _ = layer(x)
        reference, _ = steps(x)
    assert out.shape == (5, 2, layer.output_size) and torch.equal(out, reference)


@pytest.mark.parametrize("name", [n for n in NAMES if has_bptt(make_cell(n, 3, 4))])
def test_higher_derivatives_refused_never_dropped(name):
    """The hand-written backwards are first order: create_graph=True gets a clear error."""
    layer = Recurrent(name, 3, 4, path="bptt", dtype=torch.float64)
    x = torch.rand(5, 2, 3, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="first derivatives only"):
        torch.autograd.grad(layer(x)[0].pow(2).sum(), x, create_graph=True)
    (grad,) = torch.autograd.grad(layer(x)[0].pow(2).sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
