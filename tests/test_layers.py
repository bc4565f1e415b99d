"""Recurrent: variable lengths, masks, truncated BPTT, and the errors users see."""

import pytest
import torch

import rnnlab
from rnnlab import Recurrent, detach_state, unroll


@pytest.mark.parametrize(
    "cell, path",
    [
        (c, p)
        for c in ("lstm", "gru", "rnn-sigmoid", "lstm-1997", "clockwork", "scrn", "mut2")
        for p in Recurrent(c, 3, 4).paths
    ],
)
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_match_running_each_sequence_alone(cell, path, batch_first):
    layer = Recurrent(cell, 3, 4, num_layers=2, bidirectional=True, path=path, batch_first=batch_first)
    T, lengths = 7, [7, 2, 5]
    x = torch.randn(T, 3, 3)
    inp = x.transpose(0, 1) if batch_first else x
    out, state = layer(inp, lengths=torch.tensor(lengths))
    out = out.transpose(0, 1) if batch_first else out
    for b, n in enumerate(lengths):
        single = x[:n, b : b + 1]
        alone, alone_state = layer(single.transpose(0, 1) if batch_first else single)
        alone = alone.transpose(0, 1) if batch_first else alone
        torch.testing.assert_close(out[:n, b], alone[:, 0], atol=1e-6, rtol=1e-5)
        assert torch.all(out[n:, b] == 0)
        for s, a in zip(state, alone_state):
            torch.testing.assert_close(s[:, b], a[:, 0], atol=1e-6, rtol=1e-5)


def test_mask_equals_lengths_and_gaps_are_refused():
    layer = Recurrent("gru", 3, 4)
    x = torch.randn(5, 2, 3)
    mask = torch.tensor([[1, 1], [1, 1], [1, 0], [0, 0], [0, 0]], dtype=torch.bool)
    a, sa = layer(x, mask=mask)
    b, sb = layer(x, lengths=torch.tensor([3, 2]))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(sa[0], sb[0])
    mask[3, 0] = True
    mask[2, 0] = False
    with pytest.raises(ValueError, match="mask: expected valid steps first"):
        layer(x, mask=mask)


def test_unroll_reverse_and_detach_state():
    cell = rnnlab.make_cell("lstm", 3, 4)
    x = torch.randn(6, 2, 3, requires_grad=True)
    out, state = unroll(cell, x, reverse=True)
    back, _ = unroll(cell, x.flip(0))
    torch.testing.assert_close(out, back.flip(0))
    cut = detach_state(state)
    assert all(not s.requires_grad for s in cut) and all(s.requires_grad for s in state)
    out2, _ = unroll(cell, x, cut)
    (g,) = torch.autograd.grad(out2.sum(), x)
    assert g.abs().sum() > 0  # gradient reaches this chunk's input, not the previous chunk


def test_dropout_between_layers_is_active_only_in_training():
    layer = Recurrent("lstm", 3, 8, num_layers=2, dropout=0.5, path="steps")
    x = torch.randn(5, 2, 3)
    layer.eval()
    torch.testing.assert_close(layer(x)[0], layer(x)[0])
    layer.train()
    assert not torch.equal(layer(x)[0], layer(x)[0])


BAD_BUILDS = [
    (dict(cell="nope"), "cell: expected one of .*lstm.*got 'nope'"),
    (dict(hidden_size=0), "hidden_size: expected a positive integer, got 0"),
    (dict(input_size=-3), "input_size: expected a positive integer, got -3"),
    (dict(num_layers=0), "num_layers: expected a positive integer, got 0"),
    (dict(dropout=1.0), r"dropout: expected a number in \[0, 1\), got 1.0"),
    (dict(dropout=-0.1), r"dropout: expected a number in \[0, 1\), got -0.1"),
    (dict(activation="softsign", cell="rnn"), "activation: expected one of 'tanh'.*got 'softsign'"),
    (dict(colour="red"), "options of cell 'lstm': expected some of .*forget_bias.*got 'colour'"),
]


@pytest.mark.parametrize("kwargs, message", BAD_BUILDS)
def test_bad_construction_arguments(kwargs, message):
    args = dict(cell="lstm", input_size=3, hidden_size=4, num_layers=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Recurrent(**args)


def test_bad_forward_arguments():
    layer = Recurrent("lstm", 3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"input: expected a 3-D .*got \(2, 3, 4, 5\)"):
        layer(torch.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"input: expected 3 features .*got \(5, 2, 7\)"):
        layer(torch.randn(5, 2, 7))
    with pytest.raises(ValueError, match="input: expected a floating-point tensor"):
        layer(torch.ones(5, 2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="input: expected dtype torch.float32"):
        layer(torch.randn(5, 2, 3, dtype=torch.float64))
    good = layer.init_state(2)
    with pytest.raises(ValueError, match=r"hx\[0\]: expected shape \(2, 2, 4\), got \(1, 2, 4\)"):
        layer(torch.randn(5, 2, 3), (good[0][:1], good[1]))
    with pytest.raises(ValueError, match=r"hx\[1\]: expected dtype torch.float32"):
        layer(torch.randn(5, 2, 3), (good[0], good[1].double()))
    with pytest.raises(ValueError, match="hx: expected a tuple of 2 tensor"):
        layer(torch.randn(5, 2, 3), good[0])
    with pytest.raises(ValueError, match=r"lengths: expected values in \[1, 5\]"):
        layer(torch.randn(5, 2, 3), lengths=torch.tensor([6, 2]))
    with pytest.raises(ValueError, match=r"lengths: expected shape \(2,\)"):
        layer(torch.randn(5, 2, 3), lengths=torch.tensor([5, 2, 1]))


def test_packed_input_refuses_lengths_and_mask():
    layer = Recurrent("lstm", 3, 4)
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.randn(5, 2, 3), torch.tensor([5, 3]))
    with pytest.raises(ValueError, match="lengths/mask"):
        layer(packed, lengths=torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="lengths/mask"):
        layer(packed, mask=torch.ones(5, 2, dtype=torch.bool))
