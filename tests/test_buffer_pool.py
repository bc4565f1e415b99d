"""The compiled loops' pool of buffers above 32 MiB (``csrc/pool.cpp``): a buffer is handed out
again only once nothing holds it, and results stay those of ``torch.nn``."""

import resource

import pytest
import torch
from torch import nn

from rnnlab import Recurrent
from rnnlab.runtime import keep_large_allocations

# cell -> (torch.nn twin, hidden size, batch): shapes whose per-call buffer passes 32 MiB over 128
# steps (the gates of an LSTM or GRU, the pre-activation gradient of an Elman RNN)
SHAPES = {"lstm": (nn.LSTM, 256, 64), "gru": (nn.GRU, 352, 64), "rnn-tanh": (nn.RNN, 512, 128)}
T, D = 128, 8


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def test_a_large_buffer_is_reused_once_released_and_never_while_held(compiled_loops):
    compiled = compiled_loops
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
    # a fresh 33.5 MB buffer takes 8,192 pages; the 8 MiB state buffers (2,048 pages each) come
    # from the heap, which may have to fault one of them in again
    assert _faults() - before < 6000
    assert third.untyped_storage().data_ptr() != second.untyped_storage().data_ptr()
    assert torch.equal(third, second)


def test_a_buffer_made_under_inference_mode_never_reaches_autograd(compiled_loops):
    """An inference-mode call (a train-mode stack with dropout skips the forward-only path) must
    not leave an inference tensor in the pool for a later training call to save for backward."""
    torch.manual_seed(2)
    layer = Recurrent("lstm", D, 256, num_layers=2, dropout=0.1, path="bptt").train()
    x = torch.randn(T, 64, D)
    with torch.inference_mode():
        layer(x)
    out, _ = layer(x)
    out.sum().backward()  # raised "Inference tensors cannot be saved for backward"
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in layer.parameters())


@pytest.mark.parametrize("cell", list(SHAPES))
def test_two_graphs_alive_at_once_and_a_second_round_equal_torch_nn(compiled_loops, cell):
    twin_cls, H, B = SHAPES[cell]
    torch.manual_seed(1)
    twin = twin_cls(D, H)
    ours = Recurrent(cell, D, H, path="bptt")
    ours.load_state_dict(twin.state_dict())
    xs = [torch.randn(T, B, D) for _ in range(2)]
    rounds = []
    for _ in range(2):  # the second round runs on the pool's buffers
        grads = []
        for module in (twin, ours):
            first, second = (module(x)[0] for x in xs)  # both graphs hold their buffers
            loss = (first * torch.cos(first)).sum() + 2 * second.sum()
            grads.append(torch.autograd.grad(loss, list(module.parameters())))
        for a, b in zip(*grads, strict=True):  # sums over 8,000 rows of steps: relative to the size
            assert (b - a).norm() <= 1e-4 * a.norm() + 1e-5
        rounds.append(grads[1])
    for a, b in zip(*rounds, strict=True):  # the same arithmetic on reused buffers: the same bits
        assert torch.equal(a, b)
