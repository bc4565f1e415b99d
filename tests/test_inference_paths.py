"""The forward-only paths of the standard cells and the single-step generation path.

Each must give what the training path's forward and ``torch.nn`` give, to float rounding.
"""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab import Recurrent, stepping
from rnnlab.bptt import common, infer, native
from rnnlab.data.vocab import CharVocab
from rnnlab.generate import generate, pick
from rnnlab.models.language_model import LanguageModel, ModelConfig
from rnnlab.stepping import Stepper
from tests.test_native_paths import TWINS  # cell -> torch.nn class and options

TOL = {torch.float64: {"atol": 1e-10, "rtol": 1e-8}, torch.float32: {"atol": 1e-5, "rtol": 1e-4}}


@pytest.fixture(params=["compiled", "python"])
def loops(request, monkeypatch):
    """Run a test on the compiled loops (where built) and on the PyTorch loops."""
    if request.param == "compiled" and not native.ready():
        pytest.skip("the compiled loops are not built here")
    if request.param == "python":
        monkeypatch.setattr(native, "enabled", False)
    return request.param


def _pair(cell, D, H, layers, bidirectional, dtype, bias=True, batch_first=False):
    twin_cls, kw = TWINS[cell]
    twin = twin_cls(D, H, layers, bidirectional=bidirectional, bias=bias, batch_first=batch_first, **kw).to(dtype)
    ours = Recurrent(cell, D, H, layers, bidirectional=bidirectional, bias=bias, batch_first=batch_first)
    ours = ours.to(dtype)
    with torch.no_grad():
        for p in ours.parameters():  # any weights do; these keep the ReLU cells awake
            p.uniform_(-0.4, 0.4)
    twin.load_state_dict(ours.state_dict())
    ours.path = "bptt"
    return twin, ours


def _twin_run(twin, x, hx, lengths):
    h = hx if isinstance(twin, nn.LSTM) else hx[0]
    if lengths is None:
        out, state = twin(x, h)
    else:
        packed, state = twin(pack_padded_sequence(x, lengths, enforce_sorted=False), h)
        out = pad_packed_sequence(packed, total_length=x.shape[0])[0]
    return [out, *(state if isinstance(state, tuple) else (state,))]


def _check(twin, ours, x, hx, lengths, dtype):
    """Forward-only equals torch.nn and the training path's forward (taken with gradients)."""
    with torch.inference_mode():
        fast = ours(x, hx, lengths=lengths)
    with torch.no_grad():
        want = _twin_run(twin, x, hx, lengths)
    trained = ours(x.clone().requires_grad_(), hx, lengths=lengths)  # the training path
    assert trained[0].grad_fn is not None
    got = [fast[0], *fast[1]]
    for a, b, c in zip(got, want, [trained[0], *trained[1]], strict=True):
        torch.testing.assert_close(a, b, **TOL[dtype])
        torch.testing.assert_close(a, c.detach(), **TOL[dtype])


@pytest.mark.parametrize("cell", list(TWINS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("layers, bidirectional, padded", [(1, False, False), (2, True, True), (2, False, True)])
def test_forward_only_equals_torch_nn_and_training_forward(cell, dtype, layers, bidirectional, padded, loops):
    torch.manual_seed(1)
    T, B, D, H = 7, 3, 4, 6
    twin, ours = _pair(cell, D, H, layers, bidirectional, dtype)
    x = torch.randn(T, B, D, dtype=dtype)
    rows = layers * (2 if bidirectional else 1)
    hx = tuple(torch.randn(rows, B, H, dtype=dtype) for _ in range(2 if cell == "lstm" else 1))
    _check(twin, ours, x, hx, torch.tensor([7, 3, 5]) if padded else None, dtype)


@pytest.mark.parametrize("cell", list(TWINS))
@pytest.mark.parametrize("blocks", [2, 3])
def test_forward_only_in_row_blocks_equals_torch_nn(cell, blocks, compiled_loops, monkeypatch):
    """Row blocks of the batch each run the whole sequence (one per thread, as training's loops
    do): uneven blocks (9 rows into 2 or 3), padded sequences, both directions one after another."""
    monkeypatch.setattr(common, "ROW_BLOCKS", blocks)
    monkeypatch.setattr(infer, "BOTH_DIRECTIONS_MAX_BATCH", 0)
    called = []
    real = compiled_loops.infer_sequence
    monkeypatch.setattr(compiled_loops, "infer_sequence", lambda *a: called.append(a[-1]) or real(*a))
    torch.manual_seed(2)
    T, B, D, H = 9, 9, 5, 16
    twin, ours = _pair(cell, D, H, 2, True, torch.float32)
    x = torch.randn(T, B, D)
    hx = tuple(torch.randn(4, B, H) for _ in range(2 if cell == "lstm" else 1))
    _check(twin, ours, x, hx, torch.tensor([9, 3, 5, 1, 9, 8, 2, 7, 4]), torch.float32)
    assert called and set(called) == {blocks}  # the forward-only loop ran in that many blocks


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh"])
def test_packed_batch_first_non_contiguous_and_no_bias(cell, loops):
    torch.manual_seed(2)
    T, B, D, H = 6, 3, 3, 5
    twin, ours = _pair(cell, D, H, 2, True, torch.float32, bias=False, batch_first=True)
    wide = torch.randn(B, T, 2 * D)
    x = wide[:, :, ::2]  # every second feature: not contiguous
    assert not x.is_contiguous()
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], twin(x)[0], **TOL[torch.float32])
        lengths = torch.tensor([6, 2, 4])
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        got, got_state = ours(packed)
        want, want_state = twin(packed)
    torch.testing.assert_close(got.data, want.data, **TOL[torch.float32])
    for a, b in zip(got_state if isinstance(got_state, tuple) else (got_state,), _as_tuple(want_state)):
        torch.testing.assert_close(a, b, **TOL[torch.float32])


def _as_tuple(s):
    return s if isinstance(s, tuple) else (s,)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-relu"])
def test_batch_of_one_and_of_none(cell, loops):
    twin, ours = _pair(cell, 3, 4, 2, True, torch.float32)
    hx = tuple(torch.randn(4, 1, 4) for _ in range(2 if cell == "lstm" else 1))
    _check(twin, ours, torch.randn(6, 1, 3), hx, None, torch.float32)
    with torch.no_grad():
        out, state = ours(torch.randn(6, 0, 3))
    assert out.shape == (6, 0, 8) and state[0].shape == (4, 0, 4)


def test_lstm_without_forget_gate_equals_the_step_loop(loops):
    torch.manual_seed(3)
    layer = Recurrent("lstm", 3, 5, num_layers=2, forget_gate=False, path="bptt")
    x = torch.randn(8, 2, 3)
    with torch.no_grad():
        fast = layer(x, lengths=torch.tensor([8, 5]))
        layer.path = "steps"
        slow = layer(x, lengths=torch.tensor([8, 5]))
    for a, b in zip([fast[0], *fast[1]], [slow[0], *slow[1]], strict=True):
        torch.testing.assert_close(a, b, **TOL[torch.float32])


def test_taken_only_where_no_gradient_is_wanted():
    layer = Recurrent("lstm", 3, 4, path="bptt")
    x = torch.randn(5, 2, 3)
    state = layer.init_state(2)
    assert not infer.applies(layer, x, state)  # the weights want gradients
    with torch.no_grad():
        assert infer.applies(layer, x, state)
        layer.train()
        assert infer.applies(layer, x, state)  # one layer: no dropout between layers
        assert not infer.applies(Recurrent("lstm", 3, 4, num_layers=2, dropout=0.5), x, state + state)
    assert not infer.applies(Recurrent("lstm-ln", 3, 4).requires_grad_(False), x, state)  # not a standard cell


def _model(cell, embedding=8, layers=2, hidden=16, vocab="abcdefgh\n "):
    torch.manual_seed(4)
    v = CharVocab.from_text(vocab)
    config = ModelConfig(vocab_size=len(v.chars), cell=cell, hidden_size=hidden, num_layers=layers)
    config.embedding_size = embedding
    model = LanguageModel(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.5, 0.5)
    return model, v


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh", "irnn"])
@pytest.mark.parametrize("embedding", [8, 0])
def test_stepper_equals_the_model_step_by_step(cell, embedding, loops):
    model, v = _model(cell, embedding)
    ids = torch.tensor([[1, 2], [0, 5], [7, 7], [3, 1]])  # (T, B)
    state = tuple(s + 0.1 for s in model.init_state(2))
    stepper = Stepper(model, state)
    with torch.no_grad():
        for t in range(ids.shape[0]):
            want, state = model(ids[t : t + 1], state)
            torch.testing.assert_close(stepper(ids[t]), want[0], **TOL[torch.float32])
    for a, b in zip(stepper.state, state, strict=True):
        torch.testing.assert_close(a, b, **TOL[torch.float32])


@pytest.mark.parametrize("embedding", [8, 0])
def test_stepper_without_a_table_for_large_vocabularies(embedding, monkeypatch, loops):
    model, _ = _model("gru", embedding)
    ids = torch.tensor([3, 0])
    want = Stepper(model, batch_size=2)(ids)
    monkeypatch.setattr(stepping, "TABLE_LIMIT", 0)
    stepper = Stepper(model, batch_size=2)
    assert stepper.table is None
    torch.testing.assert_close(stepper(ids), want, **TOL[torch.float32])


def test_stepper_leaves_the_given_state_alone_and_refuses_what_it_cannot_step():
    model, _ = _model("lstm", layers=1)
    state = model.init_state(1)
    Stepper(model, state)(torch.tensor([2]))
    assert all(bool((s == 0).all()) for s in state)
    with pytest.raises(ValueError, match="standard cells"):
        Stepper(model.train())
    assert not Stepper.fits(_model("lstm-ln")[0])


def _old_generate(model, vocab, prime, length, temperature, generator):
    """The loop ``generate`` ran before its single-step path: the whole model, one character at a time."""
    with torch.no_grad():
        logits, state = model(vocab.prime_ids(prime).view(-1, 1))
        last, out = logits[-1, 0], []
        for _ in range(length):
            idx = pick(last, temperature, 0, 1.0, generator)
            out.append(vocab.piece(idx))
            logits, state = model(torch.tensor([[idx]]), state)
            last = logits[0, 0]
    return "".join(out)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh", "lstm-ln"])
@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_generate_writes_what_the_step_loop_wrote(cell, temperature):
    model, v = _model(cell)
    for prime in ("", "abc"):
        new = "".join(generate(model, v, prime, 150, temperature, generator=torch.Generator().manual_seed(5)))
        old = _old_generate(model, v, prime, 150, temperature, torch.Generator().manual_seed(5))
        assert new == old and len(new) == 150
