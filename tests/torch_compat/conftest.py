"""The ``nn_impl`` fixture of tests/torch_compat.

The tests in this folder follow the RNN / LSTM / GRU tests of PyTorch's ``test/test_nn.py``
(BSD-3-Clause licence, copyright PyTorch contributors). Their checks are re-expressed here in
our own code, not copied, and every test runs once against ``torch.nn``'s modules and once
against each of rnnlab's paths (see ``paths.py``), swapped in through ``nn_impl``.

The fixture hands out classes (rnnlab's, or subclasses fixed on a path; no wrappers), so ``isinstance`` and subclass
checks see the real thing. rnnlab's LSTM starts its forget-gate bias at 1.0 rather than
PyTorch's draw: the tests never depend on initial values, they copy weights between modules or
check shapes, errors and behaviour.
"""

import types

import pytest

from tests.torch_compat.paths import IMPLS, TIER


@pytest.fixture(params=[pytest.param(name, marks=TIER[name]) for name in IMPLS])
def nn_impl(request):
    """A namespace with ``RNN``, ``LSTM`` and ``GRU`` of one implementation (and its ``name``)."""
    classes = IMPLS[request.param]
    return types.SimpleNamespace(name=request.param, RNN=classes.RNN, LSTM=classes.LSTM, GRU=classes.GRU)
