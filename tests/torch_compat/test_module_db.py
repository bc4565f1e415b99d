"""torch.nn's module checks over rnnlab's drop-ins and torch.nn: forward, factory kwargs, device transfer, repr,
save/load, errors, non-contiguous inputs, memory format, device context, and the entries' decorators.

The gradient, mode and conversion checks are in ``test_module_db_grad.py``; the origin (PyTorch's
``test/test_modules.py``, BSD-3-Clause), the samples used and the upstream checks run or left out are
described in ``module_db.py``, which holds what both files share.
"""

from __future__ import annotations

import io
import re

import pytest
import torch
from torch import nn
from torch.testing._internal.common_device_type import skipMPS
from torch.testing._internal.common_modules import ModuleErrorEnum
from torch.testing._internal.common_utils import freeze_rng_state

from tests.torch_compat import test_module_db_grad
from tests.torch_compat.module_db import (
    DTYPES,
    INFOS,
    NAMES,
    assert_placed,
    backward,
    build,
    cases,
    close,
    dtypes,
    fwd,
    map_tensors,
    modes,
    nn_twin,
    non_contiguous,
    samples,
    setup_case,
    tensors,
)


# test_forward
@cases
@dtypes
@modes
def test_forward(impl, name, dtype, training):
    info, cls = setup_case(impl, name)
    for sample in samples(info, dtype, training=training):
        m = build(cls, sample, dtype, training)
        out = fwd(m, sample)
        assert sample.reference_fn is not None
        with freeze_rng_state():
            ref = sample.reference_fn(m, *sample.forward_input.args, **sample.forward_input.kwargs)
        close(out, ref, dtype)
        # added here: the same numbers as torch.nn with the same weights
        close(out, fwd(nn_twin(name, sample, m), sample), dtype)
        # .float() / .double() keep the module usable and on that dtype
        m.float() if dtype == torch.float32 else m.double()
        close(fwd(m, sample), out, dtype)
        assert_placed(m, dtype)


# test_factory_kwargs
@cases
@dtypes
def test_factory_kwargs(impl, name, dtype):
    info, cls = setup_case(impl, name)
    for sample in samples(info, dtype):
        kwargs = {**sample.constructor_input.kwargs, "device": "cpu", "dtype": dtype}
        m = cls(*sample.constructor_input.args, **kwargs)
        assert_placed(m, dtype)
        twin = getattr(nn, name)(*sample.constructor_input.args, **sample.constructor_input.kwargs)
        assert sorted(m.state_dict()) == sorted(twin.state_dict())


# test_multiple_device_transfer, CPU leg
@cases
@dtypes
def test_multiple_device_transfer_cpu(impl, name, dtype):
    info, cls = setup_case(impl, name)
    fresh = samples(info, dtype)
    for sample, again in zip(samples(info, dtype), fresh, strict=True):
        m = build(cls, sample, dtype)
        out = fwd(m, sample)
        assert m.cpu() is m
        assert_placed(m, dtype)
        close(fwd(m, sample), out, dtype)
        fwd(m, again)  # new CPU inputs after the move
        assert_placed(m, dtype)


# test_repr
@cases
@dtypes
@modes
def test_repr(impl, name, dtype, training):
    info, cls = setup_case(impl, name)
    for sample in samples(info, dtype, training=training):
        m = build(cls, sample, dtype, training)
        text = repr(m)
        assert text == str(m)
        assert text.startswith(f"{type(m).__name__}(")
        # added here: nothing torch.nn shows is missing
        ours = m.extra_repr()
        for item in nn_twin(name, sample, m).extra_repr().split(", "):
            assert re.search(rf"(^|, ){re.escape(item)}(,|$)", ours), f"{item!r} missing from {ours!r}"


# test_pickle and test_save_load
@cases
@dtypes
@modes
def test_save_load(impl, name, dtype, training):
    info, cls = setup_case(impl, name)
    for sample in samples(info, dtype, training=training, batch_first=(False,)):
        m = build(cls, sample, dtype, training)
        out = fwd(m, sample)

        buf = io.BytesIO()
        torch.save(m, buf)
        buf.seek(0)
        whole = torch.load(buf, weights_only=False)
        assert type(whole) is type(m)
        close(fwd(whole, sample), out, dtype, rtol=0, atol=0)

        buf = io.BytesIO()
        torch.save(m.state_dict(), buf)
        buf.seek(0)
        state = torch.load(buf, weights_only=True)
        fresh = build(cls, sample, dtype, training)
        fresh.load_state_dict(state)
        close(fwd(fresh, sample), out, dtype, rtol=0, atol=0)
        # added here: state dicts move both ways between rnnlab and torch.nn
        twin = getattr(nn, name)(*sample.constructor_input.args, **sample.constructor_input.kwargs).to(dtype)
        twin.load_state_dict(state)
        twin.train(training)
        close(fwd(twin, sample), out, dtype)
        fresh = build(cls, sample, dtype, training)
        fresh.load_state_dict(twin.state_dict())
        close(fwd(fresh, sample), out, dtype, rtol=0, atol=0)


# test_errors
@cases
@dtypes
def test_errors(impl, name, dtype):
    info, cls = setup_case(impl, name)
    cases = info.module_error_inputs_func(info, device="cpu", dtype=dtype, requires_grad=False, training=True)
    assert cases
    wrong = []  # every case is tried, and all the misses reported together
    for case in cases:
        sample = case.module_error_input
        c_args, c_kwargs = sample.constructor_input.args, sample.constructor_input.kwargs
        what = f"{cls.__name__}(*{c_args!r}, **{c_kwargs!r})"
        try:
            if case.error_on == ModuleErrorEnum.CONSTRUCTION_ERROR:
                cls(*c_args, **c_kwargs)
            else:
                assert case.error_on == ModuleErrorEnum.FORWARD_ERROR, case.error_on
                what += " forward"
                m = cls(*c_args, **c_kwargs)
                m(*sample.forward_input.args, **sample.forward_input.kwargs)
        except Exception as e:
            if not isinstance(e, case.error_type) or not re.search(case.error_regex, str(e)):
                wrong.append(f"{what}: {type(e).__name__}({e}), wanted {case.error_type.__name__} /{case.error_regex}/")
        else:
            wrong.append(f"{what}: no error, wanted {case.error_type.__name__} /{case.error_regex}/")
    assert not wrong, "\n".join(wrong)


# test_non_contiguous_tensors
@cases
@dtypes
@modes
def test_non_contiguous_tensors(impl, name, dtype, training):
    info, cls = setup_case(impl, name)
    for sample in samples(info, dtype, requires_grad=True, training=training, batch_first=(False,)):
        m = build(cls, sample, dtype, training)
        args = sample.forward_input.args
        with freeze_rng_state():
            grads = map_tensors(lambda t: torch.randn_like(t), m(*args))
        ref_out, ref_in, ref_par = backward(m, args, grads)
        for a, g in [(args, map_tensors(non_contiguous, grads)), (map_tensors(non_contiguous, args), grads)] + [
            (map_tensors(non_contiguous, args), map_tensors(non_contiguous, grads))
        ]:
            out, g_in, g_par = backward(m, a, g)
            close(out, ref_out, dtype)
            for x, y in zip(g_in, ref_in, strict=True):
                close(x, y, dtype, rtol=0, atol=1e-4)
            for x, y in zip(g_par, ref_par, strict=True):
                close(x, y, dtype)


# test_memory_format
@cases
@dtypes
@modes
def test_memory_format(impl, name, dtype, training):
    info, cls = setup_case(impl, name)
    for sample in samples(info, dtype, requires_grad=True, training=training, batch_first=(False,)):
        args = sample.forward_input.args
        assert all(t.dim() < 4 for t in tensors(args))  # no channels_last formats to try
        m = build(cls, sample, dtype, training)
        ref = fwd(m, sample)
        grads = map_tensors(torch.rand_like, ref)
        ref_grads = torch.autograd.grad(tensors(ref), [*tensors(args), *m.parameters()], tensors(grads))
        for module_format in (torch.preserve_format, torch.contiguous_format):
            m.to(memory_format=module_format)
            a = map_tensors(lambda t: t.detach().clone(memory_format=torch.contiguous_format).requires_grad_(), args)
            out = fwd(m, sample, a)
            close(out, ref, dtype)
            assert all(t.is_contiguous() for t in tensors(out))
            got = torch.autograd.grad(tensors(out), [*tensors(a), *m.parameters()], tensors(grads))
            close(got, ref_grads, dtype)
            assert all(t.is_contiguous() for t in got)


# test_device_ctx_init
@cases
@dtypes
def test_device_ctx_init(impl, name, dtype):
    info, cls = setup_case(impl, name)
    for sample in samples(info, dtype):
        c_args, c_kwargs = sample.constructor_input.args, sample.constructor_input.kwargs
        on_cpu = cls(*c_args, **c_kwargs)
        with torch.device("meta"):
            on_meta = cls(*c_args, **c_kwargs)
        pairs = list(zip(on_meta.named_parameters(), on_cpu.named_parameters(), strict=True))
        pairs += list(zip(on_meta.named_buffers(), on_cpu.named_buffers(), strict=True))
        assert pairs
        for (k_meta, meta), (k_cpu, cpu) in pairs:
            assert k_meta == k_cpu
            assert meta.is_meta and not cpu.is_meta
            assert (meta.shape, meta.stride(), meta.dtype, meta.requires_grad) == (
                cpu.shape, cpu.stride(), cpu.dtype, cpu.requires_grad,
            )  # fmt: skip


# The entries' decorators (expected failures, skips) must not apply to the CPU checks here and in
# test_module_db_grad.py, or these files would have to honour them. LSTM's unconditional skipMPS only acts
# on MPS devices.
@pytest.mark.parametrize("name", NAMES, ids=[f"torch-{n}-entry" for n in NAMES])
def test_no_decorator_applies_on_cpu(name):
    info = INFOS[name]
    ours = [*globals().items(), *vars(test_module_db_grad).items()]
    checks = [n for n, v in ours if n.startswith("test_") and callable(v)]
    checks += ["test_grad", "test_gradgrad", "test_pickle", "test_save_load", "test_multiple_device_transfer"]
    for check in checks:
        for dtype in DTYPES:
            for training in (True, False):
                active = info.get_decorators("TestModule", check, "cpu", dtype, {"training": training})
                active = [d for d in active if d is not skipMPS]  # skips on MPS only
                assert not active, f"{name}: {check} has CPU decorators {active}"
