"""The ``nn_impl`` fixture of tests/torch_compat.

The tests in this folder follow the RNN / LSTM / GRU tests of PyTorch's ``test/test_nn.py``
(BSD-3-Clause licence, copyright PyTorch contributors). Their checks are re-expressed here in
our own code, not copied, and every test runs twice: once against ``torch.nn``'s modules, once
against rnnlab's drop-in replacements, swapped in through ``nn_impl``.

The fixture hands out the classes themselves (no wrappers), so ``isinstance`` and subclass
checks see the real thing. rnnlab's LSTM starts its forget-gate bias at 1.0 rather than
PyTorch's draw: the tests never depend on initial values, they copy weights between modules or
check shapes, errors and behaviour.
"""

import types

import pytest
import torch


# torch.nn's own run is the control that shows a test can pass: it runs in the full suite only
@pytest.fixture(params=[pytest.param("torch", marks=pytest.mark.slow), "rnnlab"])
def nn_impl(request):
    """A namespace with ``RNN``, ``LSTM`` and ``GRU`` of one implementation (and its ``name``)."""
    if request.param == "torch":
        source = torch.nn
    else:
        import rnnlab as source
    return types.SimpleNamespace(name=request.param, RNN=source.RNN, LSTM=source.LSTM, GRU=source.GRU)
