"""The compiled decoder step of greedy decoding and beam search: the tokens of ``model.step``."""

import pytest
import torch

from rnnlab import decode
from rnnlab.data.symbols import PAD
from rnnlab.models import decoder_step
from rnnlab.models.captioner import CaptionConfig, Captioner
from rnnlab.models.decoder_step import DecoderStepper
from rnnlab.models.seq2seq import Seq2Seq, Seq2SeqConfig

V = 40


@pytest.fixture(autouse=True)
def compiled(compiled_loops):
    return compiled_loops


def _awake(model, seed=7):
    """Weights wide enough that the outputs differ from row to row and step to step."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.6, 0.6)
    return model.eval()


def _seq2seq(cell, layers, feeding, attention="additive"):
    torch.manual_seed(3)
    config = Seq2SeqConfig(source_vocab=V, target_vocab=V, cell=cell, embedding_size=6, hidden_size=10,
                           num_layers=layers, input_feeding=feeding, attention=attention, dropout=0.3)  # fmt: skip
    model = _awake(Seq2Seq(config))
    lengths = torch.tensor([7, 2, 5, 1, 6])
    src = torch.randint(3, V, (7, 5), generator=torch.Generator().manual_seed(1))
    src[torch.arange(7).unsqueeze(1) >= lengths] = PAD
    return model, src, lengths


def _captioner(cell, handover, feeding):
    torch.manual_seed(3)
    attention = "soft" if feeding else "none"
    config = CaptionConfig(vocab_size=V, channels="4,4,4,6", cell=cell, embedding_size=6, hidden_size=10,
                           handover=handover, input_feeding=feeding, attention=attention)  # fmt: skip
    patches = torch.nn.Conv2d(3, 6, 4, stride=4)  # a 4x4 grid of 16-px images, features that differ
    model = _awake(Captioner(config, encoder=patches), seed=0)
    noise = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(2))
    return model, torch.stack([noise, torch.zeros(3, 16, 16), noise.flip(2) * 0.5 + 0.5]), None


def _searches(model, src, lengths, monkeypatch, compiled):
    """Greedy and beam outputs (tokens, log-probabilities) with or without the compiled step."""
    monkeypatch.setattr(decoder_step, "enabled", compiled)
    calls = []
    step = DecoderStepper.__call__
    monkeypatch.setattr(DecoderStepper, "__call__", lambda *a: calls.append(1) or step(*a))
    greedy = decode.greedy(model, src, lengths, max_length=9)
    beams = decode.beam_search(model, src, lengths, beam=3, max_length=9, nbest=3, length_penalty=0.5)
    assert bool(calls) == compiled
    tokens = [h.tokens for h in greedy], [[h.tokens for h in hyps] for hyps in beams]
    scores = [h.log_prob for h in greedy] + [h.log_prob for hyps in beams for h in hyps]
    return tokens, scores


def _same(model, src, lengths, monkeypatch):
    fast, fast_scores = _searches(model, src, lengths, monkeypatch, True)
    slow, slow_scores = _searches(model, src, lengths, monkeypatch, False)
    assert fast == slow
    assert fast_scores == pytest.approx(slow_scores, abs=1e-4)
    assert len({tuple(t) for t in fast[0]}) > 1  # the rows decode different outputs


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh"])
@pytest.mark.parametrize("layers,feeding", [(1, False), (2, True)])
def test_seq2seq_decodes_the_tokens_of_model_step(cell, layers, feeding, monkeypatch):
    _same(*_seq2seq(cell, layers, feeding), monkeypatch)


@pytest.mark.parametrize("attention", ["none", "general"])
def test_seq2seq_without_attention_and_with_general_attention(attention, monkeypatch):
    _same(*_seq2seq("gru", 2, False, attention), monkeypatch)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("handover,feeding", [("input", False), ("state", True)])
def test_captioner_decodes_the_tokens_of_model_step(cell, handover, feeding, monkeypatch):
    _same(*_captioner(cell, handover, feeding), monkeypatch)


def test_a_step_gives_the_logits_and_state_of_model_step_and_leaves_its_input_alone():
    model, src, lengths = _seq2seq("lstm", 2, True)
    with torch.no_grad():
        memory = model.encode(src, lengths)
        state = model.start(memory)
        tokens = torch.tensor([1, 5, 9, 3, 1])
        before = [s.clone() for s in state.rnn]
        for lookups in (0, 10**6):  # the word input computed, then tabled
            stepper = DecoderStepper(model, lookups)
            assert (stepper.table is None) == (lookups == 0)
            got, want = stepper(tokens, state, memory), model.step(tokens, state, memory)
            torch.testing.assert_close(got[0], want[0], atol=1e-5, rtol=1e-4)
            for a, b in zip([*got[1].rnn, got[1].feed, got[2]], [*want[1].rnn, want[1].feed, want[2]], strict=True):
                torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
        assert all(torch.equal(a, b) for a, b in zip(state.rnn, before))


def test_what_it_cannot_step_goes_through_model_step():
    model = _seq2seq("lstm", 1, False)[0]
    assert DecoderStepper.fits(model)
    assert not DecoderStepper.fits(model.train())
    assert not DecoderStepper.fits(_seq2seq("lstm-ln", 1, False)[0])
    assert not DecoderStepper.fits(_seq2seq("gru", 1, False)[0].double())
    assert decoder_step.stepper(model.eval().double(), 4, 10) == model.step
    with pytest.raises(ValueError, match="standard cells"):
        DecoderStepper(model, 10)
