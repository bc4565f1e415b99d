"""torch.nn's own module checks, run over rnnlab's drop-ins and, as a control, over torch.nn itself.

The shared part of ``test_module_db.py`` (forward, factory kwargs, device transfer, repr, save/load,
errors, non-contiguous inputs, memory format, device context) and ``test_module_db_grad.py`` (gradients,
train/eval modes, ``to``/``to_empty`` and swapping): the entries, the parametrizations and the helpers.

The checks follow PyTorch's ``test/test_modules.py`` (class ``TestModule``), run over the ``module_db``
entries of ``torch.testing._internal.common_modules`` for ``torch.nn.RNN``, ``torch.nn.GRU`` and
``torch.nn.LSTM`` (both BSD-3-Clause, PyTorch contributors). The samples, error cases and reference
functions are imported from the installed torch; the checks are re-expressed in those two files for
pytest, not copied. Each ModuleInfo is copied with ``module_cls`` swapped (the sample functions of these entries
do not read it, but would get the class under test), and every module is built by ``build`` from
``sample.constructor_input`` with that class: ``torch.nn``'s (the control, which must pass) or
rnnlab's. Ids read ``<impl>-<module>``: select one side with ``-k torch-`` or ``-k rnnlab-`` (plain
``-k torch`` also matches the ``torch_compat`` directory, so it selects everything).

Samples: the entries give 32 (RNN), 16 (GRU) and 32 (LSTM), varying the constructor options only.
Every sample runs in float32 train mode (for the costlier save/load, non-contiguous and memory-format
checks, those with batch_first=False: batch_first only transposes the input); in float64 and in eval
mode the "few" run (bidirectional, with biases, given a hidden state; batch_first, nonlinearity and
proj_size still vary), which keeps the whole run within seconds.

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

import pytest
import torch
from torch import nn
from torch.testing._internal.common_modules import module_db
from torch.testing._internal.common_utils import freeze_rng_state
from torch.utils._pytree import tree_flatten, tree_unflatten

from tests.torch_compat.paths import IMPLS, TIER, on_bptt

NAMES = ("RNN", "GRU", "LSTM")
INFOS = {info.module_cls.__name__: info for info in module_db if info.module_cls in (nn.RNN, nn.GRU, nn.LSTM)}
DTYPES = (torch.float32, torch.float64)
# (rtol, atol) when two computations should agree up to rounding
TOL = {torch.float32: (1e-4, 1e-5), torch.float64: (1e-7, 1e-9)}

CASES = [pytest.param(impl, name, id=f"{impl}-{name}", marks=TIER[impl]) for impl in IMPLS for name in NAMES]
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
modes = pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
cases = pytest.mark.parametrize("impl, name", CASES)


def setup_case(impl, name):
    """The ModuleInfo with its class swapped for the one under test, and that class."""
    cls = getattr(IMPLS[impl], name)
    info = copy.copy(INFOS[name])
    info.module_cls = cls
    return info, cls


def samples(info, dtype, requires_grad=False, training=True, few=None, batch_first=(False, True)):
    """The entry's samples with a forward input; ``few`` keeps only those ``pick_few`` picks.

    By default every sample in float32 train mode, and the few in the other dtype and mode (see the
    module docstring): the samples differ in constructor options, not in dtype or mode. Outside the
    few, ``batch_first`` may keep one layout only.
    """
    found = info.module_inputs_func(info, device="cpu", dtype=dtype, requires_grad=requires_grad, training=training)
    found = [s for s in found if s.forward_input is not None]
    assert found, "module_db gave no samples"
    if few is None:
        few = not (dtype == torch.float32 and training)
    if few:
        return pick_few(found)
    return [s for s in found if s.constructor_input.kwargs["batch_first"] in batch_first]


def pick_few(samples):
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


def build(cls, sample, dtype, training=True, **extra):
    m = cls(*sample.constructor_input.args, **{**sample.constructor_input.kwargs, **extra})
    m.to(dtype)
    m.train(training)
    return m


def nn_twin(name, sample, module):
    """A torch.nn module built from the same sample, holding ``module``'s state dict."""
    twin = getattr(nn, name)(*sample.constructor_input.args, **sample.constructor_input.kwargs)
    twin.to(next(module.parameters()).dtype)
    twin.load_state_dict(module.state_dict())
    twin.train(module.training)
    return twin


def fwd(m, sample, args=None):
    args = sample.forward_input.args if args is None else args
    with freeze_rng_state():
        return m(*args, **sample.forward_input.kwargs)


def close(actual, expected, dtype, **kw):
    rtol, atol = TOL[dtype]
    torch.testing.assert_close(actual, expected, rtol=kw.get("rtol", rtol), atol=kw.get("atol", atol))


def tensors(obj):
    return [t for t in tree_flatten(obj)[0] if isinstance(t, torch.Tensor)]


def map_tensors(fn, obj):
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(map_tensors(fn, o) for o in obj)
    if isinstance(obj, dict):
        return {k: map_tensors(fn, v) for k, v in obj.items()}
    return obj


def assert_placed(m, dtype, device="cpu"):
    items = [*m.named_parameters(), *m.named_buffers()]
    assert items, "module has no parameters"
    for key, t in items:
        assert t.device == torch.device(device), f"{key} on {t.device}"
        if t.dtype.is_floating_point:
            assert t.dtype == dtype, f"{key} is {t.dtype}, not {dtype}"


def backward(m, args, grads):
    """Forward under a frozen RNG, backward with ``grads``; returns output, input grads, param grads."""
    leaves = tensors(args)
    for t in [*leaves, *m.parameters()]:
        t.grad = None
    with freeze_rng_state():
        out = m(*args)
    outs = tensors(out)
    torch.autograd.backward(outs, tensors(grads))
    return out, [t.grad for t in leaves], [p.grad for p in m.parameters()]


def non_contiguous(t):
    """Same values, every other element of a doubled last dimension: not contiguous."""
    if t.dim() == 0:
        return t
    out = t.detach().repeat_interleave(2, dim=-1)[..., ::2]
    assert not out.is_contiguous() or out.numel() <= 1
    return out.requires_grad_(t.requires_grad)


def gradcheck_module(m, sample, check, inputs=True, params=True):
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
            return tuple(tensors(m(*tree_unflatten(list(flat[: len(flat_args)]), spec))))

    try:
        return check(fn, (*flat_args, *plist), fast_mode=True, check_batched_grad=not on_bptt(m))
    finally:
        for t, r in zip([t for t in [*flat_args, *plist] if isinstance(t, torch.Tensor)], saved, strict=True):
            t.requires_grad_(r)


@contextlib.contextmanager
def swapping(swap):
    """Module conversions swap tensors in (``swap_tensors``) or assign ``.data``, as asked, then as before."""
    before = torch.__future__.get_swap_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(swap)
    try:
        yield
    finally:
        torch.__future__.set_swap_module_params_on_conversion(before)
