"""RNN / LSTM / GRU argument checks on torch.nn and rnnlab: input and state shapes, errors and their
messages, the nonlinearity, the default initial state, empty sequences and batches.

Each test takes the ``nn_impl`` fixture (see conftest.py). Which upstream tests of PyTorch's
``test/test_nn.py`` these follow, and which are left out, is listed in ``rnn_helpers.py``.
"""

import re

import pytest
import torch

from tests.torch_compat.rnn_helpers import MODES, state_tensors, with_state

# --- argument and shape checks ---------------------------------------------------------------------

# (input shape, state shape) with one wrong size each; good ones are (T, B, D) and (L, B, H)
_T, _B, _D, _H, _L, _BAD = 6, 4, 3, 5, 2, 7
SHAPE_FAULTS = {
    "input batch": ((_T, _BAD, _D), (_L, _B, _H)),
    "state batch": ((_T, _B, _D), (_L, _BAD, _H)),
    "input features": ((_T, _B, _BAD), (_L, _B, _H)),
    "state features": ((_T, _B, _D), (_L, _B, _BAD)),
    "state layers": ((_T, _B, _D), (_BAD, _B, _H)),
}


# upstream: test_rnn_args_check
@pytest.mark.parametrize("fault", SHAPE_FAULTS)
@pytest.mark.parametrize("mode", MODES)
def test_bad_input_or_state_shape_raises(nn_impl, mode, fault):
    module = getattr(nn_impl, mode)(_D, _H, _L)
    good = torch.randn(_L, _B, _H)
    out, _ = module(torch.randn(_T, _B, _D), with_state(mode, good))  # the right shapes go through
    assert out.shape == (_T, _B, _H)

    x_shape, h_shape = SHAPE_FAULTS[fault]
    x, h = torch.randn(x_shape), torch.randn(h_shape)
    if mode != "LSTM":
        states = [h]
    elif h_shape == good.shape:
        states = [(h, h)]
    else:  # a wrong h with a right c, and the other way round
        states = [(h, good), (good, h)]
    for state in states:
        with pytest.raises(RuntimeError):
            module(x, state)


# upstream: test_projections_lstm_args_check
PROJ_FAULTS = {  # with D=3, H=5, P=2, L=2, B=4, T=6: (input shape, h shape, c shape)
    "input batch": ((6, 7, 3), (2, 4, 2), (2, 4, 5)),
    "state batch": ((6, 4, 3), (2, 7, 2), (2, 7, 5)),
    "input features": ((6, 4, 7), (2, 4, 2), (2, 4, 5)),
    "state features": ((6, 4, 3), (2, 4, 7), (2, 4, 7)),
    "state layers": ((6, 4, 3), (7, 4, 2), (7, 4, 5)),
    "h sized like c": ((6, 4, 3), (2, 4, 5), (2, 4, 5)),
    "c sized like h": ((6, 4, 3), (2, 4, 2), (2, 4, 2)),
    "h layers only": ((6, 4, 3), (7, 4, 2), (2, 4, 5)),
    "c layers only": ((6, 4, 3), (2, 4, 2), (7, 4, 5)),
}


@pytest.mark.parametrize("fault", PROJ_FAULTS)
def test_projected_lstm_bad_shapes_raise(nn_impl, fault):
    lstm = nn_impl.LSTM(3, 5, 2, proj_size=2)
    out, (h, c) = lstm(torch.randn(6, 4, 3), (torch.randn(2, 4, 2), torch.randn(2, 4, 5)))
    assert out.shape == (6, 4, 2) and h.shape == (2, 4, 2) and c.shape == (2, 4, 5)

    x_shape, h_shape, c_shape = PROJ_FAULTS[fault]
    with pytest.raises(RuntimeError):
        lstm(torch.randn(x_shape), (torch.randn(h_shape), torch.randn(c_shape)))


# upstream: test_projections_errors_on_gru_and_rnn
@pytest.mark.parametrize("mode", ["RNN", "GRU"])
def test_proj_size_refused_by_rnn_and_gru(nn_impl, mode):
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
        getattr(nn_impl, mode)(30, 20, 2, proj_size=10)


# upstream: test_cudnn_forward_exception (it has no cuDNN guard and runs on CPU)
@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM", "LSTM-proj"])
def test_wrong_state_or_feature_size_messages(nn_impl, kind):
    mode = kind.split("-")[0]
    extra = {"proj_size": 10} if kind == "LSTM-proj" else {}
    module = getattr(nn_impl, mode)(10, 20, batch_first=True, **extra)
    wrong_state = with_state(mode, torch.zeros(1, 2, 19), torch.zeros(1, 2, 19))
    with pytest.raises(RuntimeError, match="Expected hidden.*size.*got"):
        module(torch.randn(2, 3, 10), wrong_state)
    with pytest.raises(RuntimeError, match=re.escape("input.size(-1) must be equal to input_size")):
        module(torch.randn(2, 3, 3))


# upstream: test_RNN_nonlinearity
def test_nonlinearity_attribute_and_check(nn_impl):
    assert nn_impl.RNN(1, 10).nonlinearity == "tanh"
    assert nn_impl.RNN(1, 10, nonlinearity="relu").nonlinearity == "relu"
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn_impl.RNN(1, 10, nonlinearity="garbage")


# upstream: test_RNN_nonlinearity_passed_as_arg
def test_nonlinearity_passed_positionally(nn_impl):
    rnn = nn_impl.RNN(2, 3, 1, "relu")
    assert rnn.nonlinearity == "relu"
    with torch.no_grad():
        out, h = rnn(torch.randn(5, 4, 2) * 3)
    assert (out >= 0).all() and (h >= 0).all()  # the ReLU is the one applied
    assert (out == 0).any()


# --- initial state ---------------------------------------------------------------------------------


# upstream: test_rnn_initial_hidden_state
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_zero_initial_state_is_the_default(nn_impl, mode, bidirectional):
    module = getattr(nn_impl, mode)(7, 5, 2, bidirectional=bidirectional)
    x = torch.randn(6, 4, 7)
    zeros = torch.zeros(2 * (2 if bidirectional else 1), 4, 5)
    out_given, state_given = module(x, with_state(mode, zeros))
    out_default, state_default = module(x)
    torch.testing.assert_close(out_given, out_default)
    for a, b in zip(state_tensors(state_given), state_tensors(state_default), strict=True):
        torch.testing.assert_close(a, b)
    assert out_default.abs().sum() > 0


# upstream: test_projections_lstm_initial_hidden_state
@pytest.mark.parametrize("bidirectional", [False, True])
def test_projected_lstm_zero_state_is_the_default(nn_impl, bidirectional):
    lstm = nn_impl.LSTM(7, 6, 2, bidirectional=bidirectional, proj_size=3)
    rows = 2 * (2 if bidirectional else 1)
    x = torch.randn(6, 4, 7)
    out_given, (h_given, c_given) = lstm(x, (torch.zeros(rows, 4, 3), torch.zeros(rows, 4, 6)))
    out_default, (h_default, c_default) = lstm(x)
    assert out_default.shape == (6, 4, 3 * (2 if bidirectional else 1))
    assert h_default.shape == (rows, 4, 3) and c_default.shape == (rows, 4, 6)
    torch.testing.assert_close(out_given, out_default)
    torch.testing.assert_close(h_given, h_default)
    torch.testing.assert_close(c_given, c_default)


# --- empty inputs ----------------------------------------------------------------------------------


# upstream: test_error_RNN_seq_len_zero (its CPU half)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_empty_sequence_raises(nn_impl, mode, bidirectional):
    module = getattr(nn_impl, mode)(5, 6, bidirectional=bidirectional)
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
        module(torch.ones(0, 10, 5))


# upstream: test_RNN_input_size_zero
@pytest.mark.parametrize("mode", MODES)
def test_empty_batch(nn_impl, mode):
    module = getattr(nn_impl, mode)(input_size=3, hidden_size=4)
    out, state = module(torch.zeros(5, 0, 3))
    assert out.shape == (5, 0, 4)
    assert all(t.shape == (1, 0, 4) for t in state_tensors(state))
    out.sum().backward()  # no hard error, and nothing to learn from no examples
    for p in module.parameters():
        assert p.grad is None or not p.grad.any()
