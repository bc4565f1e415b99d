"""RNN / LSTM / GRU numerics on torch.nn and rnnlab: dropout, weight norm, gradients (retained graph,
gradcheck, double backward), packed sequences, torch.nn with copied weights, and state saved before proj_size.

Each test takes the ``nn_impl`` fixture (see conftest.py). Which upstream tests of PyTorch's
``test/test_nn.py`` these follow, and which are left out, is listed in ``rnn_helpers.py``.
"""

import copy
import io
import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tests.torch_compat.paths import FIRST_ORDER_ONLY, on_bptt
from tests.torch_compat.rnn_helpers import MODES, state_tensors, strided, with_state

# --- dropout ---------------------------------------------------------------------------------------


# upstream: test_RNN_dropout (its CPU half)
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("p", [0.0, 0.276, 0.731, 1.0])
def test_dropout_between_layers(nn_impl, p, train):
    # All weights 1, ReLU, one step from a zero state on an input of ten ones: every unit of layer 0
    # holds 10, so every unit of layer 1 holds 10 * (kept units of layer 0) / (1 - p), the dropout
    # being applied between the layers only.
    rnn = nn_impl.RNN(10, 1000, 2, bias=False, dropout=p, nonlinearity="relu", dtype=torch.double)
    rnn.train(train)
    with torch.no_grad():
        for weight in rnn.parameters():
            weight.fill_(1)
    out, h = rnn(torch.ones(1, 1, 10, dtype=torch.double), torch.zeros(2, 1, 1000, dtype=torch.double))
    assert out.min() == out.max()
    value = out[0, 0, 0].item()
    if p == 0 or not train:
        assert value == 10000
    elif p == 1:
        assert value == 0
    else:
        assert 8000 < value < 12000
        kept_times_ten = value * (1 - p)
        assert abs(kept_times_ten - 10 * round(kept_times_ten / 10)) < 1e-2
    assert h[0].min() == h[0].max() == 10
    assert h[1].min() == h[1].max() == value


# upstream: test_RNN_dropout_state (its CPU half)
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("p", [0.0, 0.1234])
def test_dropout_state_survives_save_and_load(nn_impl, p, train):
    rnn = nn_impl.RNN(100, 100, 2, bias=False, dropout=p, nonlinearity="relu")
    rnn.train(train)
    x, h0 = torch.rand(1, 1, 100), torch.rand(2, 1, 100)
    out1, h1 = rnn(x, h0)
    out2, h2 = rnn(x, h0)

    buffer = io.BytesIO()
    torch.save(rnn, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert type(loaded) is type(rnn) and loaded.dropout == p and loaded.training == train
    loaded.flatten_parameters()
    out3, h3 = loaded(x, h0)

    if p == 0 or not train:
        for a, b in [(out1, out2), (out1, out3), (h1, h2), (h1, h3)]:
            torch.testing.assert_close(a, b)
    else:
        for a, b in [(out1, out2), (out1, out3), (h1, h2), (h1, h3)]:
            assert not torch.equal(a, b)


# upstream: test_RNN_change_dropout (its CPU half)
@pytest.mark.parametrize("train", [True, False])
def test_dropout_changed_after_construction(nn_impl, train):
    rnn = nn_impl.RNN(100, 100, 2, dropout=0, nonlinearity="relu", dtype=torch.double)
    rnn.train(train)
    x = torch.rand(3, 2, 100, dtype=torch.double)
    previous = None
    for p in (0, 0.5, 0, 0.7, 0.2, 1, 0.2, 0):
        rnn.dropout = p
        out1, h1 = rnn(x)
        out2, h2 = rnn(x)
        if p in (0, 1) or not train:  # nothing random: no dropout, or everything dropped
            torch.testing.assert_close(out1, out2)
            torch.testing.assert_close(h1, h2)
        else:
            assert not torch.equal(out1, out2)
            assert not torch.equal(h1, h2)
        if previous is not None:
            if train:  # each step changes p, and every change shows in the output
                assert not torch.equal(out1, previous)
                assert not torch.equal(out2, previous)
            else:  # dropout is off in evaluation, whatever p is
                torch.testing.assert_close(out1, previous)
                torch.testing.assert_close(out2, previous)
        previous = out1.detach()


# --- weight norm -----------------------------------------------------------------------------------


# upstream: test_rnn_weight_norm
@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.nn.utils.weight_norm is deprecated
@pytest.mark.parametrize("name, proj_size, count", [("weight_ih_l0", 0, 4), ("weight_hr_l0", 4, 5)])
def test_weight_norm_on_recurrent_weights(nn_impl, name, proj_size, count):
    lstm = nn_impl.LSTM(8, 8, proj_size=proj_size)
    x = torch.randn(5, 3, 8)
    with torch.no_grad():
        before = lstm(x)[0]

    def parameter_count():
        return sum(isinstance(w, torch.nn.Parameter) for w in lstm._flat_weights)

    assert parameter_count() == count
    torch.nn.utils.weight_norm(lstm, name=name)
    assert parameter_count() == count - 1  # the normed weight is computed now, no longer a Parameter
    assert name not in lstm._parameters
    with torch.no_grad():
        torch.testing.assert_close(lstm(x)[0], before)
        getattr(lstm, name + "_g").mul_(2)  # the forward uses the recomputed weight
        assert not torch.allclose(lstm(x)[0], before)
        getattr(lstm, name + "_g").div_(2)

    torch.nn.utils.remove_weight_norm(lstm, name=name)
    assert parameter_count() == count
    assert lstm._parameters.get(name) is not None
    named = dict(lstm.named_parameters())
    assert named.get(name) is not None
    for suffix in ("_v", "_g"):
        assert name + suffix not in lstm._parameters
        assert name + suffix not in named
    with torch.no_grad():
        torch.testing.assert_close(lstm(x)[0], before)


# --- gradients -------------------------------------------------------------------------------------


# upstream: test_rnn_retain_variables
@pytest.mark.parametrize("mode", MODES)
def test_backward_repeated_on_retained_graph(nn_impl, mode):
    module = getattr(nn_impl, mode)(10, 20, num_layers=2, dtype=torch.double)
    x = torch.randn(5, 6, 10, dtype=torch.double, requires_grad=True)
    out = module(x)[0]
    out.sum().backward(retain_graph=True)
    first = [x.grad.clone()] + [p.grad.clone() for p in module.parameters()]
    assert all(g.abs().sum() > 0 for g in first)
    for _ in range(4):
        module.zero_grad()
        x.grad = None
        out.sum().backward(retain_graph=True)
        again = [x.grad] + [p.grad for p in module.parameters()]
        for a, b in zip(first, again, strict=True):
            torch.testing.assert_close(a, b)


def _flat_outputs(module):
    def run(x):
        out, state = module(x)
        return (out, *state_tensors(state))

    return run


# upstream: test_LSTM_grad_and_gradgrad, test_GRU_grad_and_gradgrad
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_and_gradgradcheck(nn_impl, mode, bias):
    module = getattr(nn_impl, mode)(4, 4, bias=bias, dtype=torch.double)
    x = torch.rand(1, 3, 4, dtype=torch.double, requires_grad=True)
    run = _flat_outputs(module)
    assert torch.autograd.gradcheck(run, (x,), check_batched_grad=False)
    if on_bptt(module):
        with pytest.raises(RuntimeError, match=FIRST_ORDER_ONLY):
            torch.autograd.gradgradcheck(run, (x,), check_batched_grad=False)
        return
    assert torch.autograd.gradgradcheck(run, (x,), check_batched_grad=False)


# upstream: test_LSTM_differentiable_backward_using_oneDNN
def test_double_backward_with_and_without_onednn(nn_impl):
    lstm = nn_impl.LSTM(3, 3, 20, batch_first=True)
    twin = copy.deepcopy(lstm)
    x = torch.rand(10, 12, 3)
    if on_bptt(lstm):
        xi = x.clone().requires_grad_(True)
        out, _ = lstm(xi)
        with pytest.raises(RuntimeError, match=FIRST_ORDER_ONLY):
            torch.autograd.grad(out, xi, torch.ones_like(out), create_graph=True)
        return
    results = []
    for module, onednn in ((lstm, False), (twin, True)):
        xi = x.clone().requires_grad_(True)
        with torch.backends.mkldnn.flags(enabled=onednn):
            out, _ = module(xi)
            (d_out_d_x,) = torch.autograd.grad(out, xi, torch.ones_like(out), create_graph=True)
            d_out_d_x.sum().backward()
        assert xi.grad is not None
        results.append((d_out_d_x.detach(), xi.grad, [p.grad for p in module.parameters()]))
    (d1, g1, p1), (d2, g2, p2) = results
    torch.testing.assert_close(d1, d2, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-5)
    for a, b in zip(p1, p2, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


# --- packed sequences ------------------------------------------------------------------------------

PACKED_CASES = [  # (enforce_sorted, lengths)
    (True, [5]),
    (False, [5]),
    (True, [10, 10, 6, 2, 2, 1, 1]),
    (False, [10, 10, 6, 2, 2, 1, 1]),
    (False, [2, 1, 3, 2, 10, 5, 3]),
]


# upstream: test_variable_sequence
@pytest.mark.parametrize("proj_size", [0, 2])
@pytest.mark.parametrize("default_state", [True, False])
@pytest.mark.parametrize("enforce_sorted, lengths", PACKED_CASES)
def test_packed_batch_matches_one_sequence_at_a_time(nn_impl, enforce_sorted, lengths, default_state, proj_size):
    hidden, layers, rows = 4, 2, 4  # bidirectional: 2 layers x 2 directions
    lstm = nn_impl.LSTM(3, hidden, num_layers=layers, bidirectional=True, proj_size=proj_size)
    alone = copy.deepcopy(lstm)
    longest, batch = max(lengths), len(lengths)
    x = torch.randn(longest, batch, 3, requires_grad=True)
    state = None
    if not default_state:
        state = (torch.randn(rows, batch, proj_size or hidden), torch.randn(rows, batch, hidden))

    # each sequence on its own, outputs zero-padded to the longest
    outs, finals = [], []
    for i, n in enumerate(lengths):
        own_state = None if state is None else tuple(s[:, i : i + 1].contiguous() for s in state)
        out, final = alone(x[:n, i : i + 1], own_state)
        outs.append(torch.cat([out, out.new_zeros(longest - n, 1, out.shape[-1])]))
        finals.append(final)
    one_by_one = torch.cat(outs, 1)
    one_by_one_final = tuple(torch.cat(parts, 1) for parts in zip(*finals, strict=True))

    packed = pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
    packed_out, packed_final = lstm(packed, state)
    padded, padded_lengths = pad_packed_sequence(packed_out)

    assert padded.shape == one_by_one.shape == (longest, batch, 2 * (proj_size or hidden))
    assert padded_lengths.tolist() == lengths
    torch.testing.assert_close(padded, one_by_one, rtol=1e-5, atol=1e-5)
    for a, b in zip(packed_final, one_by_one_final, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)

    one_by_one.sum().backward()
    grad_alone = x.grad.clone()
    x.grad = None
    padded.sum().backward()
    torch.testing.assert_close(x.grad, grad_alone, rtol=1e-5, atol=2e-4)
    for p1, p2 in zip(lstm.parameters(), alone.parameters(), strict=True):
        torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-5, atol=2e-4)


# --- against torch.nn with copied weights ----------------------------------------------------------

REFERENCE_KINDS = {
    "rnn-tanh": ("RNN", {}),
    "rnn-relu": ("RNN", {"nonlinearity": "relu"}),
    "gru": ("GRU", {}),
    "lstm": ("LSTM", {}),
    "lstm-proj": ("LSTM", {"proj_size": 3}),
}


def _forward_backward(module, mode, x, h0, c0, grads, lengths, batch_first, contiguous):
    """Runs ``module`` once, back-propagates ``grads``; returns outputs, input grads, weight grads."""
    leaves = [t.clone().requires_grad_(True) for t in (x, h0, c0)]
    xi, hi, ci = leaves if contiguous else [strided(t) for t in leaves]
    assert contiguous == xi.is_contiguous()
    inp = xi if lengths is None else pack_padded_sequence(xi, lengths, batch_first=batch_first)
    out, state = module(inp, with_state(mode, hi, ci))
    out_data = out if lengths is None else out.data
    produced = [out_data, *state_tensors(state)]
    torch.autograd.backward(produced, grads[: len(produced)])
    used_leaves = leaves if mode == "LSTM" else leaves[:2]
    weight_grads = {name: p.grad for name, p in module.named_parameters()}
    return [t.detach() for t in produced], [t.grad for t in used_leaves], weight_grads


# upstream: test_RNN_cpu_vs_cudnn_no_dropout, test_RNN_cpu_vs_cudnn_with_dropout (adapted, see the top)
# dropout 1 (everything between the layers dropped, so still deterministic) doubles the cost: slow tier;
# test_dropout_between_layers checks p=1 in the fast tier
@pytest.mark.parametrize("dropout", [0.0, pytest.param(1.0, marks=pytest.mark.slow)])
@pytest.mark.parametrize("kind", REFERENCE_KINDS)
def test_same_as_reference_with_copied_weights(nn_impl, kind, dropout):
    mode, extra = REFERENCE_KINDS[kind]
    inputs, hidden, layers, steps, batch = 10, 6, 2, 7, 6
    out_size = extra.get("proj_size", hidden)
    # every packing with every direction / layout / bias setting; the memory layout (contiguous or not)
    # is the parity of the three flags, so each packing meets both layouts alongside each flag value
    grid = itertools.product((True, False), (True, False), (True, False), ("padded", "lengths list", "lengths tensor"))
    for bias, bidirectional, batch_first, packing in grid:
        contiguous = bias ^ bidirectional ^ batch_first
        packed, lengths_as_tensor = packing != "padded", packing == "lengths tensor"
        rows = layers * (2 if bidirectional else 1)
        kwargs = dict(bias=bias, dropout=dropout, bidirectional=bidirectional, batch_first=batch_first, **extra)
        subject = getattr(nn_impl, mode)(inputs, hidden, layers, dtype=torch.double, **kwargs)
        reference = getattr(torch.nn, mode)(inputs, hidden, layers, dtype=torch.double, **kwargs)
        reference.load_state_dict(subject.state_dict())

        def draw(*shape):
            return torch.randn(*shape, dtype=torch.double)

        x = draw(batch, steps, inputs) if batch_first else draw(steps, batch, inputs)
        h0, c0 = draw(rows, batch, out_size), draw(rows, batch, hidden)
        lengths = None
        width = out_size * (2 if bidirectional else 1)
        grad_out = draw(batch, steps, width) if batch_first else draw(steps, batch, width)
        if packed:
            lengths = [7, 5, 5, 2, 1, 1]
            grad_out = pack_padded_sequence(grad_out, lengths, batch_first=batch_first).data
            if lengths_as_tensor:
                lengths = torch.tensor(lengths)
        grads = [grad_out, draw(rows, batch, out_size), draw(rows, batch, hidden)]

        case = dict(bias=bias, bidirectional=bidirectional, batch_first=batch_first, contiguous=contiguous)
        case["packing"] = packing
        run = (mode, x, h0, c0, grads, lengths, batch_first, contiguous)
        got = _forward_backward(subject, *run)
        want = _forward_backward(reference, *run)
        for a, b in zip(got[0] + got[1], want[0] + want[1], strict=True):
            torch.testing.assert_close(a, b, msg=lambda m, case=case: f"{case}: {m}")
        assert got[2].keys() == want[2].keys()
        for name in want[2]:
            torch.testing.assert_close(got[2][name], want[2][name], msg=lambda m, n=name, c=case: f"{c} {n}: {m}")


# --- saved state -----------------------------------------------------------------------------------


# upstream: test_save_lstm_compatibility
def test_lstm_state_saved_before_proj_size(nn_impl):
    # An LSTM pickled by PyTorch 1.7 or older has no proj_size attribute; restoring it must still work.
    lstm = nn_impl.LSTM(2, 3)
    x = torch.randn(32, 5, 2)
    expected_out, (expected_h, expected_c) = lstm(x)
    old_state = dict(lstm.__dict__)
    assert old_state.pop("proj_size") == 0

    restored = nn_impl.LSTM(2, 3)
    restored.__setstate__(old_state)
    assert restored.proj_size == 0
    out, (h, c) = restored(x)
    torch.testing.assert_close(out, expected_out)
    torch.testing.assert_close(h, expected_h)
    torch.testing.assert_close(c, expected_c)
