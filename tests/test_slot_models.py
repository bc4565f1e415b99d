"""The tagger models by name: word windows, the Jordan recurrence, padding, the joint model's two
losses, the registry and overfitting a tiny tagged set."""

import dataclasses

import pytest
import torch

from rnnlab.configs import from_dict
from rnnlab.models.joint import JointTagger
from rnnlab.models.language_model import count_parameters
from rnnlab.models.slot_rnn import ElmanTagger, JordanTagger
from rnnlab.models.tagger import Tagger, TaggerConfig
from rnnlab.models.taggers import TAGGERS, build_tagger

SMALL = {"vocab_size": 12, "num_chars": 6, "num_tags": 4, "hidden_size": 5, "embedding_size": 3, "dropout": 0.0}
DIRECTIONS = [(m, b) for m in TAGGERS for b in (True, False) if m != "bilstm" or b]


def _config(model: str, **changes) -> TaggerConfig:
    extra = {"window": 3} if model in ("elman", "jordan") else {"char_embedding_size": 2, "char_hidden_size": 3}
    return TaggerConfig(model=model, **{**SMALL, **extra, **changes})


def _batch(sentences: list[list[int]]) -> dict:
    """The batch dict of sentences of word ids (a word's characters made from its id)."""
    T, B = max(map(len, sentences)), len(sentences)
    words = torch.zeros(T, B, dtype=torch.int64)
    for b, s in enumerate(sentences):
        words[: len(s), b] = torch.tensor(s)
    distinct = sorted({w for s in sentences for w in s})
    spelling = {w: [w % 5 + 1, w % 3 + 1][: 1 + w % 2] for w in distinct}
    chars = torch.zeros(2, len(distinct), dtype=torch.int64)
    for i, w in enumerate(distinct):
        chars[: len(spelling[w]), i] = torch.tensor(spelling[w])
    lengths = torch.tensor([len(s) for s in sentences])
    return {
        "words": words,
        "lengths": lengths,
        "mask": torch.arange(T).unsqueeze(1) < lengths,
        "chars": chars,
        "char_lengths": torch.tensor([len(spelling[w]) for w in distinct]),
        "word_index": torch.tensor([[distinct.index(w) for w in s] + [0] * (T - len(s)) for s in sentences]).t(),
    }


def _built(config: TaggerConfig, seed: int = 0):
    torch.manual_seed(seed)
    return build_tagger(config).double()


# ---------------------------------------------------------------------------------- config
def test_build_tagger_builds_each_model_by_name_and_refuses_an_unknown_one_in_one_line():
    classes = {"bilstm": Tagger, "elman": ElmanTagger, "jordan": JordanTagger, "joint": JointTagger}
    for name, kind in classes.items():
        assert type(build_tagger(_config(name))) is kind
    assert TAGGERS == classes
    with pytest.raises(ValueError, match=r"^model: expected one of 'bilstm', 'elman', 'jordan', 'joint', got 'crnn'$"):
        build_tagger(TaggerConfig(model="crnn", **SMALL))


def test_each_model_has_its_default_cell_and_refuses_the_options_it_does_not_read():
    assert TaggerConfig().cell == "lstm" and TaggerConfig(model="joint").cell == "lstm"
    assert TaggerConfig(model="elman").cell == TaggerConfig(model="jordan").cell == "rnn-sigmoid"
    assert TaggerConfig(model="elman", cell="gru").cell == "gru"
    refused = [
        ("window", "bilstm", {"window": 3}),
        ("bidirectional", "bilstm", {"bidirectional": False}),
        ("num_intents", "elman", {"num_intents": 3}),
        ("pooling", "jordan", {"pooling": "attention"}),
        ("intent_weight", "bilstm", {"intent_weight": 0.5}),
        ("window", "joint", {"window": 3}),
        ("window", "elman", {"window": 2}),
        ("window", "elman", {"window": 0}),
        ("num_layers", "jordan", {"num_layers": 2}),
        ("cell", "jordan", {"cell": "lstm"}),
        ("cell", "jordan", {"cell": "irnn"}),
        ("pooling", "joint", {"pooling": "max"}),
        ("slot_weight", "joint", {"slot_weight": 0.0}),
        ("slot_weight, intent_weight", "joint", {"slot_weight": 0.0, "intent_weight": 0.0, "num_intents": 3}),
    ]
    for name, model, changes in refused:
        with pytest.raises(ValueError, match=f"^{name}: expected"):
            build_tagger(_config(model, **changes))
    jordan = build_tagger(_config("jordan", cell="rnn", cell_options={"activation": "tanh"}))
    with pytest.raises(ValueError, match="^model: expected the model Tagger builds"):
        Tagger(_config("elman"))  # not a bilstm with the Elman net's settings
    with pytest.raises(ValueError, match="^model: expected the model JointTagger builds"):
        JointTagger(_config("bilstm"))
    assert jordan.cells[0].activation == "tanh"


def test_a_config_saved_before_the_models_loads_as_the_bilstm_with_a_crf():
    old = {"vocab_size": 12, "num_tags": 4, "cell": "lstm", "hidden_size": 5, "embedding_size": 3}
    old.update(char_embedding_size=0, crf=True, dropout=0.5)
    config = from_dict(TaggerConfig, old, "model config")
    model = build_tagger(config)
    assert type(model) is Tagger and model.rnn.bidirectional and model.crf is not None
    assert not model.has_intent


@pytest.mark.parametrize("model", list(TAGGERS))
@pytest.mark.parametrize("bidirectional", [True, False])
def test_the_parameter_bound_never_exceeds_the_true_count(model, bidirectional):
    if model == "bilstm" and not bidirectional:
        return
    changes = {"bidirectional": bidirectional} if model != "bilstm" else {}
    if model == "joint":
        changes.update(num_intents=3, pooling="attention")
    config = _config(model, **changes)
    assert 0 < config.min_parameters() <= count_parameters(build_tagger(config))


# ---------------------------------------------------------------------------------- windows
def test_a_window_past_the_sentence_reads_the_padding_embedding():
    model = _built(_config("elman", window=5))
    batch = _batch([[4, 5, 6], [7, 8, 9, 10, 11]])
    windows = model.windows(batch)  # (5, 2, 5 * E)
    E = SMALL["embedding_size"]
    edge, word = model.edge, model.embedding.weight
    assert windows.shape == (5, 2, 5 * E)
    expected = {0: [edge, edge, word[4], word[5], word[6]], 1: [edge, word[4], word[5], word[6], edge]}
    expected[2] = [word[4], word[5], word[6], edge, edge]
    for t, parts in expected.items():
        assert torch.equal(windows[t, 0], torch.cat(parts)), t
    # the longer sentence's middle word sees only its own words; its edges the padding embedding
    assert torch.equal(windows[2, 1], word[7:12].flatten())
    assert torch.equal(windows[4, 1], torch.cat([word[9], word[10], word[11], edge, edge]))
    assert not torch.equal(edge, word[0])  # not the embedding of the batch's padding (zeros)


@pytest.mark.parametrize("model,bidirectional", DIRECTIONS)
def test_a_sentence_scores_the_same_alone_and_padded_in_a_batch(model, bidirectional):
    changes = {"num_intents": 3} if model == "joint" else {}
    if model != "bilstm":
        changes["bidirectional"] = bidirectional
    net = _built(_config(model, **changes)).eval()
    alone, batch = _batch([[3, 4, 5]]), _batch([[3, 4, 5], [6, 7, 8, 9, 10, 11]])
    single, both = net.emissions(alone), net.emissions(batch)
    assert torch.allclose(single[:, 0], both[:3, 0], rtol=0, atol=1e-12)
    assert [len(p) for p in net.predict(batch)] == [3, 6]
    if model == "joint":
        for pooling in ("last", "attention"):
            net = _built(dataclasses.replace(net.config, pooling=pooling)).eval()
            assert torch.allclose(net.intent_logits(alone)[0], net.intent_logits(batch)[0], rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------- Jordan
def test_the_jordan_state_reads_the_previous_steps_output_distribution():
    net = _built(_config("jordan", bidirectional=False))
    batch = _batch([[3, 4, 5]])
    cell, x = net.cells[0], net.windows(batch)[:, 0]  # (3, 3E)
    h = net.hidden(batch)[0][:, 0]  # (3, H)
    y0 = torch.softmax(cell.start, 0)
    h1 = torch.sigmoid(x[0] @ cell.weight_ih.t() + cell.bias_ih + y0 @ cell.weight_hy.t())
    y1 = torch.softmax(cell.readout(h1), 0)
    h2 = torch.sigmoid(x[1] @ cell.weight_ih.t() + cell.bias_ih + y1 @ cell.weight_hy.t())
    assert torch.allclose(h[0], h1, atol=1e-12) and torch.allclose(h[1], h2, atol=1e-12)
    # the output layer V feeds the recurrence: changing it changes h_2 on, not h_1 (an Elman state
    # would not change at all)
    with torch.no_grad():
        cell.readout.weight.add_(torch.randn_like(cell.readout.weight))
    changed = net.hidden(batch)[0][:, 0]
    assert torch.equal(changed[0], h[0])
    assert (changed[1] - h[1]).abs().max() > 1e-6 and (changed[2] - h[2]).abs().max() > 1e-6


def test_the_backward_jordan_net_reads_each_sentence_from_its_own_last_word():
    net = _built(_config("jordan"))
    batch = _batch([[3, 4, 5], [6, 7, 8, 9]])
    forward, backward = net.hidden(batch)
    with torch.no_grad():
        net.cells[1].readout.weight.add_(torch.randn_like(net.cells[1].readout.weight))
    forward2, backward2 = net.hidden(batch)
    assert torch.equal(forward2, forward)  # the directions are two nets
    for b, n in enumerate([3, 4]):
        assert torch.equal(backward2[n - 1, b], backward[n - 1, b])  # the backward net's first step
        assert (backward2[: n - 1, b] - backward[: n - 1, b]).abs().amax(-1).min() > 1e-9
        assert torch.equal(backward2[n:, b], torch.zeros_like(backward2[n:, b]))  # padding stays zero


# ---------------------------------------------------------------------------------- joint
def _trained(config: TaggerConfig, batch: dict, steps: int = 4, seed: int = 0):
    """A model built under ``seed`` after ``steps`` Adam steps on ``batch``."""
    model = _built(config, seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        optimiser.zero_grad()
        model.loss(batch).backward()
        optimiser.step()
    return model


def _tagged(sentences: list[list[int]], num_tags: int = 4, num_intents: int = 3) -> dict:
    batch = _batch(sentences)
    batch["tags"] = batch["words"] % num_tags
    batch["intents"] = torch.tensor([s[0] % num_intents for s in sentences])
    return batch


@pytest.mark.parametrize("pooling", ["last", "attention"])
def test_the_joint_model_without_intent_weight_trains_its_slots_as_a_slot_only_model(pooling):
    batch = _tagged([[3, 4, 5, 6], [7, 8], [9, 10, 11]])
    slot_only = _config("joint")
    joint = dataclasses.replace(slot_only, num_intents=3, pooling=pooling, intent_weight=0.0)
    start_slot, start_joint = _built(slot_only).state_dict(), _built(joint).state_dict()
    assert all(torch.equal(v, start_joint[k]) for k, v in start_slot.items())  # the intent head is built last
    a, b = _trained(slot_only, batch), _trained(joint, batch)
    assert torch.allclose(a.emissions(batch), b.emissions(batch), rtol=0, atol=1e-12)
    assert a.predict(batch) == b.predict(batch)
    # and the comparison can fail: with the intent's loss the slots train otherwise
    c = _trained(dataclasses.replace(joint, intent_weight=1.0), batch)
    assert (a.emissions(batch) - c.emissions(batch)).abs().max() > 1e-6


@pytest.mark.parametrize("pooling", ["last", "attention"])
def test_the_joint_model_without_slot_weight_learns_only_from_the_intents(pooling):
    batch = _tagged([[3, 4, 5, 6], [7, 8], [9, 10, 11]])
    model = _built(_config("joint", num_intents=3, pooling=pooling, slot_weight=0.0))
    model.loss(batch).backward()
    joint = {k: p.grad.clone() for k, p in model.named_parameters()}
    assert all(joint[k].abs().max() == 0 for k in ("emit.weight", "emit.bias"))
    model.zero_grad()
    torch.nn.functional.cross_entropy(model.intent_logits(batch), batch["intents"]).backward()
    for name, p in model.named_parameters():
        expected = torch.zeros_like(p) if p.grad is None else p.grad
        assert torch.allclose(joint[name], expected, rtol=0, atol=1e-12), name
    assert joint["intent.weight"].abs().max() > 0 and joint["rnn.layers.0.weight_ih"].abs().max() > 0
    model.zero_grad()
    model.config.slot_weight = 1.0  # and the comparison can fail: with the slots' loss they differ
    model.loss(batch).backward()
    assert model.emit.weight.grad.abs().max() > 0
    assert (model.rnn.layers[0].weight_ih.grad - joint["rnn.layers.0.weight_ih"]).abs().max() > 1e-9


def test_predicted_intents_are_the_most_probable_with_their_probability():
    batch = _tagged([[3, 4, 5], [6, 7], [8, 9, 10, 11]])
    model = _built(_config("joint", num_intents=5)).eval()
    ids, probs = model.predict_intents(batch)
    logits = model.intent_logits(batch)
    assert ids == logits.argmax(-1).tolist()
    expected = torch.softmax(logits, -1).max(-1).values.tolist()
    assert probs == pytest.approx(expected, abs=1e-12)
    assert all(1 / 5 <= p <= 1 for p in probs) and len(ids) == len(probs) == 3
    assert model.has_intent and not build_tagger(_config("elman")).has_intent
    slot_only = build_tagger(_config("joint"))
    assert not slot_only.has_intent
    with pytest.raises(ValueError, match="^num_intents: expected"):
        slot_only.predict_intents(batch)


# ---------------------------------------------------------------------------------- training
@pytest.mark.parametrize("model", list(TAGGERS))
def test_each_model_overfits_a_tiny_tagged_set(model):
    sentences = [[3, 4, 5, 6], [7, 8, 3], [9, 10, 11, 4, 5], [6, 2]]
    batch = _tagged(sentences)
    # a word's tag depends on the word before it, so the window or the recurrence must carry it
    batch["tags"] = torch.cat([torch.zeros_like(batch["words"][:1]), batch["words"][:-1] % 4])
    extra = {"num_intents": 3} if model == "joint" else {}
    config = _config(model, hidden_size=12, crf=False, **extra)
    first = _built(config, seed=1).loss(batch).item()
    net = _trained(config, batch, steps=150, seed=1)
    assert net.loss(batch).item() < 0.05 * first
    gold = [batch["tags"][: len(s), b].tolist() for b, s in enumerate(sentences)]
    assert net.eval().predict(batch) == gold
    if model == "joint":
        assert net.predict_intents(batch)[0] == batch["intents"].tolist()
