"""The standard cells on explicit BPTT against torch.nn, and ``path="auto"``'s measured choice."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab import Recurrent, path_choice
from rnnlab.bptt import common, native
from rnnlab.bptt.gru import GRUSequence

TWINS = {  # cell -> torch.nn class and options
    "lstm": (nn.LSTM, {}),
    "gru": (nn.GRU, {}),
    "rnn-tanh": (nn.RNN, {"nonlinearity": "tanh"}),
    "rnn-relu": (nn.RNN, {"nonlinearity": "relu"}),
    "irnn": (nn.RNN, {"nonlinearity": "relu"}),
}
TOL = {torch.float64: {"atol": 1e-10, "rtol": 1e-8}, torch.float32: {"atol": 2e-5, "rtol": 1e-4}}


def _pair(cell, D, H, layers, bidirectional, dtype, bias=True):
    twin_cls, kw = TWINS[cell]
    twin = twin_cls(D, H, layers, bidirectional=bidirectional, bias=bias, **kw).to(dtype)
    ours = Recurrent(cell, D, H, layers, bidirectional=bidirectional, path="bptt", bias=bias, dtype=dtype)
    ours.load_state_dict(twin.state_dict())
    if cell == "irnn":  # its own initialisation would leave the ReLU unit quiet; any weights do
        with torch.no_grad():
            for p in ours.parameters():
                p.uniform_(-0.4, 0.4)
        twin.load_state_dict(ours.state_dict())
    return twin, ours


def _compare(cell, x, lengths, twin, ours, hx, dtype):
    """Outputs, final states and the gradients of x, the initial state and every weight."""
    T = x.shape[0]
    results = []
    for module in (twin, ours):
        h = hx if cell == "lstm" else hx[0]
        if module is twin and lengths is not None:
            packed, state = module(pack_padded_sequence(x, lengths, enforce_sorted=False), h)
            out = pad_packed_sequence(packed, total_length=T)[0]
        elif module is twin:
            out, state = module(x, h)
        else:
            out, state = module(x, hx, lengths=lengths)
        state = state if isinstance(state, tuple) else (state,)
        weights = torch.cos(torch.arange(out.numel(), dtype=dtype)).view_as(out)
        loss = (out * weights).sum() + sum((s * s).sum() for s in state)
        grads = torch.autograd.grad(loss, [x, *hx, *module.parameters()])
        results.append([out, *state, *grads])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(b, a, **TOL[dtype])


@pytest.mark.parametrize("cell", list(TWINS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("layers, bidirectional, padded", [(1, False, False), (2, True, True), (2, False, True)])
def test_bptt_equals_torch_nn(cell, dtype, layers, bidirectional, padded):
    torch.manual_seed(1)
    T, B, D, H = 7, 3, 4, 6
    twin, ours = _pair(cell, D, H, layers, bidirectional, dtype)
    x = torch.randn(T, B, D, dtype=dtype, requires_grad=True)
    rows = layers * (2 if bidirectional else 1)
    hx = tuple(torch.randn(rows, B, H, dtype=dtype, requires_grad=True) for _ in range(2 if cell == "lstm" else 1))
    lengths = torch.tensor([7, 3, 5]) if padded else None
    _compare(cell, x, lengths, twin, ours, hx, dtype)


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn-tanh"])
def test_bptt_without_bias_and_on_non_contiguous_input(cell):
    torch.manual_seed(2)
    T, B, D, H = 5, 2, 3, 4
    twin, ours = _pair(cell, D, H, 1, False, torch.float32, bias=False)
    wide = torch.randn(B, T, 2 * D)  # time-major view of a batch-major tensor, every second feature
    x = wide.transpose(0, 1)[:, :, ::2].requires_grad_()
    assert not x.is_contiguous()
    hx = tuple(torch.randn(1, B, H, requires_grad=True) for _ in range(2 if cell == "lstm" else 1))
    _compare(cell, x, None, twin, ours, hx, torch.float32)


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn-tanh"])
@pytest.mark.parametrize("blocks", [None, 2])
def test_batch_of_one_and_of_none(cell, blocks, monkeypatch):
    monkeypatch.setattr(common, "ROW_BLOCKS", blocks)
    twin, ours = _pair(cell, 3, 4, 2, True, torch.float32)
    hx = tuple(torch.randn(4, 1, 4, requires_grad=True) for _ in range(2 if cell == "lstm" else 1))
    _compare(cell, torch.randn(6, 1, 3, requires_grad=True), None, twin, ours, hx, torch.float32)
    empty = torch.randn(6, 0, 3, requires_grad=True)
    out, state = ours(empty)
    assert out.shape == (6, 0, 8) and state[0].shape == (4, 0, 4)
    out.sum().backward()
    assert empty.grad.shape == empty.shape


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh", "rnn-relu"])
@pytest.mark.parametrize("layers, bidirectional, padded", [(1, False, False), (2, True, True)])
def test_row_blocks_equal_torch_nn(compiled_loops, cell, layers, bidirectional, padded, monkeypatch):
    """The compiled loops with the batch split into row blocks, each running the whole time loop
    (side by side on several threads, one after another on one): outputs, states, every gradient."""
    monkeypatch.setattr(common, "ROW_BLOCKS", 3)  # 5 rows: blocks of 1, 2 and 2
    torch.manual_seed(6)
    T, B, D, H = 6, 5, 4, 8
    twin, ours = _pair(cell, D, H, layers, bidirectional, torch.float32)
    x = torch.randn(T, B, D, requires_grad=True)
    rows = layers * (2 if bidirectional else 1)
    hx = tuple(torch.randn(rows, B, H, requires_grad=True) for _ in range(2 if cell == "lstm" else 1))
    lengths = torch.tensor([6, 2, 5, 6, 1]) if padded else None
    _compare(cell, x, lengths, twin, ours, hx, torch.float32)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_row_blocks_on_a_packed_sequence(compiled_loops, cell, monkeypatch):
    monkeypatch.setattr(common, "ROW_BLOCKS", 2)
    torch.manual_seed(7)
    twin, ours = _pair(cell, 3, 5, 2, True, torch.float32)
    x = torch.randn(5, 4, 3)
    packed = pack_padded_sequence(x, torch.tensor([5, 3, 4, 1]), enforce_sorted=False)
    results = []
    for module in (twin, ours):
        out, state = module(packed)
        state = state if isinstance(state, tuple) else (state,)
        padded = pad_packed_sequence(out)[0]
        results.append([padded, *state, *torch.autograd.grad(padded.square().sum(), list(module.parameters()))])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(b, a, **TOL[torch.float32])


@pytest.mark.parametrize("cell", ["lstm-1997", "lstm-cifg", "lstm-peephole"])
def test_row_blocks_equal_one_block_for_the_lstm_family(compiled_loops, cell, monkeypatch):
    torch.manual_seed(8)
    layer = Recurrent(cell, 3, 6, path="bptt")
    x = torch.randn(7, 5, 3, requires_grad=True)

    def run(blocks):
        monkeypatch.setattr(common, "ROW_BLOCKS", blocks)
        out, state = layer(x)
        loss = (out * out.detach().cos()).sum() + sum(s.sum() for s in state)
        return [out, *state, *torch.autograd.grad(loss, [x, *layer.parameters()])]

    for a, b in zip(run(1), run(2), strict=True):
        torch.testing.assert_close(b, a, **TOL[torch.float32])


def test_row_blocks_follow_the_threads_and_the_weight(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    w = torch.empty(4 * 256, 256)  # 1 MiB: an LSTM of 256 units
    assert common.row_blocks(32, w) == 2 and common.row_blocks(common.MIN_BLOCK_ROWS, w) == 1
    assert common.row_blocks(1, w) == 1 and common.row_blocks(0, w) == 1
    assert common.row_blocks(32, torch.empty(4 * 512, 512)) == 1  # 4 MiB: past a core's L2
    assert common.row_blocks(32, torch.empty(4 * 256, 256, dtype=torch.float64)) == 1
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert common.row_blocks(128, w) == 1


def test_gru_sequence_passes_gradcheck():
    torch.manual_seed(3)
    T, B, H = 5, 2, 3
    args = [
        torch.randn(T, B, 3 * H, dtype=torch.float64, requires_grad=True),  # u: the input side
        torch.randn(B, H, dtype=torch.float64, requires_grad=True),  # h0
        torch.randn(3 * H, H, dtype=torch.float64, requires_grad=True),  # W_hh
        torch.randn(H, dtype=torch.float64, requires_grad=True),  # b_hn
    ]
    assert torch.autograd.gradcheck(GRUSequence.apply, args)
    layer = Recurrent("gru", 2, 3, num_layers=2, bidirectional=True, path="bptt", dtype=torch.float64)
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: layer(x, lengths=torch.tensor([4, 2]))[0], [x])


def test_compiled_gru_loops_equal_the_pytorch_loops(compiled_loops, monkeypatch):
    torch.manual_seed(4)
    layer = Recurrent("gru", 5, 16, path="bptt")
    x = torch.randn(9, 4, 5, requires_grad=True)

    def run():
        out, (h,) = layer(x)
        return [out, h, *torch.autograd.grad((out * out.detach().cos()).sum() + h.sum(), [x, *layer.parameters()])]

    compiled = run()
    monkeypatch.setattr(native, "enabled", False)
    for a, b in zip(compiled, run(), strict=True):
        torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4)


def test_auto_reports_its_choice_and_keeps_tiny_shapes_fused():
    layer = Recurrent("gru", 3, 4)
    assert layer.resolved_path() == "fused"
    layer(torch.randn(5, 2, 3))
    assert layer.resolved_path() == "fused"  # far below MIN_WORK: not worth a measurement


def test_auto_times_both_paths_once_without_side_effects(compiled_loops, monkeypatch):
    path_choice.forget()
    torch.manual_seed(5)
    layer = Recurrent("lstm", 8, 64, dropout=0.5, num_layers=2)  # dropout: the timing must not draw
    x = torch.randn(64, 16, 8)
    assert path_choice.worth_timing(64, 16, 4 * 64 * 2, torch.float32, torch.device("cpu"))
    rng = torch.get_rng_state()
    with torch.no_grad():
        layer.eval()
        choice = layer.resolved_path(64, 16)
        layer.train()
    assert torch.equal(rng, torch.get_rng_state())
    assert choice in ("fused", "bptt") and layer.resolved_path() == choice
    out, _ = layer(x)  # training mode, with gradients: a second decision
    assert layer.resolved_path() in ("fused", "bptt")
    assert all(p.grad is None for p in layer.parameters())
    decided = path_choice.decisions()
    assert len(decided) == 2 and {k[-2:] for k in decided} == {(False, False), (True, True)}  # (grad, training)
    for path, seconds in decided.values():
        assert set(seconds) == {"fused", "bptt"} and path in seconds
    layer(x)
    assert len(path_choice.decisions()) == 2  # cached, not timed again
    with torch.no_grad():
        layer(x)  # training mode (dropout between the layers) without gradients: timed on its own
    assert {k[-2:] for k in path_choice.decisions()} == {(False, False), (True, True), (False, True)}
    with torch.autocast("cpu", dtype=torch.bfloat16):  # explicit BPTT would be the step loop there
        assert Recurrent("gru", 8, 64).resolved_path(64, 16) == "fused"
    monkeypatch.setenv("RNNLAB_AUTO_TIMING", "0")
    assert Recurrent("gru", 8, 64).resolved_path(64, 16) == "fused"
    path_choice.forget()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh"])
def test_row_blocks_without_packed_weights_and_under_inference_mode(compiled_loops, cell, monkeypatch):
    """The worker threads of the row blocks take no part in autograd, whatever the caller's mode:
    an unpacked weight (PyTorch without MKL) is a view that requires grad, and a model in training
    mode with dropout between layers runs explicit BPTT even under ``inference_mode``."""
    monkeypatch.setattr(common, "ROW_BLOCKS", 2)
    monkeypatch.setattr(common, "PACKED_GEMM", False)
    twin, ours = _pair(cell, 3, 4, 2, False, torch.float32)
    hx = tuple(torch.randn(2, 8, 4, requires_grad=True) for _ in range(2 if cell == "lstm" else 1))
    _compare(cell, torch.randn(6, 8, 3, requires_grad=True), None, twin, ours, hx, torch.float32)
    layer = Recurrent(cell, 3, 4, num_layers=2, dropout=0.2, path="bptt").train()
    with torch.inference_mode():
        out, _ = layer(torch.randn(6, 8, 3))
    assert out.shape == (6, 8, 4) and torch.isfinite(out).all()


def test_auto_times_backward_for_frozen_weights_when_the_input_wants_a_gradient(compiled_loops):
    """Frozen weights and an input that wants its gradient: the call runs backward through the
    recurrence, and is timed so, apart from the calls without gradients."""
    path_choice.forget()
    layer = Recurrent("gru", 8, 64).requires_grad_(False)
    x = torch.randn(64, 16, 8, requires_grad=True)
    out, _ = layer(x)
    assert out.requires_grad
    (key,) = path_choice.decisions()
    assert key[-2] is True  # timed with a gradient
    with torch.no_grad():
        layer(x)
    assert {k[-2] for k in path_choice.decisions()} == {True, False}
    path_choice.forget()


def test_auto_times_each_layout_and_dropout_apart(compiled_loops):
    """A batch-first layer, and one with dropout between its layers, are timed in their own
    layout and with their own dropout, not handed the choice made for a layer without them."""
    path_choice.forget()
    torch.manual_seed(0)
    plain = Recurrent("gru", 8, 64, num_layers=2)
    first = Recurrent("gru", 8, 64, num_layers=2, batch_first=True)
    dropped = Recurrent("gru", 8, 64, num_layers=2, dropout=0.3)
    out, _ = first(torch.randn(16, 64, 8))  # (B, T, D)
    assert out.shape == (16, 64, 64) and first.resolved_path() in ("fused", "bptt")
    plain(torch.randn(64, 16, 8))
    dropped(torch.randn(64, 16, 8))
    keys = list(path_choice.decisions())
    assert len(keys) == 3 and len({k[9:11] for k in keys}) == 3  # (batch_first, dropout) of each
    path_choice.forget()


def test_auto_times_enough_steps_to_reach_the_large_buffers_of_the_real_call():
    """Where the real call's gate buffer passes 32 MiB and that of the usual timing would not, the
    timing runs long enough to pass it too; elsewhere it stays at MEASURE_STEPS."""
    big = path_choice.LARGE_BUFFER
    assert path_choice.measured_steps(1000, 32, 1024) == 256  # 256 x 32 x 1024 floats = 32 MiB
    assert 256 * 32 * 1024 * 4 >= big > 255 * 32 * 1024 * 4
    assert path_choice.measured_steps(1000, 1, 1024) == path_choice.MEASURE_STEPS  # never that large
    assert path_choice.measured_steps(100, 128, 1024) == 100  # shorter than MEASURE_STEPS: all of it
    assert path_choice.measured_steps(300, 256, 1024) == path_choice.MEASURE_STEPS  # large at 128 already
    assert path_choice.measured_steps(200, 32, 1024) == path_choice.MEASURE_STEPS  # 200 steps stay below
    assert path_choice.measured_steps(20000, 1, 1024) == path_choice.MEASURE_STEPS  # 8,192 would be too long


def test_decisions_handed_to_a_resumed_process_are_taken_without_timing():
    path_choice.forget()
    key = ("LSTMCell", "4, 8", 1, False, 32, 128, torch.float32, "cpu", 1, False, 0.0, False, True, True)
    timed = []

    def runs():
        timed.append(1)
        return {"fused": lambda: None, "bptt": lambda: None}

    path_choice.preset({repr(key): "bptt", "other": "nonsense"})
    assert path_choice.choose(key, runs) == "bptt" and timed == []  # the run's own decision, not a new timing
    assert path_choice.record() == {repr(key): "bptt"}  # saved again with the next checkpoint
    path_choice.forget()
    assert path_choice.record() == {}
    assert path_choice.choose(key, runs) == "fused" and timed == [1]  # level: the fused kernel stays
    path_choice.forget()


@pytest.mark.skipif(not common.PACKED_GEMM, reason="no MKL packed GEMM in this PyTorch")
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh"])
def test_the_recurrent_weight_is_packed_once_for_a_blocks_rows(cell, compiled_loops, monkeypatch):
    """With the batch in row blocks of equal size, the weight packed for a block's rows is the one
    every block uses: one packing per forward and one per backward, none again in the blocks."""
    monkeypatch.setattr(common, "ROW_BLOCKS", 2)
    layer = Recurrent(cell, 4, 8, path="bptt")
    x = torch.randn(5, 8, 4, requires_grad=True)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as forward_only:
        with torch.inference_mode():
            layer(x.detach())
    with profile(activities=[ProfilerActivity.CPU]) as trained:
        layer(x)[0].sum().backward()
    for prof, want in ((forward_only, 1), (trained, 2)):
        packs = sum(e.count for e in prof.key_averages() if e.key == "mkl::_mkl_reorder_linear_weight")
        assert packs == want, packs
