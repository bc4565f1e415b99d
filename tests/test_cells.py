"""Contract tests run over every registered cell."""

import pytest
import torch
from torch.func import functional_call

from rnnlab import CELLS, Recurrent, make_cell

NAMES = sorted(CELLS)


def _layer(name, *, path="auto", layers=1, bidirectional=False, dtype=torch.float32, input_size=5, hidden=8):
    return Recurrent(name, input_size, hidden, num_layers=layers, bidirectional=bidirectional, path=path, dtype=dtype)


# every cell on every path it has: the step loop, explicit BPTT, the fused kernel
PATHS = [(n, p) for n in NAMES for p in Recurrent(n, 2, 4).paths]
FAST = [(n, p) for n, p in PATHS if p != "steps"]
# a gated cell's gradcheck takes seconds: the fast tier gradchecks the hand-written backward (explicit BPTT) of
# the Elman cell, and holds every cell's fast paths to its reference path in float64 (fast_path_equals_reference)
GRADCHECK = [pytest.param(n, p, marks=() if (n, p) == ("rnn", "bptt") else pytest.mark.slow) for n, p in PATHS]


@pytest.mark.parametrize("name", NAMES)
def test_step_shapes_and_state_contract(name):
    cell = make_cell(name, 5, 8)
    state = cell.init_state(3)
    assert len(state) == len(cell.state_spec) >= 1
    assert state[0].shape == (3, 8)  # state[0] is always h
    y, new_state = cell(torch.randn(3, 5), state)
    assert y.shape == (3, cell.output_size)
    assert [s.shape for s in new_state] == [s.shape for s in state]
    assert torch.equal(new_state[0], y) or cell.output_size != cell.hidden_size


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_follow_the_input(name, dtype):
    layer = _layer(name, dtype=dtype)
    x = torch.randn(4, 2, 5, dtype=dtype)
    out, state = layer(x)
    assert out.dtype == dtype and out.device == x.device
    assert all(s.device == x.device for s in state)
    assert state[0].dtype == dtype


def test_every_new_cell_has_an_explicit_bptt_path():
    without = [n for n in NAMES if "bptt" not in Recurrent(n, 2, 4).paths and n != "gru"]
    assert without == []


@pytest.mark.parametrize("name, path", PATHS)
def test_chunks_with_carried_state_equal_one_pass(name, path):
    layer = _layer(name, path=path, layers=2)
    x = torch.randn(20, 3, 5)
    full, full_state = layer(x)
    first, state = layer(x[:8])
    second, state = layer(x[8:], state)
    torch.testing.assert_close(torch.cat([first, second]), full)
    for a, b in zip(state, full_state):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name, path", GRADCHECK)
def test_gradcheck_float64(name, path):
    layer = _layer(name, path=path, layers=2, bidirectional=True, dtype=torch.float64, input_size=3, hidden=4)
    names = [n for n, _ in layer.named_parameters()]
    params = [p.detach().clone().requires_grad_() for _, p in layer.named_parameters()]
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = tuple(  # integer state entries (a clock) start at random phases
        s.normal_().requires_grad_() if s.is_floating_point() else torch.randint(0, 8, s.shape)
        for s in layer.init_state(2, dtype=torch.float64)
    )

    def f(x, *rest):
        state, ps = rest[: len(h0)], rest[len(h0) :]
        out, final = functional_call(layer, dict(zip(names, ps)), (x, state))
        return (out, *[s for s in final if s.is_floating_point()])

    assert torch.autograd.gradcheck(f, (x, *h0, *params), eps=1e-6, atol=1e-5)


def _outputs_and_grads(layer, x, lengths):
    x = x.detach().to(next(layer.parameters()).dtype).requires_grad_()
    out, state = layer(x, lengths=lengths)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    loss = (out * weights).sum() + sum(s.sum() for s in state if s.is_floating_point())
    grads = torch.autograd.grad(loss, [x, *layer.parameters()])
    return [out, *state, *grads]


@pytest.mark.parametrize("name, path", FAST)
@pytest.mark.parametrize("padded", [False, True])
def test_fast_path_equals_reference_path(name, path, padded):
    """Outputs, final state and all gradients: equal in float64; in float32 as close to the
    float64 result as the reference step loop itself is (its rounding differs, not its maths)."""
    x = torch.randn(9, 3, 5)
    lengths = torch.tensor([9, 4, 6]) if padded else None
    fast = _layer(name, path=path, layers=2, bidirectional=True)
    steps = _layer(name, path="steps", layers=2, bidirectional=True)
    steps.load_state_dict(fast.state_dict())
    fast64 = _layer(name, path=path, layers=2, bidirectional=True, dtype=torch.float64)
    truth = _layer(name, path="steps", layers=2, bidirectional=True, dtype=torch.float64)
    fast64.load_state_dict(fast.state_dict())
    truth.load_state_dict(fast.state_dict())
    exact = _outputs_and_grads(truth, x, lengths)
    for a, b in zip(_outputs_and_grads(fast64, x, lengths), exact):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-9)
    for a, b, t in zip(_outputs_and_grads(fast, x, lengths), _outputs_and_grads(steps, x, lengths), exact):
        assert a.dtype == b.dtype and a.shape == b.shape
        fast_error = (a.double() - t.double()).abs().max().item() if a.numel() else 0.0
        step_error = (b.double() - t.double()).abs().max().item() if b.numel() else 0.0
        assert fast_error <= 4 * step_error + 1e-5


@pytest.mark.parametrize("name", NAMES)
def test_no_blow_up_at_init_over_500_steps(name):
    layer = _layer(name, path="steps", hidden=32, input_size=8)
    with torch.no_grad():
        out, state = layer(torch.randn(500, 4, 8))
    assert torch.isfinite(out).all()
    assert out.abs().max() < 50, f"{name}: |h| reached {out.abs().max():.1f}"
    assert out[-1].abs().max() > 0  # and it did not die either


def test_lstm_forget_bias_and_1997_variant():
    cell = make_cell("lstm", 3, 4)
    assert torch.all(cell.bias_ih[4:8] + cell.bias_hh[4:8] == 1.0)
    assert torch.all(make_cell("lstm", 3, 4, forget_bias=2.5).bias_ih[4:8] == 2.5)
    old = make_cell("lstm-1997", 3, 4)
    assert old.weight_ih.shape == (12, 3) and old.fused_mode is None
    # no forget gate: with zero input gate the cell carries c unchanged
    with torch.no_grad():
        old.bias_ih[:4] = -1e4
    h, (h2, c) = old(torch.randn(2, 3), (torch.zeros(2, 4), torch.full((2, 4), 0.5)))
    torch.testing.assert_close(c, torch.full((2, 4), 0.5))


def test_irnn_initialisation():
    cell = make_cell("irnn", 10, 6, scale=0.9)
    torch.testing.assert_close(cell.weight_hh, 0.9 * torch.eye(6))
    assert cell.weight_ih.std() < 0.01 and torch.all(cell.bias_ih == 0)
    assert cell.fused_mode == "RNN_RELU"


@pytest.mark.parametrize(
    "activation, fn",
    [("tanh", torch.tanh), ("relu", torch.relu), ("sigmoid", torch.sigmoid), ("linear", lambda z: z)],
)
def test_elman_equation(activation, fn):
    cell = make_cell("rnn", 3, 4, activation=activation)
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    want = fn(x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh)
    torch.testing.assert_close(cell(x, (h,))[0], want)
