"""The compiled loops' pool of buffers above 32 MiB (``csrc/pool.cpp``): a buffer is handed out
again only once nothing holds it, and results stay those of ``torch.nn``."""

import resource

import pytest
import torch
from torch import nn

from rnnlab import Recurrent
from rnnlab.bptt import native
from rnnlab.runtime import keep_large_allocations

# cell -> (torch.nn twin, hidden size, batch): shapes whose per-call buffer passes 32 MiB over 128
# steps (the gates of an LSTM or GRU, the pre-activation gradient of an Elman RNN)
SHAPES = {"lstm": (nn.LSTM, 256, 64), "gru": (nn.GRU, 352, 64), "rnn-tanh": (nn.RNN, 512, 128)}
T, D = 128, 8


def _compiled():
    compiled = native.loops(torch.zeros(1)) if native.ready() else None
    if compiled is None:
        pytest.skip("the compiled loops are not built here")
    return compiled


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def test_a_large_buffer_is_reused_once_released_and_never_while_held():
    compiled = _compiled()
    keep_large_allocations()  # as the command line does: the smaller buffers come from the heap
    torch.manual_seed(0)
    B, H = 64, 256  # gates: 128 x 64 x 1024 floats, 33.5 MB
    u, h0, c0 = torch.randn(T, B, 4 * H), torch.zeros(B, H), torch.zeros(B, H)
    w = torch.randn(4 * H, H) * 0.05

    def gates():
        return compiled.lstm_forward(u, h0, c0, w, None, None, 0, 1)[0]

    first, second = gates(), gates()  # both held: two buffers
    assert first.untyped_storage().data_ptr() != second.untyped_storage().data_ptr()
    assert torch.equal(first, second)
    del first
    gates()  # warm: whatever it allocates besides the gates comes from the heap from now on
    before = _faults()
    third = gates()
    assert _faults() - before < 2048  # 8,192 pages for a fresh 33.5 MB buffer
    assert third.untyped_storage().data_ptr() != second.untyped_storage().data_ptr()
    assert torch.equal(third, second)


@pytest.mark.parametrize("cell", list(SHAPES))
def test_two_graphs_alive_at_once_and_a_second_round_equal_torch_nn(cell):
    _compiled()
    twin_cls, H, B = SHAPES[cell]
    torch.manual_seed(1)
    twin = twin_cls(D, H)
    ours = Recurrent(cell, D, H, path="bptt")
    ours.load_state_dict(twin.state_dict())
    xs = [torch.randn(T, B, D) for _ in range(2)]
    for _ in range(2):  # the second round runs on the pool's buffers
        grads = []
        for module in (twin, ours):
            first, second = (module(x)[0] for x in xs)  # both graphs hold their buffers
            loss = (first * torch.cos(first)).sum() + 2 * second.sum()
            grads.append(torch.autograd.grad(loss, list(module.parameters())))
        for a, b in zip(*grads, strict=True):
            torch.testing.assert_close(b, a, atol=2e-4, rtol=1e-4)
