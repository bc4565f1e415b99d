"""rnnlab.LSTM / GRU / RNN against torch.nn with copied weights: outputs and all gradients."""

import itertools

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnlab

KINDS = {
    "lstm": (rnnlab.LSTM, nn.LSTM, {}),
    "gru": (rnnlab.GRU, nn.GRU, {}),
    "rnn-tanh": (rnnlab.RNN, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn-relu": (rnnlab.RNN, nn.RNN, {"nonlinearity": "relu"}),
}
PATHS: dict[str, list[str]] = {}  # every kind runs on fused, bptt and steps
CASES = [  # three-layer stacks, the costliest third of the cases, add little to two-layer ones: slow
    pytest.param(*case, path, marks=pytest.mark.slow if case[1] == 3 else ())
    for case in itertools.product(KINDS, [1, 2, 3], [False, True], [False, True], [False, True], [False, True])
    for path in PATHS.get(case[0], ["fused", "bptt", "steps"])
]


def _states(kind, rows, batch, hidden):
    h = torch.randn(rows, batch, hidden, requires_grad=True)
    if kind == "lstm":
        return (h, torch.randn(rows, batch, hidden, requires_grad=True))
    return h


def _flat(out, state):
    data = out.data if isinstance(out, torch.nn.utils.rnn.PackedSequence) else out
    return [data, *(state if isinstance(state, tuple) else (state,))]


@pytest.mark.parametrize("kind, layers, bidirectional, batch_first, packed, with_state, path", CASES)
def test_matches_torch_nn(kind, layers, bidirectional, batch_first, packed, with_state, path):
    ours_cls, twin_cls, kw = KINDS[kind]
    T, B, D, H = 6, 3, 4, 5
    twin = twin_cls(D, H, layers, batch_first=batch_first, bidirectional=bidirectional, **kw)
    ours = ours_cls(D, H, layers, batch_first=batch_first, bidirectional=bidirectional, path=path, **kw)
    ours.load_state_dict(twin.state_dict())
    x = torch.randn(B, T, D) if batch_first else torch.randn(T, B, D)
    x.requires_grad_()
    lengths = torch.tensor([6, 2, 4])
    hx = _states(kind, layers * (2 if bidirectional else 1), B, H) if with_state else None
    results = []
    for module in (twin, ours):
        inp = pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False) if packed else x
        out, state = module(inp, hx)
        tensors = _flat(out, state)
        loss = sum((t * torch.cos(torch.arange(t.numel()).view_as(t).float())).sum() for t in tensors)
        inputs = [x, *module.parameters()] + ([*hx] if isinstance(hx, tuple) else [hx] if hx is not None else [])
        results.append((tensors, torch.autograd.grad(loss, inputs)))
    (t1, g1), (t2, g2) = results
    assert len(t1) == len(t2) and len(g1) == len(g2)
    for a, b in zip(t1 + list(g1), t2 + list(g2)):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    if packed:
        torch.testing.assert_close(pad_packed_sequence(ours(inp, hx)[0])[0], pad_packed_sequence(out)[0])


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input(kind):
    ours_cls, twin_cls, kw = KINDS[kind]
    twin = twin_cls(4, 5, 2, **kw)
    ours = ours_cls(4, 5, 2, **kw)
    ours.load_state_dict(twin.state_dict())
    x = torch.randn(7, 4)
    (o1, s1), (o2, s2) = twin(x), ours(x)
    assert o1.shape == o2.shape == (7, 5)
    torch.testing.assert_close(o1, o2)
    for a, b in zip(s1 if isinstance(s1, tuple) else (s1,), s2 if isinstance(s2, tuple) else (s2,)):
        assert a.shape == b.shape == (2, 5)
        torch.testing.assert_close(a, b)


def test_state_dict_round_trip_and_attribute_names():
    twin = nn.LSTM(4, 5, 2, bidirectional=True)
    ours = rnnlab.LSTM(4, 5, 2, bidirectional=True)
    assert list(ours.state_dict()) == list(twin.state_dict())
    ours.load_state_dict(twin.state_dict())
    assert torch.equal(ours.weight_hh_l1_reverse, twin.weight_hh_l1_reverse)
    back = nn.LSTM(4, 5, 2, bidirectional=True)
    back.load_state_dict(ours.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(), twin.state_dict().values()))
    with pytest.raises(AttributeError):
        _ = ours.weight_hh_l2
    with pytest.raises(RuntimeError):  # strict loading still reports missing keys
        ours.load_state_dict({k: v for k, v in twin.state_dict().items() if "l1" not in k})


def test_nested_module_state_dict():
    model = nn.Sequential(nn.Linear(3, 4), rnnlab.GRU(4, 5))
    keys = list(model.state_dict())
    assert "1.weight_ih_l0" in keys and not any("layers" in k for k in keys)
    other = nn.Sequential(nn.Linear(3, 4), rnnlab.GRU(4, 5))
    other.load_state_dict(model.state_dict())
    assert torch.equal(other[1].weight_hh_l0, model[1].weight_hh_l0)


def test_bias_false():
    twin = nn.GRU(3, 4, bias=False)
    ours = rnnlab.GRU(3, 4, bias=False)
    ours.load_state_dict(twin.state_dict())
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(ours(x)[0], twin(x)[0])
    assert [n for n, _ in ours.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_and_mask_on_every_path(kind, batch_first):
    """``lengths=`` and ``mask=`` give what torch.nn gives on the same batch packed."""
    ours_cls, twin_cls, kw = KINDS[kind]
    twin = twin_cls(4, 5, 2, bidirectional=True, batch_first=batch_first, **kw)
    x = torch.randn(3, 6, 4) if batch_first else torch.randn(6, 3, 4)
    lengths = torch.tensor([6, 2, 4])
    hx = _states(kind, 4, 3, 5)  # in the batch's order, as torch.nn takes it with packed input
    packed_out, want_state = twin(pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False), hx)
    want = pad_packed_sequence(packed_out, batch_first, total_length=6)[0]
    valid = torch.arange(6).unsqueeze(1) < lengths  # (T, B)
    for path in PATHS.get(kind, ["fused", "bptt", "steps"]):
        ours = ours_cls(4, 5, 2, bidirectional=True, batch_first=batch_first, path=path, **kw)
        ours.load_state_dict(twin.state_dict())
        for extra in ({"lengths": lengths}, {"mask": valid.T if batch_first else valid}):
            out, state = ours(x, hx, **extra)
            torch.testing.assert_close(out, want, atol=1e-5, rtol=1e-5)
            for a, b in zip(_flat(out, state)[1:], _flat(want, want_state)[1:]):
                torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_lengths_with_projections():
    twin = nn.LSTM(4, 6, 2, proj_size=3, batch_first=True)
    ours = rnnlab.LSTM(4, 6, 2, proj_size=3, batch_first=True)
    ours.load_state_dict(twin.state_dict())
    x, lengths = torch.randn(3, 5, 4), torch.tensor([2, 5, 3])
    out, (h, c) = ours(x, lengths=lengths)
    packed, (h2, c2) = twin(pack_padded_sequence(x, lengths, True, enforce_sorted=False))
    torch.testing.assert_close(out, pad_packed_sequence(packed, True)[0])
    assert h.shape == (2, 3, 3) and c.shape == (2, 3, 6)
    torch.testing.assert_close((h, c), (h2, c2))
    assert ours.paths == ("fused",)
    with pytest.raises(ValueError, match="path"):
        rnnlab.LSTM(4, 6, proj_size=3, path="bptt")


@pytest.mark.parametrize("kind", KINDS)
def test_bad_lengths_and_paths(kind):
    ours_cls, _, kw = KINDS[kind]
    ours = ours_cls(4, 5, **kw)
    with pytest.raises(ValueError, match="lengths"):
        ours(torch.randn(6, 3, 4), lengths=torch.tensor([7, 1, 1]))
    with pytest.raises(ValueError, match="lengths/mask"):
        ours(torch.randn(6, 4), lengths=torch.tensor([6]))
    gap = torch.ones(6, 3, dtype=torch.bool)
    gap[2, 0] = False  # a valid step after padding
    with pytest.raises(ValueError, match="mask: expected valid steps first"):
        ours(torch.randn(6, 3, 4), mask=gap)
    with pytest.raises(ValueError, match="path"):
        ours_cls(4, 5, path="fast", **kw)
    with pytest.raises(ValueError, match="path"):
        ours.path = "fast"
    assert ours.path == "auto"


def test_other_paths_follow_attribute_changes_and_torch_checks():
    ours = rnnlab.RNN(4, 6, path="steps")
    twin = nn.RNN(4, 6, nonlinearity="relu")
    twin.load_state_dict(ours.state_dict())
    x = torch.randn(5, 3, 4)
    ours(x)  # the loop is set up for tanh first
    ours.nonlinearity = "relu"
    torch.testing.assert_close(ours(x)[0], twin(x)[0])
    with pytest.raises(RuntimeError, match="input_size"):
        ours(torch.nn.utils.rnn.pack_sequence([torch.randn(3, 5)]))


@pytest.mark.parametrize("path", ["bptt", "steps"])
def test_threads_share_a_module_on_the_other_paths(path):
    import threading

    ours = rnnlab.LSTM(8, 16, 2, path=path)
    x = torch.randn(20, 3, 8)
    want = ours(x)[0]
    errors, results = [], []

    def work():
        try:
            results.extend(ours(x)[0] for _ in range(10))
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 40
    assert all(torch.equal(r, want) for r in results)


def test_state_and_padding_arguments_checked():
    ours = rnnlab.LSTM(3, 4, path="steps")
    x = torch.randn(5, 2, 3)
    h = torch.zeros(1, 2, 4)
    with pytest.raises(RuntimeError, match="tuple"):
        ours(x, h)
    with pytest.raises(RuntimeError, match="tuple"):
        ours(x, (h, h, h))
    with pytest.raises(RuntimeError, match="dtype"):
        ours(x, (h.double(), h.double()))
    with pytest.raises(ValueError, match="lengths/mask: expected one of the two"):
        ours(x, lengths=torch.tensor([5, 2]), mask=torch.ones(5, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask: expected shape \(5, 2\)"):
        ours(x, mask=torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="unbatched"):
        ours(x[:, 0], lengths=torch.tensor([5]))


def test_explicit_bptt_refuses_higher_derivatives():
    x = torch.rand(4, 2, 3, dtype=torch.double, requires_grad=True)
    ours = rnnlab.LSTM(3, 3, path="bptt", dtype=torch.double)
    out = ours(x)[0]
    with pytest.raises(RuntimeError, match="first derivatives only"):
        torch.autograd.grad(out.sum(), x, create_graph=True)
    (grad,) = torch.autograd.grad(ours(x)[0].sum(), x)  # first order as usual
    assert grad.shape == x.shape
