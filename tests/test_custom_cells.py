"""Equations of the cells beyond the standard ones, checked by hand."""

import pytest
import torch
from torch.nn.functional import layer_norm, linear

from rnnlab import Recurrent, make_cell

sig, tanh = torch.sigmoid, torch.tanh


def test_clockwork_modules_tick_on_their_periods():
    cell = make_cell("clockwork", 3, 8, periods=[1, 2, 4, 8])  # modules of 2 units
    layer = Recurrent("clockwork", 3, 8, periods=[1, 2, 4, 8], path="steps")
    layer.layers[0] = cell
    out, (h, clock) = layer(torch.randn(9, 1, 3))
    changed = (out[1:] != out[:-1])[:, 0]  # (8, 8): did unit j change at step t (t = 1..8)?
    for t in range(1, 9):
        for module, period in enumerate([1, 2, 4, 8]):
            units = changed[t - 1, 2 * module : 2 * module + 2]
            assert bool(units.all()) == (t % period == 0), (t, period)
    assert clock.item() == 9
    # block upper-triangular: the fastest module reads every module, the slowest only itself
    w = cell.weight_hh * cell.recurrent_mask
    assert torch.all(w[6:, :6] == 0) and torch.all(w[:2, :] != 0)


def test_clockwork_bad_periods():
    with pytest.raises(ValueError, match="periods: expected a number of modules that divides hidden_size 10"):
        make_cell("clockwork", 3, 10)
    with pytest.raises(ValueError, match="periods: expected strictly increasing"):
        make_cell("clockwork", 3, 8, periods=[4, 2])
    with pytest.raises(ValueError, match="periods: expected a non-empty list of positive integers"):
        make_cell("clockwork", 3, 8, periods=[0, 1])


@pytest.mark.parametrize("previous_context", [False, True])
def test_scrn_equations(previous_context):
    cell = make_cell("scrn", 3, 6, context_size=2, previous_context=previous_context)
    x, h, s = torch.randn(4, 3), torch.randn(4, 6), torch.randn(4, 2)
    y, (h2, s2) = cell(x, (h, s))
    want_s = 0.05 * linear(x, cell.weight_xs) + 0.95 * s
    ctx = s if previous_context else want_s
    want_h = sig(linear(ctx, cell.weight_sh) + linear(x, cell.weight_xh) + linear(h, cell.weight_hh) + cell.bias_h)
    torch.testing.assert_close(s2, want_s)
    torch.testing.assert_close(h2, want_h)
    torch.testing.assert_close(y, torch.cat([want_h, want_s], 1))
    assert cell.output_size == 8


def test_scrn_learned_alpha_and_bad_alpha():
    cell = make_cell("scrn", 3, 6, alpha=0.9, learn_alpha=True)
    torch.testing.assert_close(cell.decay(), torch.full((1,), 0.9).expand(cell.context_size))
    with pytest.raises(ValueError, match=r"alpha: expected a number in \[0, 1\], got 1.5"):
        make_cell("scrn", 3, 6, alpha=1.5)


def test_mut_equations_with_the_papers_identity_input():
    x, h = torch.randn(4, 5), torch.randn(4, 5)
    m1, m2, m3 = (make_cell(f"mut{v}", 5, 5) for v in (1, 2, 3))
    bz, br, bh = m1.bias_zrh.chunk(3)
    wz, wr = m1.weight_ih.chunk(2)
    z, r = sig(linear(x, wz) + bz), sig(linear(x, wr) + linear(h, m1.weight_hr) + br)
    want = tanh(linear(r * h, m1.weight_hh) + tanh(x) + bh) * z + h * (1 - z)
    torch.testing.assert_close(m1(x, (h,))[0], want)
    bz, br, bh = m2.bias_zrh.chunk(3)
    wz, wh = m2.weight_ih.chunk(2)
    z = sig(linear(x, wz) + linear(h, m2.weight_hz) + bz)
    r = sig(x + linear(h, m2.weight_hr) + br)
    want = tanh(linear(r * h, m2.weight_hh) + linear(x, wh) + bh) * z + h * (1 - z)
    torch.testing.assert_close(m2(x, (h,))[0], want)
    bz, br, bh = m3.bias_zrh.chunk(3)
    wz, wr, wh = m3.weight_ih.chunk(3)
    z = sig(linear(x, wz) + linear(tanh(h), m3.weight_hz) + bz)
    r = sig(linear(x, wr) + linear(h, m3.weight_hr) + br)
    want = tanh(linear(r * h, m3.weight_hh) + linear(x, wh) + bh) * z + h * (1 - z)
    torch.testing.assert_close(m3(x, (h,))[0], want)
    assert make_cell("mut1", 3, 5).weight_ih.shape == (15, 3)  # another input size: x is projected


def test_peephole_with_zero_peepholes_is_the_lstm():
    lstm, peep = make_cell("lstm", 3, 4), make_cell("lstm-peephole", 3, 4)
    peep.load_state_dict({**lstm.state_dict(), "weight_peep": torch.zeros(3, 4)})
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    for a, b in zip(lstm(x, (h, c))[1], peep(x, (h, c))[1]):
        torch.testing.assert_close(a, b)
    with torch.no_grad():
        peep.weight_peep.fill_(0.5)
    assert not torch.allclose(lstm(x, (h, c))[0], peep(x, (h, c))[0])


def test_cifg_and_layer_norm_lstm_equations():
    cifg = make_cell("lstm-cifg", 3, 4)
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    i, g, o = (linear(x, cifg.weight_ih, cifg.bias_ih) + linear(h, cifg.weight_hh, cifg.bias_hh)).chunk(3, 1)
    want_c = (1 - sig(i)) * c + sig(i) * tanh(g)
    torch.testing.assert_close(cifg(x, (h, c))[1][1], want_c)
    ln = make_cell("lstm-ln", 3, 4)
    assert torch.all(ln.ln_ih.bias[4:8] == 1.0)
    gates = layer_norm(linear(x, ln.weight_ih), (16,), ln.ln_ih.weight, ln.ln_ih.bias) + layer_norm(
        linear(h, ln.weight_hh), (16,), ln.ln_hh.weight
    )
    i, f, g, o = gates.chunk(4, 1)
    want_c = sig(f) * c + sig(i) * tanh(g)
    want_h = sig(o) * tanh(layer_norm(want_c, (4,), ln.ln_c.weight, ln.ln_c.bias))
    y, (h2, c2) = ln(x, (h, c))
    torch.testing.assert_close(c2, want_c)
    torch.testing.assert_close(h2, want_h)
