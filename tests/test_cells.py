"""Contract tests run over every registered cell, and the fast paths each cell declares."""

import pytest
import torch
from torch.func import functional_call

from rnnlab import CELLS, Cell, Recurrent, make_cell, unroll
from rnnlab.bptt import run_sequence
from rnnlab.cells import NAMES as CELL_NAMES
from rnnlab.cells.base import gate_params, gate_preactivations, uniform_

NAMES = sorted(CELL_NAMES)
# the cells whose class names an explicit-BPTT sequence function, read from the cells themselves
DECLARED = [n for n in NAMES if make_cell(n, 2, 4).bptt_sequence is not None]


def _layer(name, *, path="auto", layers=1, bidirectional=False, dtype=torch.float32, input_size=5, hidden=8):
    return Recurrent(name, input_size, hidden, num_layers=layers, bidirectional=bidirectional, path=path, dtype=dtype)


# every cell on every path it has: the step loop, explicit BPTT, the fused kernel
PATHS = [(n, p) for n in NAMES for p in Recurrent(n, 2, 4).paths]
FAST = [(n, p) for n, p in PATHS if p != "steps"]
# a gated cell's gradcheck through a layer takes seconds: the fast tier keeps the Elman cell's, and
# every cell's declared fast path is gradchecked on its own function and held to the step loop
GRADCHECK = [
    pytest.param(n, p, marks=() if (n, p) == ("rnn", "steps") else pytest.mark.slow) for n, p in PATHS if p != "bptt"
]


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


@pytest.mark.parametrize("name", NAMES)
def test_a_layer_offers_the_fast_paths_its_cell_declares(name):
    """A cell's fast paths are what its class says (``fused_mode``, ``bptt_sequence``), and every
    registered cell but the graph cell (whose maths is any spec's) has one: one declaring no explicit
    BPTT runs on its fused kernel."""
    cell = make_cell(name, 2, 4)
    declared = (*(("fused",) if cell.fused_mode else ()), *(("bptt",) if cell.bptt_sequence else ()))
    assert Recurrent(name, 2, 4).paths == (*declared, "steps")
    assert declared or name.startswith("graph:"), f"{name} has only the step loop"


def _declared_run(name, input_size=3, hidden=4):
    """A float64 cell of ``name``, an input ``(T, B, D)`` and a random start state (a clock, where
    the cell has one, at 3 for the whole batch, as a chunk of a sequence starts)."""
    cell = make_cell(name, input_size, hidden).double()
    x = torch.randn(5, 2, input_size, dtype=torch.float64, requires_grad=True)
    state = tuple(
        s.normal_().requires_grad_() if s.is_floating_point() else s + 3
        for s in cell.init_state(2, dtype=torch.float64)
    )
    return cell, x, state


@pytest.mark.parametrize("name", DECLARED)
@pytest.mark.parametrize("input_size", [3, 4])  # 4: MUT's identity input (the paper's case)
def test_declared_fast_path_equals_the_step_loop(name, input_size):
    """The cell's own sequence function against :func:`rnnlab.unroll`: the outputs, every step's
    state (the sequences the contract returns) and the gradients of all of them."""
    cell, x, state = _declared_run(name, input_size)
    result = cell.bptt_sequence(x, state)
    assert result is not None, "a batch with one clock needs no fallback"
    out, seqs = result
    ref_out, _ = unroll(cell, x, state)
    steps = [unroll(cell, x[: t + 1], state)[1] for t in range(x.shape[0])]  # the state after each step
    ref_seqs = tuple(torch.stack(entry) for entry in zip(*steps))
    assert len(seqs) == len(ref_seqs) == len(state)
    inputs = [x, *[s for s in state if s.requires_grad], *cell.parameters()]

    def grads(out, seqs):
        loss = (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum()
        loss = loss + sum((s * s.detach().cos()).sum() for s in seqs if s.is_floating_point())
        return torch.autograd.grad(loss, inputs)

    for a, b in zip([out, *seqs, *grads(out, seqs)], [ref_out, *ref_seqs, *grads(ref_out, ref_seqs)]):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("name", DECLARED)
def test_declared_fast_path_gradcheck_float64(name):
    """The hand-written backward of the cell's own sequence function, against finite differences
    (the parameters are perturbed in place, so the function reads them from the cell)."""
    cell, x, state = _declared_run(name)
    floats = [s for s in state if s.is_floating_point()]

    def f(x, *rest):
        it = iter(rest)
        out, seqs = cell.bptt_sequence(x, tuple(next(it) if s.is_floating_point() else s for s in state))
        return (out, *[s for s in seqs if s.is_floating_point()])

    assert torch.autograd.gradcheck(f, (x, *floats, *cell.parameters()), eps=1e-6, atol=1e-5)


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


# explicit BPTT is gradchecked where it is declared, on the cell's own function (above): through
# a layer, run_sequence falls back to the step loop wherever the function declines the input
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


class LeakyCell(Cell):
    """``h_t = h_{t-1} + a (tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) - h_{t-1})``: a new cell as a
    user writes it, in one class. Its fast path is its own method, here the step loop counted."""

    def __init__(self, input_size, hidden_size, leak=0.5):
        super().__init__(input_size, hidden_size)
        self.leak, self.fast_runs = leak, 0
        gate_params(self, input_size, hidden_size, 1, True, {})
        self.reset_parameters()

    def reset_parameters(self):
        uniform_(self, self.hidden_size)

    def forward(self, x, state):
        gi, gh = gate_preactivations(self, x, state[0])
        h = state[0] + self.leak * (torch.tanh(gi + gh) - state[0])
        return h, (h,)

    def bptt_sequence(self, x, state):
        self.fast_runs += 1
        out, _ = unroll(self, x, state)  # the output is h: its sequence is the state's sequence
        return out, (out,)


class SquashedLeakyCell(LeakyCell):
    """New maths and no fast path of its own: its parent's must not run it."""

    def forward(self, x, state):
        h, _ = super().forward(x, state)
        return torch.tanh(h), (torch.tanh(h),)


def test_a_new_cell_brings_its_own_fast_path(monkeypatch):
    """One class and its line in CELLS: ``Recurrent`` takes its declared path on ``"auto"``, in
    both directions, with padding, and equals the step loop; a subclass that changes the maths
    without naming a path of its own runs on the step loop."""
    monkeypatch.setitem(CELLS, "leaky", LeakyCell)
    monkeypatch.setitem(CELLS, "leaky-squashed", SquashedLeakyCell)
    fast = Recurrent("leaky", 3, 4, bidirectional=True)
    assert fast.paths == ("bptt", "steps") and fast.resolved_path() == "bptt"
    steps = Recurrent("leaky", 3, 4, bidirectional=True, path="steps")
    steps.load_state_dict(fast.state_dict())
    x, lengths = torch.randn(6, 3, 3), torch.tensor([6, 2, 4])
    for a, b in zip(fast(x, lengths=lengths), steps(x, lengths=lengths)):
        torch.testing.assert_close(a, b)
    assert [c.fast_runs for c in fast.layers] == [1, 1]

    squashed = Recurrent("leaky-squashed", 3, 4)
    assert squashed.paths == ("steps",) and SquashedLeakyCell.bptt_sequence is None
    with pytest.raises(ValueError, match="path: expected one of steps for cell 'leaky-squashed'"):
        Recurrent("leaky-squashed", 3, 4, path="bptt")
    cell = squashed.layers[0]
    out, state = run_sequence(cell, x, cell.init_state(3))  # a cell with no path: the step loop
    torch.testing.assert_close(out, unroll(cell, x)[0])
    assert cell.fast_runs == 0
