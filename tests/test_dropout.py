"""Dropout drawn per column (a language model's streams): the same masks in any share of the batch."""

import pytest
import torch

from rnnlab.dropout import Dropout, active, dropout, per_column
from rnnlab.layers import Recurrent


def test_a_columns_mask_does_not_depend_on_who_draws_it():
    x = torch.ones(5, 6, 40)
    with per_column(seed=3, draw=7, columns=range(6)):
        whole = dropout(x, 0.4)
    with per_column(seed=3, draw=7, columns=range(2, 5)):
        part = dropout(x[:, 2:5], 0.4)
    assert torch.equal(part, whole[:, 2:5])
    assert whole.unique().tolist() == pytest.approx([0.0, 1 / 0.6])
    kept = (whole > 0).float().mean().item()
    assert 0.5 < kept < 0.7  # 1200 draws of keep probability 0.6
    columns = [whole[:, j] for j in range(6)]
    assert all(not torch.equal(columns[0], c) for c in columns[1:])  # each column its own mask


def test_sites_draws_and_seeds_give_new_masks_and_nothing_outside_is_changed():
    x = torch.ones(4, 3, 50)
    with per_column(1, 0, range(3)):
        first, second = dropout(x, 0.5), dropout(x, 0.5)  # two sites of one forward
    with per_column(1, 0, range(3)):
        again = dropout(x, 0.5)
    with per_column(1, 1, range(3)):
        next_draw = dropout(x, 0.5)
    with per_column(2, 0, range(3)):
        other_seed = dropout(x, 0.5)
    assert torch.equal(first, again)
    assert not any(torch.equal(first, m) for m in (second, next_draw, other_seed))
    assert not active()
    layer = Dropout(0.5).eval()
    with per_column(1, 0, range(3)):
        assert active() and torch.equal(layer(x), x)  # evaluation: no dropout
        assert torch.equal(dropout(x, 0.0), x)
        with pytest.raises(ValueError, match="3 columns drawn for, got a batch of 2"):
            dropout(x[:, :2], 0.5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_stack_drops_between_layers_per_column_on_the_fused_kernel_as_on_the_step_loop(cell):
    torch.manual_seed(0)
    fused = Recurrent(cell, 5, 7, num_layers=3, dropout=0.5, path="fused")
    steps = Recurrent(cell, 5, 7, num_layers=3, dropout=0.5, path="steps")
    steps.load_state_dict(fused.state_dict())
    x = torch.randn(6, 4, 5)
    outs = []
    for rnn in (fused, steps):
        with per_column(9, 2, range(4)):
            out, state = rnn(x)
        outs.append((out, state))
    (a, sa), (b, sb) = outs
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for s, t in zip(sa, sb):
        torch.testing.assert_close(s, t, rtol=1e-5, atol=1e-6)
    halves = []
    for cols in (range(0, 2), range(2, 4)):  # two processes, two streams each
        with per_column(9, 2, cols):
            halves.append(fused(x[:, cols.start : cols.stop])[0])
    torch.testing.assert_close(torch.cat(halves, 1), a, rtol=1e-5, atol=1e-6)
    fused.eval()
    with per_column(9, 2, range(4)):
        assert not torch.allclose(fused(x)[0], a)  # the masks were real
    a.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in fused.parameters())
