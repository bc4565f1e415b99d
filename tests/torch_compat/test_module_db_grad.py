"""torch.nn's module checks over rnnlab's drop-ins and torch.nn: gradcheck and gradgradcheck, train and
eval modes, ``to``/``to_empty`` with and without swapping tensors, and ``load_state_dict`` with swapping.

The other checks are in ``test_module_db.py``; the origin (PyTorch's ``test/test_modules.py``,
BSD-3-Clause), the samples used and the upstream checks run or left out are described in
``module_db.py``, which holds what both files share.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from tests.torch_compat.module_db import (
    INFOS,
    assert_placed,
    build,
    cases,
    close,
    fwd,
    gradcheck_module,
    map_tensors,
    modes,
    nn_twin,
    samples,
    setup_case,
    swapping,
    tensors,
)
from tests.torch_compat.paths import FIRST_ORDER_ONLY, on_bptt


# test_grad: total derivative over inputs and parameters, train mode, the few samples
@cases
def test_grad(impl, name):
    info, cls = setup_case(impl, name)
    for sample in samples(info, torch.float64, requires_grad=True, training=True, few=True):
        m = build(cls, sample, torch.float64, True)
        assert gradcheck_module(m, sample, torch.autograd.gradcheck)


# test_grad: the same over the other samples with biases, batch_first=False
@pytest.mark.slow
@cases
def test_grad_other_samples(impl, name):
    info, cls = setup_case(impl, name)
    few = samples(info, torch.float64, requires_grad=True, training=True, few=True)
    keys = {(repr(s.constructor_input.kwargs), len(s.forward_input.args)) for s in few}
    rest = [  # batch_first only transposes the input: the few cover it
        s
        for s in samples(info, torch.float64, requires_grad=True, training=True, few=False)
        if (repr(s.constructor_input.kwargs), len(s.forward_input.args)) not in keys
        and not s.constructor_input.kwargs["batch_first"]
        and s.constructor_input.kwargs["bias"]  # without biases, only terms fewer
    ]
    assert rest
    for sample in rest:
        m = build(cls, sample, torch.float64, True)
        assert gradcheck_module(m, sample, torch.autograd.gradcheck)


# test_grad: eval mode, and partial derivatives in train mode (inputs alone, parameters alone), the few
@pytest.mark.slow
@cases
@modes
def test_grad_partial(impl, name, training):
    info, cls = setup_case(impl, name)
    for sample in samples(info, torch.float64, requires_grad=True, training=training, few=True):
        m = build(cls, sample, torch.float64, training)
        if not training:
            assert gradcheck_module(m, sample, torch.autograd.gradcheck)
        else:
            assert gradcheck_module(m, sample, torch.autograd.gradcheck, params=False)
            assert gradcheck_module(m, sample, torch.autograd.gradcheck, inputs=False)


# test_gradgrad: one sample of each module, batch_first, tanh for RNN, with projections for LSTM
@pytest.mark.slow
@cases
def test_gradgrad(impl, name):
    info, cls = setup_case(impl, name)
    assert INFOS[name].supports_gradgrad
    few = samples(info, torch.float64, requires_grad=True, training=True, few=True)
    picked = [
        s
        for s in few
        if s.constructor_input.kwargs["batch_first"]
        and s.constructor_input.kwargs.get("nonlinearity", "tanh") == "tanh"
        and s.constructor_input.kwargs.get("proj_size", 1) > 0
    ]
    assert len(picked) == 1
    m = build(cls, picked[0], torch.float64, True)
    if on_bptt(m):
        with pytest.raises(RuntimeError, match=FIRST_ORDER_ONLY):
            gradcheck_module(m, picked[0], torch.autograd.gradgradcheck)
        return
    assert gradcheck_module(m, picked[0], torch.autograd.gradgradcheck)


# test_if_train_and_eval_modes_differ
@cases
def test_if_train_and_eval_modes_differ(impl, name):
    info, cls = setup_case(impl, name)
    for sample in samples(info, torch.float32, training=True):
        m = build(cls, sample, torch.float32, True)
        del m.training
        try:
            fwd(m, sample)
        except AttributeError as e:
            if "'training'" not in str(e):
                raise
            assert info.train_and_eval_differ, f"{name} reads self.training but its entry says modes don't differ"
    # added here: the entry's train_and_eval_differ=True holds: dropout between layers acts in training only
    assert info.train_and_eval_differ
    sample = samples(info, torch.float32, training=True)[0]
    m = build(cls, sample, torch.float32, True, dropout=0.5)
    x = torch.randn(20, 4, 2)
    if m.batch_first:
        x = x.transpose(0, 1)
    torch.manual_seed(1)
    train_out = m(x)[0]
    m.eval()
    eval_out = m(x)[0]
    assert not torch.allclose(train_out, eval_out)
    torch.testing.assert_close(m(x)[0], eval_out, rtol=0, atol=0)


# test_to (swapping on for the conversion only: see test_load_state_dict_swapping)
@cases
@pytest.mark.parametrize("swap", [False, True], ids=["assign", "swap"])
def test_to(impl, name, swap):
    info, cls = setup_case(impl, name)
    for sample in samples(info, torch.float32):
        m = build(cls, sample, torch.float32)
        params = list(m.parameters())
        for p in params:
            p.grad = torch.randn_like(p)
        values = [(p.detach().clone(), p.grad.clone()) for p in params]
        with swapping(swap):
            assert m.to(torch.float64) is m
        after = list(m.parameters())
        assert len(after) == len(params) and all(a is b for a, b in zip(after, params, strict=True))
        for p, (v, g) in zip(after, values, strict=True):
            assert isinstance(p, nn.Parameter) and p.dtype == torch.float64 and p.requires_grad
            assert p.grad.dtype == torch.float64
            torch.testing.assert_close(p.detach(), v.double(), rtol=0, atol=0)
            torch.testing.assert_close(p.grad, g.double(), rtol=0, atol=0)
        assert_placed(m, torch.float64)
        args = map_tensors(lambda t: t.double(), sample.forward_input.args)
        out = fwd(m, sample, args)
        assert all(t.dtype == torch.float64 for t in tensors(out))
        close(out, fwd(nn_twin(name, sample, m), sample, args), torch.float64)


# test_to_empty
@cases
@pytest.mark.parametrize("swap", [False, True], ids=["assign", "swap"])
def test_to_empty(impl, name, swap):
    info, cls = setup_case(impl, name)
    for sample in samples(info, torch.float32):
        with torch.device("meta"):
            m = build(cls, sample, torch.float32)
        assert all(p.is_meta for p in m.parameters())
        with swapping(swap):
            assert m.to_empty(device="cpu") is m
        assert_placed(m, torch.float32)
        assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())
        source = build(cls, sample, torch.float32)
        m.load_state_dict(source.state_dict())
        close(fwd(m, sample), fwd(source, sample), torch.float32, rtol=0, atol=0)


# The swap_tensors leg of test_to / test_to_empty, for load_state_dict: torch.nn's RNNs fail it on this
# torch (their flat weights hold weakrefs to the parameters, which swap_tensors refuses), so it is skipped
# for both implementations while torch.nn fails it, and run for both once torch.nn passes.
@cases
def test_load_state_dict_swapping(impl, name):
    info, cls = setup_case(impl, name)
    sample = samples(info, torch.float32, few=True)[0]

    def attempt(kind):
        m, source = build(kind, sample, torch.float32), build(kind, sample, torch.float32)
        params = list(m.parameters())
        with swapping(True):
            m.load_state_dict(source.state_dict())
        assert all(a is b for a, b in zip(m.parameters(), params, strict=True))
        close(fwd(m, sample), fwd(source, sample), torch.float32, rtol=0, atol=0)

    try:
        attempt(getattr(nn, name))
    except RuntimeError as e:
        why = re.search(r"exception occurred : \('(.+?)',\)", str(e))
        pytest.skip(f"torch.nn.{name} fails it too: {why.group(1) if why else e}")
    attempt(cls)
