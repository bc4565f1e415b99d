"""torch.nn's own module checks, run over rnnlab's drop-ins and, as a control, over torch.nn itself.

The checks follow PyTorch's ``test/test_modules.py`` (class ``TestModule``), run over the ``module_db``
entries of ``torch.testing._internal.common_modules`` for ``torch.nn.RNN``, ``torch.nn.GRU`` and
``torch.nn.LSTM`` (both BSD-3-Clause, PyTorch contributors). The samples, error cases and reference
functions are imported from the installed torch; the checks are re-expressed here for pytest, not
copied. Each ModuleInfo is copied with ``module_cls`` swapped (the sample functions of these entries
do not read it, but would get the class under test), and every module is built here from
``sample.constructor_input`` with that class: ``torch.nn``'s (the control, which must pass) or
rnnlab's. Ids read ``<impl>-<module>``: select one side with ``-k torch-`` or ``-k rnnlab-`` (plain
``-k torch`` also matches the ``torch_compat`` directory, so it selects everything).

Samples: the entries give 32 (RNN), 16 (GRU) and 32 (LSTM), varying the constructor options only.
Every sample runs in float32 train mode (for the costlier save/load, non-contiguous and memory-format
checks, those with batch_first=False: batch_first only transposes the input); in float64 and in eval
mode the "few" run (bidirectional, with biases, given a hidden state; batch_first, nonlinearity and
proj_size still vary), which keeps the whole file within seconds.

Upstream checks run here, CPU only, float32 and float64 (the entries' dtypes), train and eval mode
(upstream runs both for entries with ``train_and_eval_differ``):

- ``test_forward``: outputs against the sample's ``reference_fn`` (an unbatched input against a batch
  of one, same module), then ``.float()``/``.double()`` keep it working and on that dtype. Added
  here: the same outputs from a ``torch.nn`` twin loaded with the module's state dict.
- ``test_factory_kwargs``: ``device=``/``dtype=`` reach every parameter and buffer (added: the state
  dict keys are torch.nn's).
- ``test_multiple_device_transfer``: its CPU leg only (``.cpu()`` after use, forward again).
- ``test_repr``: ``repr``/``str`` work; added here: every item of torch.nn's ``extra_repr`` appears.
- ``test_pickle`` / ``test_save_load``: whole-module ``torch.save``/``torch.load`` and the state dict
  through ``weights_only=True`` into a fresh module give the same outputs; added here: state dicts
  load both ways between the module and its torch.nn twin.
- ``test_errors``: construction and forward errors, exception types and messages (all cases are
  tried and the misses listed together).
- ``test_non_contiguous_tensors``: non-contiguous inputs and/or output grads give the same outputs
  and input/parameter gradients.
- ``test_grad`` / ``test_gradgrad``: gradcheck / gradgradcheck in float64 with upstream's defaults
  (fast mode, batched grads), parameters perturbed in place as inputs. Fast tier: total derivative
  over inputs and parameters, the few samples, train mode. Slow: the other samples with biases and
  batch_first=False, eval mode on the few, partial derivatives grouped (inputs
  alone, parameters alone; upstream goes one parameter at a time) on the few, and gradgradcheck on one
  sample per module (batch_first, tanh, with projections for LSTM).
- ``test_memory_format``: the inputs are 2-D, so only the contiguous/preserve formats apply: same
  outputs and gradients, all contiguous.
- ``test_if_train_and_eval_modes_differ``: forward without the ``training`` attribute; if it is
  consulted, the entry must say ``train_and_eval_differ``. Added here: the entry's claim holds, dropout
  between layers gives different train and eval outputs.
- ``test_to`` (swapping tensors on conversion off and on,
  ``torch.__future__.set_swap_module_params_on_conversion``): ``.to(float64)`` keeps the parameter
  objects and converts their values and grads; forward matches the torch.nn twin.
- ``test_to_empty`` (swapping off and on): a module built on ``meta`` is materialised on CPU and,
  given a state dict, computes what the original does.
- ``test_device_ctx_init`` (CPU only upstream): built under ``torch.device("meta")``, parameters and
  buffers have the CPU-built ones' names, shapes, strides, dtypes and ``requires_grad``.
- ``load_state_dict`` with swapping on: skipped for both while torch.nn fails it (its RNNs' flat
  weights hold weakrefs to the parameters, which ``swap_tensors`` refuses); runs once torch.nn passes.

Left out: ``test_cpu_gpu_parity`` and the GPU legs of ``test_multiple_device_transfer`` (CUDA only);
``test_check_inplace`` (it selects modules taking ``inplace``; these do not); MPS/HPU variants and
``torch.compile``/dynamo runs. The entries' decorators are CUDA (cuDNN/MIOpen) expected failures and an
MPS skip; ``test_no_decorator_applies_on_cpu`` asserts that none of them acts on these CPU checks.
"""

from __future__ import annotations

import contextlib
import copy
import io
import re

import pytest
import torch
from torch import nn
from torch.testing._internal.common_device_type import skipMPS
from torch.testing._internal.common_modules import ModuleErrorEnum, module_db
from torch.testing._internal.common_utils import freeze_rng_state
from torch.utils._pytree import tree_flatten, tree_unflatten

import rnnlab

NAMES = ("RNN", "GRU", "LSTM")
IMPLS = {"torch": nn, "rnnlab": rnnlab}
INFOS = {info.module_cls.__name__: info for info in module_db if info.module_cls in (nn.RNN, nn.GRU, nn.LSTM)}
DTYPES = (torch.float32, torch.float64)
# (rtol, atol) when two computations should agree up to rounding
TOL = {torch.float32: (1e-4, 1e-5), torch.float64: (1e-7, 1e-9)}

# torch.nn's own run is the control that shows a check can pass: it runs in the full suite only
CASES = [
    pytest.param(impl, name, id=f"{impl}-{name}", marks=pytest.mark.slow if impl == "torch" else ())
    for impl in IMPLS
    for name in NAMES
]
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
modes = pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
cases = pytest.mark.parametrize("impl, name", CASES)


def _setup(impl, name):
    """The ModuleInfo with its class swapped for the one under test, and that class."""
    cls = getattr(IMPLS[impl], name)
    info = copy.copy(INFOS[name])
    info.module_cls = cls
    return info, cls


def _samples(info, dtype, requires_grad=False, training=True, few=None, batch_first=(False, True)):
    """The entry's samples with a forward input; ``few`` keeps only those ``_few`` picks.

    By default every sample in float32 train mode, and the few in the other dtype and mode (see the
    module docstring): the samples differ in constructor options, not in dtype or mode. Outside the
    few, ``batch_first`` may keep one layout only.
    """
    samples = info.module_inputs_func(info, device="cpu", dtype=dtype, requires_grad=requires_grad, training=training)
    samples = [s for s in samples if s.forward_input is not None]
    assert samples, "module_db gave no samples"
    if few is None:
        few = not (dtype == torch.float32 and training)
    if few:
        return _few(samples)
    return [s for s in samples if s.constructor_input.kwargs["batch_first"] in batch_first]


def _few(samples):
    """Bidirectional samples with biases, given a hidden state: batch_first, nonlinearity and proj_size vary."""
    picked = [
        s
        for s in samples
        if s.constructor_input.kwargs["bidirectional"]
        and s.constructor_input.kwargs["bias"]
        and len(s.forward_input.args) == 2
    ]
    assert picked
    return picked


def _build(cls, sample, dtype, training=True, **extra):
    m = cls(*sample.constructor_input.args, **{**sample.constructor_input.kwargs, **extra})
    m.to(dtype)
    m.train(training)
    return m


def _twin(name, sample, module):
    """A torch.nn module built from the same sample, holding ``module``'s state dict."""
    twin = getattr(nn, name)(*sample.constructor_input.args, **sample.constructor_input.kwargs)
    twin.to(next(module.parameters()).dtype)
    twin.load_state_dict(module.state_dict())
    twin.train(module.training)
    return twin


def _fwd(m, sample, args=None):
    args = sample.forward_input.args if args is None else args
    with freeze_rng_state():
        return m(*args, **sample.forward_input.kwargs)


def _close(actual, expected, dtype, **kw):
    rtol, atol = TOL[dtype]
    torch.testing.assert_close(actual, expected, rtol=kw.get("rtol", rtol), atol=kw.get("atol", atol))


def _tensors(obj):
    return [t for t in tree_flatten(obj)[0] if isinstance(t, torch.Tensor)]


def _map(fn, obj):
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_map(fn, o) for o in obj)
    if isinstance(obj, dict):
        return {k: _map(fn, v) for k, v in obj.items()}
    return obj


def _assert_placed(m, dtype, device="cpu"):
    items = [*m.named_parameters(), *m.named_buffers()]
    assert items, "module has no parameters"
    for key, t in items:
        assert t.device == torch.device(device), f"{key} on {t.device}"
        if t.dtype.is_floating_point:
            assert t.dtype == dtype, f"{key} is {t.dtype}, not {dtype}"


# test_forward
@cases
@dtypes
@modes
def test_forward(impl, name, dtype, training):
    info, cls = _setup(impl, name)
    for sample in _samples(info, dtype, training=training):
        m = _build(cls, sample, dtype, training)
        out = _fwd(m, sample)
        assert sample.reference_fn is not None
        with freeze_rng_state():
            ref = sample.reference_fn(m, *sample.forward_input.args, **sample.forward_input.kwargs)
        _close(out, ref, dtype)
        # added here: the same numbers as torch.nn with the same weights
        _close(out, _fwd(_twin(name, sample, m), sample), dtype)
        # .float() / .double() keep the module usable and on that dtype
        m.float() if dtype == torch.float32 else m.double()
        _close(_fwd(m, sample), out, dtype)
        _assert_placed(m, dtype)


# test_factory_kwargs
@cases
@dtypes
def test_factory_kwargs(impl, name, dtype):
    info, cls = _setup(impl, name)
    for sample in _samples(info, dtype):
        kwargs = {**sample.constructor_input.kwargs, "device": "cpu", "dtype": dtype}
        m = cls(*sample.constructor_input.args, **kwargs)
        _assert_placed(m, dtype)
        twin = getattr(nn, name)(*sample.constructor_input.args, **sample.constructor_input.kwargs)
        assert sorted(m.state_dict()) == sorted(twin.state_dict())


# test_multiple_device_transfer, CPU leg
@cases
@dtypes
def test_multiple_device_transfer_cpu(impl, name, dtype):
    info, cls = _setup(impl, name)
    fresh = _samples(info, dtype)
    for sample, again in zip(_samples(info, dtype), fresh, strict=True):
        m = _build(cls, sample, dtype)
        out = _fwd(m, sample)
        assert m.cpu() is m
        _assert_placed(m, dtype)
        _close(_fwd(m, sample), out, dtype)
        _fwd(m, again)  # new CPU inputs after the move
        _assert_placed(m, dtype)


# test_repr
@cases
@dtypes
@modes
def test_repr(impl, name, dtype, training):
    info, cls = _setup(impl, name)
    for sample in _samples(info, dtype, training=training):
        m = _build(cls, sample, dtype, training)
        text = repr(m)
        assert text == str(m)
        assert text.startswith(f"{type(m).__name__}(")
        # added here: nothing torch.nn shows is missing
        ours = m.extra_repr()
        for item in _twin(name, sample, m).extra_repr().split(", "):
            assert re.search(rf"(^|, ){re.escape(item)}(,|$)", ours), f"{item!r} missing from {ours!r}"


# test_pickle and test_save_load
@cases
@dtypes
@modes
def test_save_load(impl, name, dtype, training):
    info, cls = _setup(impl, name)
    for sample in _samples(info, dtype, training=training, batch_first=(False,)):
        m = _build(cls, sample, dtype, training)
        out = _fwd(m, sample)

        buf = io.BytesIO()
        torch.save(m, buf)
        buf.seek(0)
        whole = torch.load(buf, weights_only=False)
        assert type(whole) is type(m)
        _close(_fwd(whole, sample), out, dtype, rtol=0, atol=0)

        buf = io.BytesIO()
        torch.save(m.state_dict(), buf)
        buf.seek(0)
        state = torch.load(buf, weights_only=True)
        fresh = _build(cls, sample, dtype, training)
        fresh.load_state_dict(state)
        _close(_fwd(fresh, sample), out, dtype, rtol=0, atol=0)
        # added here: state dicts move both ways between rnnlab and torch.nn
        twin = getattr(nn, name)(*sample.constructor_input.args, **sample.constructor_input.kwargs).to(dtype)
        twin.load_state_dict(state)
        twin.train(training)
        _close(_fwd(twin, sample), out, dtype)
        fresh = _build(cls, sample, dtype, training)
        fresh.load_state_dict(twin.state_dict())
        _close(_fwd(fresh, sample), out, dtype, rtol=0, atol=0)


# test_errors
@cases
@dtypes
def test_errors(impl, name, dtype):
    info, cls = _setup(impl, name)
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


def _backward(m, args, grads):
    """Forward under a frozen RNG, backward with ``grads``; returns output, input grads, param grads."""
    leaves = _tensors(args)
    for t in [*leaves, *m.parameters()]:
        t.grad = None
    with freeze_rng_state():
        out = m(*args)
    outs = _tensors(out)
    torch.autograd.backward(outs, _tensors(grads))
    return out, [t.grad for t in leaves], [p.grad for p in m.parameters()]


def _non_contiguous(t):
    """Same values, every other element of a doubled last dimension: not contiguous."""
    if t.dim() == 0:
        return t
    out = t.detach().repeat_interleave(2, dim=-1)[..., ::2]
    assert not out.is_contiguous() or out.numel() <= 1
    return out.requires_grad_(t.requires_grad)


# test_non_contiguous_tensors
@cases
@dtypes
@modes
def test_non_contiguous_tensors(impl, name, dtype, training):
    info, cls = _setup(impl, name)
    for sample in _samples(info, dtype, requires_grad=True, training=training, batch_first=(False,)):
        m = _build(cls, sample, dtype, training)
        args = sample.forward_input.args
        with freeze_rng_state():
            grads = _map(lambda t: torch.randn_like(t), m(*args))
        ref_out, ref_in, ref_par = _backward(m, args, grads)
        for a, g in [(args, _map(_non_contiguous, grads)), (_map(_non_contiguous, args), grads)] + [
            (_map(_non_contiguous, args), _map(_non_contiguous, grads))
        ]:
            out, g_in, g_par = _backward(m, a, g)
            _close(out, ref_out, dtype)
            for x, y in zip(g_in, ref_in, strict=True):
                _close(x, y, dtype, rtol=0, atol=1e-4)
            for x, y in zip(g_par, ref_par, strict=True):
                _close(x, y, dtype)


def _gradcheck(m, sample, check, inputs=True, params=True):
    """gradcheck/gradgradcheck of ``m`` over the forward inputs and/or the parameters."""
    args = sample.forward_input.args
    flat_args, spec = tree_flatten(args)
    plist = list(m.parameters())
    saved = [t.requires_grad for t in [*flat_args, *plist] if isinstance(t, torch.Tensor)]
    for t in flat_args:
        if isinstance(t, torch.Tensor):
            t.requires_grad_(inputs)
    for p in plist:
        p.requires_grad_(params)

    def fn(*flat):  # the parameters are passed in as themselves: gradcheck perturbs them in place
        with freeze_rng_state():
            return tuple(_tensors(m(*tree_unflatten(list(flat[: len(flat_args)]), spec))))

    try:
        return check(fn, (*flat_args, *plist), fast_mode=True, check_batched_grad=True)
    finally:
        for t, r in zip([t for t in [*flat_args, *plist] if isinstance(t, torch.Tensor)], saved, strict=True):
            t.requires_grad_(r)


# test_grad: total derivative over inputs and parameters, train mode, the few samples
@cases
def test_grad(impl, name):
    info, cls = _setup(impl, name)
    for sample in _samples(info, torch.float64, requires_grad=True, training=True, few=True):
        m = _build(cls, sample, torch.float64, True)
        assert _gradcheck(m, sample, torch.autograd.gradcheck)


# test_grad: the same over the other samples with biases, batch_first=False
@pytest.mark.slow
@cases
def test_grad_other_samples(impl, name):
    info, cls = _setup(impl, name)
    few = _samples(info, torch.float64, requires_grad=True, training=True, few=True)
    keys = {(repr(s.constructor_input.kwargs), len(s.forward_input.args)) for s in few}
    rest = [  # batch_first only transposes the input: the few cover it
        s
        for s in _samples(info, torch.float64, requires_grad=True, training=True, few=False)
        if (repr(s.constructor_input.kwargs), len(s.forward_input.args)) not in keys
        and not s.constructor_input.kwargs["batch_first"]
        and s.constructor_input.kwargs["bias"]  # without biases, only terms fewer
    ]
    assert rest
    for sample in rest:
        m = _build(cls, sample, torch.float64, True)
        assert _gradcheck(m, sample, torch.autograd.gradcheck)


# test_grad: eval mode, and partial derivatives in train mode (inputs alone, parameters alone), the few
@pytest.mark.slow
@cases
@modes
def test_grad_partial(impl, name, training):
    info, cls = _setup(impl, name)
    for sample in _samples(info, torch.float64, requires_grad=True, training=training, few=True):
        m = _build(cls, sample, torch.float64, training)
        if not training:
            assert _gradcheck(m, sample, torch.autograd.gradcheck)
        else:
            assert _gradcheck(m, sample, torch.autograd.gradcheck, params=False)
            assert _gradcheck(m, sample, torch.autograd.gradcheck, inputs=False)


# test_gradgrad: one sample of each module, batch_first, tanh for RNN, with projections for LSTM
@pytest.mark.slow
@cases
def test_gradgrad(impl, name):
    info, cls = _setup(impl, name)
    assert INFOS[name].supports_gradgrad
    samples = _samples(info, torch.float64, requires_grad=True, training=True, few=True)
    picked = [
        s
        for s in samples
        if s.constructor_input.kwargs["batch_first"]
        and s.constructor_input.kwargs.get("nonlinearity", "tanh") == "tanh"
        and s.constructor_input.kwargs.get("proj_size", 1) > 0
    ]
    assert len(picked) == 1
    m = _build(cls, picked[0], torch.float64, True)
    assert _gradcheck(m, picked[0], torch.autograd.gradgradcheck)


# test_memory_format
@cases
@dtypes
@modes
def test_memory_format(impl, name, dtype, training):
    info, cls = _setup(impl, name)
    for sample in _samples(info, dtype, requires_grad=True, training=training, batch_first=(False,)):
        args = sample.forward_input.args
        assert all(t.dim() < 4 for t in _tensors(args))  # no channels_last formats to try
        m = _build(cls, sample, dtype, training)
        ref = _fwd(m, sample)
        grads = _map(torch.rand_like, ref)
        ref_grads = torch.autograd.grad(_tensors(ref), [*_tensors(args), *m.parameters()], _tensors(grads))
        for module_format in (torch.preserve_format, torch.contiguous_format):
            m.to(memory_format=module_format)
            a = _map(lambda t: t.detach().clone(memory_format=torch.contiguous_format).requires_grad_(), args)
            out = _fwd(m, sample, a)
            _close(out, ref, dtype)
            assert all(t.is_contiguous() for t in _tensors(out))
            got = torch.autograd.grad(_tensors(out), [*_tensors(a), *m.parameters()], _tensors(grads))
            _close(got, ref_grads, dtype)
            assert all(t.is_contiguous() for t in got)


# test_if_train_and_eval_modes_differ
@cases
def test_if_train_and_eval_modes_differ(impl, name):
    info, cls = _setup(impl, name)
    for sample in _samples(info, torch.float32, training=True):
        m = _build(cls, sample, torch.float32, True)
        del m.training
        try:
            _fwd(m, sample)
        except AttributeError as e:
            if "'training'" not in str(e):
                raise
            assert info.train_and_eval_differ, f"{name} reads self.training but its entry says modes don't differ"
    # added here: the entry's train_and_eval_differ=True holds: dropout between layers acts in training only
    assert info.train_and_eval_differ
    sample = _samples(info, torch.float32, training=True)[0]
    m = _build(cls, sample, torch.float32, True, dropout=0.5)
    x = torch.randn(20, 4, 2)
    if m.batch_first:
        x = x.transpose(0, 1)
    torch.manual_seed(1)
    train_out = m(x)[0]
    m.eval()
    eval_out = m(x)[0]
    assert not torch.allclose(train_out, eval_out)
    torch.testing.assert_close(m(x)[0], eval_out, rtol=0, atol=0)


@contextlib.contextmanager
def _swapping(swap):
    """Module conversions swap tensors in (``swap_tensors``) or assign ``.data``, as asked, then as before."""
    before = torch.__future__.get_swap_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(swap)
    try:
        yield
    finally:
        torch.__future__.set_swap_module_params_on_conversion(before)


# test_to (swapping on for the conversion only: see test_load_state_dict_swapping)
@cases
@pytest.mark.parametrize("swap", [False, True], ids=["assign", "swap"])
def test_to(impl, name, swap):
    info, cls = _setup(impl, name)
    for sample in _samples(info, torch.float32):
        m = _build(cls, sample, torch.float32)
        params = list(m.parameters())
        for p in params:
            p.grad = torch.randn_like(p)
        values = [(p.detach().clone(), p.grad.clone()) for p in params]
        with _swapping(swap):
            assert m.to(torch.float64) is m
        after = list(m.parameters())
        assert len(after) == len(params) and all(a is b for a, b in zip(after, params, strict=True))
        for p, (v, g) in zip(after, values, strict=True):
            assert isinstance(p, nn.Parameter) and p.dtype == torch.float64 and p.requires_grad
            assert p.grad.dtype == torch.float64
            torch.testing.assert_close(p.detach(), v.double(), rtol=0, atol=0)
            torch.testing.assert_close(p.grad, g.double(), rtol=0, atol=0)
        _assert_placed(m, torch.float64)
        args = _map(lambda t: t.double(), sample.forward_input.args)
        out = _fwd(m, sample, args)
        assert all(t.dtype == torch.float64 for t in _tensors(out))
        _close(out, _fwd(_twin(name, sample, m), sample, args), torch.float64)


# test_to_empty
@cases
@pytest.mark.parametrize("swap", [False, True], ids=["assign", "swap"])
def test_to_empty(impl, name, swap):
    info, cls = _setup(impl, name)
    for sample in _samples(info, torch.float32):
        with torch.device("meta"):
            m = _build(cls, sample, torch.float32)
        assert all(p.is_meta for p in m.parameters())
        with _swapping(swap):
            assert m.to_empty(device="cpu") is m
        _assert_placed(m, torch.float32)
        assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())
        source = _build(cls, sample, torch.float32)
        m.load_state_dict(source.state_dict())
        _close(_fwd(m, sample), _fwd(source, sample), torch.float32, rtol=0, atol=0)


# The swap_tensors leg of test_to / test_to_empty, for load_state_dict: torch.nn's RNNs fail it on this
# torch (their flat weights hold weakrefs to the parameters, which swap_tensors refuses), so it is skipped
# for both implementations while torch.nn fails it, and run for both once torch.nn passes.
@cases
def test_load_state_dict_swapping(impl, name):
    info, cls = _setup(impl, name)
    sample = _samples(info, torch.float32, few=True)[0]

    def attempt(kind):
        m, source = _build(kind, sample, torch.float32), _build(kind, sample, torch.float32)
        params = list(m.parameters())
        with _swapping(True):
            m.load_state_dict(source.state_dict())
        assert all(a is b for a, b in zip(m.parameters(), params, strict=True))
        _close(_fwd(m, sample), _fwd(source, sample), torch.float32, rtol=0, atol=0)

    try:
        attempt(getattr(nn, name))
    except RuntimeError as e:
        why = re.search(r"exception occurred : \('(.+?)',\)", str(e))
        pytest.skip(f"torch.nn.{name} fails it too: {why.group(1) if why else e}")
    attempt(cls)


# test_device_ctx_init
@cases
@dtypes
def test_device_ctx_init(impl, name, dtype):
    info, cls = _setup(impl, name)
    for sample in _samples(info, dtype):
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


# The entries' decorators (expected failures, skips) must not apply to the CPU checks above, or this
# driver would have to honour them. LSTM's unconditional skipMPS only acts on MPS devices.
@pytest.mark.parametrize("name", NAMES, ids=[f"torch-{n}-entry" for n in NAMES])
def test_no_decorator_applies_on_cpu(name):
    info = INFOS[name]
    checks = [n for n, v in globals().items() if n.startswith("test_") and callable(v)]
    checks += ["test_grad", "test_gradgrad", "test_pickle", "test_save_load", "test_multiple_device_transfer"]
    for check in checks:
        for dtype in DTYPES:
            for training in (True, False):
                active = info.get_decorators("TestModule", check, "cpu", dtype, {"training": training})
                active = [d for d in active if d is not skipMPS]  # skips on MPS only
                assert not active, f"{name}: {check} has CPU decorators {active}"
