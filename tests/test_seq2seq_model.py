"""The encoder–decoder with attention, and its decoders (greedy, sampling, beam search)."""

import itertools
import math

import pytest
import torch
from torch import nn

from rnnlab.data.symbols import BOS, EOS, PAD
from rnnlab.decode import beam_search, greedy, sample
from rnnlab.models.seq2seq import Seq2Seq, Seq2SeqConfig

ATTENTIONS = ("none", "additive", "dot", "general")


def tiny(**overrides) -> Seq2Seq:
    options = dict(source_vocab=11, target_vocab=9, embedding_size=6, hidden_size=8, dropout=0.0)
    return Seq2Seq(Seq2SeqConfig(**{**options, **overrides}))


def batch(B=3, S=6, T=5, lengths=(6, 3, 1), vocab=11, target_vocab=9):
    src = torch.randint(4, vocab, (S, B))
    lengths = torch.tensor(lengths)
    src[torch.arange(S).unsqueeze(1) >= lengths] = PAD
    tgt = torch.randint(3, target_vocab, (T, B))
    tgt[0] = BOS
    return src, lengths, tgt


def kinds():
    """(attention, input_feeding, bidirectional) combinations the config accepts."""
    for attention, feed, bi in itertools.product(ATTENTIONS, (False, True), (False, True)):
        if not (attention == "none" and feed) and not (attention == "dot" and bi):
            yield attention, feed, bi


@pytest.mark.parametrize("cell", ["lstm", "gru", "scrn"])
@pytest.mark.parametrize("attention,input_feeding,bidirectional", list(kinds()))
def test_forward_shapes(cell, attention, input_feeding, bidirectional):
    model = tiny(cell=cell, attention=attention, input_feeding=input_feeding, bidirectional=bidirectional, num_layers=2)
    src, lengths, tgt = batch()
    logits, weights = model(src, lengths, tgt)
    assert logits.shape == (5, 3, 9)
    assert torch.isfinite(logits).all()
    if attention == "none":
        assert weights is None
    else:
        assert weights.shape == (5, 3, 6)
    logits.sum().backward()
    assert model.source_embedding.weight.grad.abs().sum() > 0  # the source reaches the output


@pytest.mark.parametrize("attention", ["additive", "general", "dot"])
def test_weights_sum_to_one_and_are_zero_on_padding(attention):
    model = tiny(attention=attention, bidirectional=attention != "dot")
    src, lengths, tgt = batch()
    _, weights = model(src, lengths, tgt)  # (T, B, S)
    torch.testing.assert_close(weights.sum(-1), torch.ones(5, 3))
    padding = torch.arange(6).unsqueeze(0) >= lengths.unsqueeze(1)  # (B, S)
    assert (weights[:, padding] == 0).all()
    assert (weights[:, ~padding] > 0).all()


@pytest.mark.parametrize(
    "options",
    [
        dict(attention="additive"),
        dict(attention="general", input_feeding=True, num_layers=2),
        dict(attention="dot", bidirectional=False, decoder_cell="gru"),
        dict(attention="none"),
        dict(cell="scrn", attention="additive", input_feeding=True),
        dict(cell="lstm", decoder_cell="clockwork", attention="general"),
    ],
)
def test_step_by_step_equals_teacher_forcing(options):
    model = tiny(**options).double()
    src, lengths, tgt = batch()
    logits, weights = model(src, lengths, tgt)
    memory = model.encode(src, lengths)
    state = model.start(memory)
    steps, step_weights = [], []
    for t in range(tgt.shape[0]):
        out, state, w = model.step(tgt[t], state, memory)
        steps.append(out)
        step_weights.append(w)
    torch.testing.assert_close(torch.stack(steps), logits, rtol=1e-10, atol=1e-10)
    if weights is not None:
        torch.testing.assert_close(torch.stack(step_weights), weights, rtol=1e-10, atol=1e-10)


def test_a_sentence_is_the_same_alone_and_in_a_padded_batch():
    model = tiny(num_layers=2, input_feeding=True).eval()
    src, lengths, tgt = batch()
    logits, _ = model(src, lengths, tgt)
    for b in range(3):
        n = int(lengths[b])
        alone, _ = model(src[:n, b : b + 1], lengths[b : b + 1], tgt[:, b : b + 1])
        torch.testing.assert_close(alone[:, 0], logits[:, b], rtol=1e-5, atol=1e-5)
    together_greedy = greedy(model, src, lengths, max_length=6)
    together_beam = beam_search(model, src, lengths, beam=3, max_length=6, nbest=2)
    for b in range(3):
        n = int(lengths[b])
        one = src[:n, b : b + 1], lengths[b : b + 1]
        assert greedy(model, *one, max_length=6)[0].tokens == together_greedy[b].tokens
        alone = beam_search(model, *one, beam=3, max_length=6, nbest=2)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in together_beam[b]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in together_beam[b]], abs=1e-5)
        assert together_beam[b][0].attention.shape == (len(together_beam[b][0].tokens), n)


def sequence_log_prob(model: Seq2Seq, src: torch.Tensor, lengths: torch.Tensor, tokens: list[int]) -> float:
    """log p(tokens, EOS | src) for one sentence, by teacher forcing."""
    tgt_in = torch.tensor([BOS, *tokens]).unsqueeze(1)
    with torch.no_grad():
        logits, _ = model(src, lengths, tgt_in)
    logp = torch.log_softmax(logits.double(), -1)[:, 0]  # (T, V)
    return float(logp.gather(1, torch.tensor([*tokens, EOS]).unsqueeze(1)).sum())


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_a_beam_as_wide_as_the_search_space_finds_the_best_sequences(length_penalty):
    torch.manual_seed(3)
    model = tiny(target_vocab=8, hidden_size=6).double().eval()  # 4 tokens besides the specials
    src, lengths, _ = batch(B=2, S=4, T=1, lengths=(4, 2), target_vocab=8)
    L, allowed = 3, [3, 4, 5, 6, 7]  # UNK may be emitted; PAD, BOS, EOS not inside a sentence
    space = [list(seq) for n in range(L + 1) for seq in itertools.product(allowed, repeat=n)]
    found = beam_search(model, src, lengths, beam=len(space), max_length=L, length_penalty=length_penalty, nbest=6)
    for b in range(2):
        one = src[: int(lengths[b]), b : b + 1], lengths[b : b + 1]
        scored = []
        for seq in space:
            lp = sequence_log_prob(model, *one, seq)
            scored.append((lp / (len(seq) + 1) ** length_penalty, lp, seq))
        scored.sort(key=lambda s: -s[0])
        assert [h.tokens for h in found[b]] == [s[2] for s in scored[:6]]
        assert [h.score for h in found[b]] == pytest.approx([s[0] for s in scored[:6]], abs=1e-9)
        assert [h.log_prob for h in found[b]] == pytest.approx([s[1] for s in scored[:6]], abs=1e-9)


@pytest.mark.parametrize("options", [dict(attention="additive"), dict(attention="general", input_feeding=True)])
def test_beam_of_one_is_greedy(options):
    model = tiny(**options).eval()
    src, lengths, _ = batch()
    best = greedy(model, src, lengths, max_length=8)
    beams = beam_search(model, src, lengths, beam=1, max_length=8, length_penalty=0.0)
    for g, (b,) in zip(best, beams):
        assert b.tokens == g.tokens
        assert b.log_prob == pytest.approx(g.log_prob, abs=1e-6)
        torch.testing.assert_close(b.attention, g.attention)


def test_greedy_log_prob_is_the_models():
    model = tiny().double().eval()
    src, lengths, _ = batch()
    for b, h in enumerate(greedy(model, src, lengths, max_length=4)):
        assert len(h.tokens) <= 4 and EOS not in h.tokens and PAD not in h.tokens and BOS not in h.tokens
        one = src[: int(lengths[b]), b : b + 1], lengths[b : b + 1]
        assert h.log_prob == pytest.approx(sequence_log_prob(model, *one, h.tokens), abs=1e-9)


def test_sampling_is_reproducible_and_top_k_one_is_greedy():
    model = tiny()
    src, lengths, _ = batch()
    draw = [sample(model, src, lengths, 6, generator=torch.Generator().manual_seed(7)) for _ in range(2)]
    assert [h.tokens for h in draw[0]] == [h.tokens for h in draw[1]]
    many = {tuple(h.tokens) for _ in range(5) for h in sample(model, src, lengths, 6)}
    assert len(many) > 1  # an untrained model's samples differ
    best = [h.tokens for h in greedy(model, src, lengths, 6)]
    assert [h.tokens for h in sample(model, src, lengths, 6, top_k=1)] == best
    assert [h.tokens for h in sample(model, src, lengths, 6, temperature=0.0)] == best
    assert model.training  # decoding leaves the mode as it found it


@pytest.mark.parametrize("hidden_size", [6, 8])
def test_tie_embeddings_shares_the_tensor(hidden_size):
    model = tiny(tie_embeddings=True, hidden_size=hidden_size)
    assert model.readout.weight is model.target_embedding.weight
    assert isinstance(model.project, nn.Linear) == (hidden_size != 6)
    src, lengths, tgt = batch()
    assert model(src, lengths, tgt)[0].shape == (5, 3, 9)
    names = [n for n, _ in model.named_parameters()]
    assert "readout.weight" not in names  # one parameter, counted once


@pytest.mark.parametrize(
    "options",
    [dict(attention="additive"), dict(attention="none", tie_embeddings=True), dict(input_feeding=True, num_layers=2)],
)
def test_min_parameters_is_a_lower_bound(options):
    model = tiny(**options)
    actual = sum(p.numel() for p in model.parameters())
    assert model.config.min_parameters() <= actual


@pytest.mark.parametrize(
    "options,message",
    [
        (dict(attention="dot"), "attention: expected 'general' or 'additive'"),
        (dict(attention="luong"), "attention: expected one of"),
        (dict(attention="none", input_feeding=True), "input_feeding: expected an attention"),
        (dict(decoder_cell="nope"), "decoder_cell: expected one of"),
        (dict(target_vocab=0), "target_vocab: expected a positive integer"),
        (dict(dropout=1.0), "dropout: expected"),
    ],
)
def test_bad_configs_are_refused_in_one_line(options, message):
    with pytest.raises(ValueError, match=message):
        tiny(**options)


def test_bad_arguments_are_refused_in_one_line():
    model = tiny()
    src, lengths, tgt = batch()
    with pytest.raises(ValueError, match="src: expected a 2-D"):
        model(src.float(), lengths, tgt)
    with pytest.raises(ValueError, match=r"tgt_in: expected ids in \[0, 9\)"):
        model(src, lengths, tgt + 9)
    with pytest.raises(ValueError, match="beam: expected a positive integer"):
        beam_search(model, src, lengths, beam=0)
    with pytest.raises(ValueError, match="nbest: expected at most beam"):
        beam_search(model, src, lengths, beam=2, nbest=3)
    with pytest.raises(ValueError, match="top_p: expected"):
        sample(model, src, lengths, top_p=0.0)


def test_bridge_maps_both_directions_and_keeps_a_counter_at_zero():
    model = tiny(cell="lstm", decoder_cell="clockwork", num_layers=2)
    src, lengths, _ = batch()
    memory = model.encode(src, lengths)
    assert set(model.bridge.maps) == {"0"}  # h only: the clock's counter is not the LSTM's c
    h, counter = memory.state
    assert h.shape == (2, 3, 8) and counter.dtype == torch.int64 and (counter == 0).all()
    same = tiny(cell="lstm", bidirectional=False)
    assert all(isinstance(m, nn.Identity) for m in same.bridge.maps.values())
    assert len(same.bridge.maps) == 2  # h and c handed over as they are


def test_attention_none_reads_the_source_through_the_final_state_only():
    model = tiny(attention="none").eval()
    src, lengths, tgt = batch()
    memory = model.encode(src, lengths)
    assert memory.keys is None and memory.values is None
    other = memory._replace(outputs=torch.zeros_like(memory.outputs))
    a, _, _ = model.decode(tgt, model.start(memory), memory)
    b, _, _ = model.decode(tgt, model.start(other), other)
    torch.testing.assert_close(a, b)


def reverse_batch(generator: torch.Generator, B: int = 32) -> tuple[torch.Tensor, ...]:
    """Random sentences of 3..6 tokens from 4..11 and their reversals (ids shared by both sides)."""
    lengths = torch.randint(3, 7, (B,), generator=generator)
    src = torch.full((6, B), PAD)
    tgt = torch.full((8, B), PAD)
    for b, n in enumerate(lengths.tolist()):
        words = torch.randint(4, 12, (n,), generator=generator)
        src[:n, b] = words
        tgt[: n + 2, b] = torch.cat([torch.tensor([BOS]), words.flip(0), torch.tensor([EOS])])
    return src, lengths, tgt


@pytest.mark.parametrize(
    "options",
    [dict(attention="general"), pytest.param(dict(attention="additive", input_feeding=True), marks=pytest.mark.slow)],
)
def test_learns_to_reverse_a_sentence(options, monkeypatch):
    # 300 steps at lr 1e-2 go through a loss spike for some float roundings (the explicit-BPTT
    # encoder with the fused decoder): the fused kernels throughout, not what "auto" timed
    monkeypatch.setenv("RNNLAB_AUTO_TIMING", "0")
    torch.manual_seed(0)
    model = Seq2Seq(
        Seq2SeqConfig(source_vocab=12, target_vocab=12, embedding_size=16, hidden_size=32, dropout=0.0, **options)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(300):
        src, lengths, tgt = reverse_batch(gen)
        logits, _ = model(src, lengths, tgt[:-1])
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), tgt[1:].flatten(), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1
    src, lengths, tgt = reverse_batch(torch.Generator().manual_seed(1), B=50)
    want = [tgt[1 : n + 1, b].tolist() for b, n in enumerate(lengths.tolist())]
    right = sum(h.tokens == w for h, w in zip(greedy(model, src, lengths, max_length=8), want))
    assert right >= 45
    beams = beam_search(model, src, lengths, beam=4, max_length=8)
    assert sum(hs[0].tokens == w for hs, w in zip(beams, want)) >= 45
    assert all(math.isfinite(hs[0].score) for hs in beams)
