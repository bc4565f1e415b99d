"""rnnlab.RNN / LSTM / GRU under the torch.nn module API: what code around torch.nn does to an
RNN (parametrizations, pruning, functional_call, compile, export, ONNX, quantization, pickling)
does the same to the drop-ins, checked against torch.nn doing it to the same weights."""

import copy
import io
import warnings

import pytest
import torch
from torch import nn
from torch.nn.utils import prune
from torch.nn.utils.parametrizations import weight_norm

import rnnlab

TWINS = {"lstm": (rnnlab.LSTM, nn.LSTM, {}), "gru": (rnnlab.GRU, nn.GRU, {}), "rnn": (rnnlab.RNN, nn.RNN, {})}


def _pair(kind, *args, **kwargs):
    ours_cls, twin_cls, kw = TWINS[kind]
    twin = twin_cls(*args, **kw, **kwargs)
    ours = ours_cls(*args, **kw, **kwargs)
    ours.load_state_dict(twin.state_dict())
    return ours, twin


def _assign(m):
    m.weight_hh_l0 = nn.Parameter(torch.full_like(m.weight_hh_l0, 0.1))


def _tie(m):
    m.bias_ih_l0_reverse = m.bias_ih_l0


def _weight_norm(m):
    weight_norm(m, "weight_hh_l0")


def _prune(m):
    prune.l1_unstructured(m, "weight_hh_l0", 0.5)


@pytest.mark.parametrize("kind", TWINS)
def test_is_the_torch_nn_class(kind):
    ours, twin = _pair(kind, 4, 6, 2, bidirectional=True)
    assert isinstance(ours, type(twin)) and isinstance(ours, nn.RNNBase)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in twin.named_parameters()]
    assert ours._flat_weights_names == twin._flat_weights_names
    assert all(a is b for a, b in zip(ours._flat_weights, ours.parameters()))
    ours.flatten_parameters()
    assert ours.all_weights[3][1] is ours.weight_hh_l1_reverse


@pytest.mark.parametrize("change", [_assign, _tie, _weight_norm, _prune], ids=lambda f: f.__name__[1:])
@pytest.mark.parametrize("kind", TWINS)
@pytest.mark.parametrize("path", ["fused", "steps"])
def test_parameter_changes_act_as_on_torch_nn(kind, change, path):
    ours, twin = _pair(kind, 4, 6, 2, bidirectional=True)
    ours.path = path
    for m in (ours, twin):
        change(m)
    x = torch.randn(5, 3, 4)
    (o1, s1), (o2, s2) = ours(x), twin(x)
    torch.testing.assert_close((o1, s1), (o2, s2), atol=1e-5, rtol=1e-5)
    assert list(ours.state_dict()) == list(twin.state_dict())
    o1.sum().backward()
    o2.sum().backward()
    for (n1, p1), (n2, p2) in zip(ours.named_parameters(), twin.named_parameters()):
        assert n1 == n2
        torch.testing.assert_close(p1.grad, p2.grad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", TWINS)
@pytest.mark.parametrize("path", ["fused", "steps"])
def test_functional_call_and_deepcopy(kind, path):
    ours, twin = _pair(kind, 4, 6, 2)
    ours.path = path
    x = torch.randn(5, 3, 4)
    halved = {k: v * 0.5 for k, v in twin.state_dict().items()}
    got = torch.func.functional_call(ours, halved, (x,))[0]
    torch.testing.assert_close(got, torch.func.functional_call(twin, halved, (x,))[0], atol=1e-6, rtol=1e-5)
    assert not torch.allclose(got, ours(x)[0])  # the module's own weights are back
    clone = copy.deepcopy(ours)
    assert clone.path == path and clone.weight_ih_l0 is not ours.weight_ih_l0
    torch.testing.assert_close(clone(x)[0], ours(x)[0])


@pytest.mark.parametrize("kind", TWINS)
def test_whole_model_loads_with_weights_only(kind, tmp_path):
    ours, _ = _pair(kind, 4, 6, 2)
    model = nn.Sequential(nn.Linear(3, 4), ours)
    torch.save(model, tmp_path / "model.pt")
    allowed = [nn.Sequential, nn.Linear, type(ours)]
    with pytest.raises(Exception, match="Unsupported global"):
        torch.load(tmp_path / "model.pt", weights_only=True)
    with torch.serialization.safe_globals(allowed):
        back = torch.load(tmp_path / "model.pt", weights_only=True)
    assert type(back[1]) is type(ours)
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(back(x)[0], model(x)[0])


def test_forget_bias():
    torch.manual_seed(3)
    twin = nn.LSTM(4, 6, 2)
    torch.manual_seed(3)
    plain = rnnlab.LSTM(4, 6, 2, forget_bias=None)
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), twin.parameters()))
    ours = rnnlab.LSTM(4, 6, 2, forget_bias=2.0)
    for layer in range(2):
        assert torch.equal(getattr(ours, f"bias_ih_l{layer}")[6:12], torch.full((6,), 2.0))
        assert torch.equal(getattr(ours, f"bias_hh_l{layer}")[6:12], torch.zeros(6))
    ours.reset_parameters()
    assert torch.equal(ours.bias_ih_l1[6:12], torch.full((6,), 2.0))
    assert "forget_bias=2.0" in repr(ours)
    with pytest.raises(ValueError, match="forget_bias"):
        rnnlab.LSTM(4, 6, forget_bias=float("nan"))


@pytest.mark.parametrize("kind", TWINS)
def test_gradient_flow_takes_the_recording_path(kind):
    ours, twin = _pair(kind, 4, 6, 2)
    x = torch.randn(7, 3, 4)
    with rnnlab.GradientFlow() as flow:
        assert ours.resolved_path() == ours.paths[1]
        out, _ = ours(x)
    out.sum().backward()
    assert len(flow.norms) == 2 and all(n.shape == (7,) for n in flow.norms)
    torch.testing.assert_close(out, twin(x)[0], atol=1e-5, rtol=1e-5)
    assert ours.resolved_path() == "fused"


@pytest.mark.parametrize("kind", TWINS)
def test_arguments_checked_as_torch_nn(kind):
    ours_cls, twin_cls, kw = TWINS[kind]
    for cls in (ours_cls, twin_cls):
        with pytest.raises(TypeError, match="batch_first"):
            cls(4, 6, batch_first="False", **kw)
        with pytest.raises(ValueError, match="dropout"):
            cls(4, 6, dropout=1.5, **kw)
        assert cls(4, 6, 2, dropout=1, **kw).dropout == 1.0
    ours, _ = _pair(kind, 4, 6)
    for path in ours.paths:
        ours.path = path
        with pytest.raises(RuntimeError, match="input_size"):
            ours(torch.randn(5, 3, 5))
        h = torch.zeros(1, 2, 6)
        with pytest.raises(RuntimeError, match="Expected hidden"):
            ours(torch.randn(5, 3, 4), (h, h) if kind == "lstm" else h)
        with pytest.raises(RuntimeError):  # an unbatched state for a batched input
            ours(torch.randn(5, 3, 4), (h[0], h[0]) if kind == "lstm" else h[0])
        with pytest.raises(ValueError, match="2-D or 3-D|2D or 3D"):
            ours(torch.randn(2, 5, 3, 4))
    with pytest.raises(ValueError):
        rnnlab.RNN(4, 6, nonlinearity="sigmoid")


@pytest.mark.parametrize("kind", TWINS)
def test_quantize_dynamic(kind):
    ours, twin = _pair(kind, 4, 6, 2)
    quantizable = kind != "rnn"  # torch.ao has no dynamic Elman RNN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q_ours = torch.ao.quantization.quantize_dynamic(nn.Sequential(ours), {type(ours)}, dtype=torch.qint8)
        q_twin = torch.ao.quantization.quantize_dynamic(nn.Sequential(twin), {type(twin)}, dtype=torch.qint8)
    assert (type(q_ours[0]) is type(q_twin[0])) == quantizable
    x = torch.randn(5, 3, 4)
    if quantizable:
        torch.testing.assert_close(q_ours(x)[0], q_twin(x)[0])


@pytest.mark.parametrize("kind", TWINS)
def test_export(kind):
    ours, twin = _pair(kind, 4, 6, 2)
    x = torch.randn(5, 3, 4)
    program = torch.export.export(ours.eval(), (x,))
    torch.testing.assert_close(program.module()(x)[0], twin(x)[0])


@pytest.mark.slow
@pytest.mark.parametrize("kind", TWINS)
@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compile(kind, backend):
    ours, twin = _pair(kind, 4, 6, 2, bidirectional=True)
    x = torch.randn(5, 3, 4)
    torch._dynamo.reset()
    torch.testing.assert_close(torch.compile(ours, backend=backend)(x)[0], twin(x)[0], atol=1e-5, rtol=1e-5)
    # dynamo's experimental allow_rnn tracing: whatever it does to torch.nn (some of it fails in
    # this torch), it does to the drop-ins
    outcomes = []
    for module in (twin, ours):
        torch._dynamo.reset()
        with torch._dynamo.config.patch(allow_rnn=True):
            try:
                outcomes.append(torch.compile(module, backend=backend)(x)[0])
            except Exception as error:  # noqa: BLE001 - compared between the two
                outcomes.append(type(error))
    torch._dynamo.reset()
    if isinstance(outcomes[0], torch.Tensor):
        torch.testing.assert_close(outcomes[1], outcomes[0], atol=1e-5, rtol=1e-5)
    else:
        assert outcomes[1] is outcomes[0]


@pytest.mark.slow
@pytest.mark.parametrize("kind", TWINS)
@pytest.mark.parametrize("dynamo", [False, True])
def test_onnx_export(kind, dynamo):
    import onnxruntime as ort  # a dev dependency, imported here to keep it out of the quick tier

    ours, twin = _pair(kind, 4, 6, 2)
    ours.eval()
    x = torch.randn(5, 3, 4)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            buffer.write(torch.onnx.export(ours, (x,), dynamo=True).model_proto.SerializeToString())
        else:
            torch.onnx.export(ours, (x,), buffer, dynamo=False)
    session = ort.InferenceSession(buffer.getvalue())
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    torch.testing.assert_close(torch.from_numpy(got), twin(x)[0].detach(), atol=1e-5, rtol=1e-5)
