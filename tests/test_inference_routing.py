"""Which path ``rnnlab score``, ``predict`` and ``tag`` take: whole sequences without gradients, so
the forward-only path (or the fused kernel where ``path="auto"`` measured it faster), and padded
batches timed with their lengths."""

import pytest
import torch

from rnnlab import Recurrent, path_choice
from rnnlab.bptt import infer, native
from rnnlab.data.words import WordVocab
from rnnlab.models.classifier import ClassifierConfig, TextClassifier
from rnnlab.models.language_model import LanguageModel, ModelConfig
from rnnlab.models.tagger import Tagger, TaggerConfig
from rnnlab.score import score_sentences
from rnnlab.tasks.classify import probabilities


@pytest.fixture
def routes(monkeypatch):
    """Every auto decision asked for, as (steps, batch, padded, grad enabled); the choice is
    ``routes.choice``. Counts the forward-only stacks run in ``routes.stacks``."""

    class Routes(list):
        choice, stacks = "bptt", 0

    seen = Routes()
    monkeypatch.setattr(native, "ready", lambda: True)

    def decide(layer, steps, batch, padded=False, input_grad=False):
        seen.append((steps, batch, padded, torch.is_grad_enabled()))
        return seen.choice

    run_stack = infer.run_stack

    def counted(*args, **kwargs):
        seen.stacks += 1
        return run_stack(*args, **kwargs)

    monkeypatch.setattr(path_choice, "fused_or_bptt", decide)
    monkeypatch.setattr(infer, "run_stack", counted)
    return seen


def _both(routes, run):
    """``run()`` on the forward-only path and on the fused kernel; both results."""
    with torch.enable_grad():  # the commands' functions turn gradients off themselves
        fast = run()
        assert routes.stacks > 0 and routes and not any(grad for *_, grad in routes)
        routes.choice, routes.stacks = "fused", 0
        fused = run()
        assert routes.stacks == 0
    return fast, fused


def test_score_runs_the_forward_only_path(routes):
    vocab = WordVocab.from_text("the cat sat on the mat . a dog ran")
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), cell="lstm", hidden_size=8, embedding_size=6))
    texts = ["the cat sat", "a dog ran on the mat", "the dog"]
    fast, fused = _both(routes, lambda: score_sentences(model, vocab, texts))
    for a, b in zip(fast, fused, strict=True):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_predict_runs_the_forward_only_path_on_padded_batches(routes, cell):
    torch.manual_seed(0)
    config = ClassifierConfig(vocab_size=9, num_classes=3, hidden_size=8, embedding_size=6, cell=cell)
    model = TextClassifier(config)
    encoded = [[2, 3, 4], [5], [6, 7, 8, 2, 3], [4, 4]]
    fast, fused = _both(routes, lambda: probabilities(model, encoded))
    assert all(padded for _, _, padded, _ in routes)
    torch.testing.assert_close(fast, fused, atol=1e-5, rtol=1e-4)


def test_tag_runs_the_forward_only_path_for_words_and_characters(routes):
    torch.manual_seed(0)
    config = TaggerConfig(vocab_size=8, num_chars=5, num_tags=3, hidden_size=4, embedding_size=4, cell="lstm",
                          char_embedding_size=3, char_hidden_size=4)  # fmt: skip
    model = Tagger(config)
    ids = torch.tensor([[2, 4], [3, 5], [0, 6]])
    batch = {"words": ids, "lengths": torch.tensor([2, 3]), "mask": ids > 0, "chars": torch.tensor([[2, 3], [4, 0]]),
             "char_lengths": torch.tensor([2, 1]), "word_index": torch.tensor([[0, 1], [1, 0], [0, 1]])}  # fmt: skip
    model.eval()
    fast, fused = _both(routes, lambda: model.predict(batch))
    assert len(routes) >= 2 and all(padded for _, _, padded, _ in routes)  # the characters' net and the words'
    assert fast == fused and [len(t) for t in fast] == [2, 3]


def test_padded_batches_are_timed_through_packing_and_with_their_lengths(monkeypatch):
    """Timed on a full batch, the fused kernel's packing went unseen and it was picked where the
    forward-only path, which stops each sequence at its length, was faster."""
    monkeypatch.setattr(native, "ready", lambda: True)
    monkeypatch.setattr(path_choice, "MIN_WORK", 0)
    path_choice.forget()
    layer = Recurrent("gru", 3, 4).eval()
    packed, lengths = [], []
    monkeypatch.setattr(layer, "_fused_packed", lambda p, s: packed.append(p) or Recurrent._fused_packed(layer, p, s))
    steps = layer._forward_steps
    monkeypatch.setattr(layer, "_forward_steps", lambda x, s, n, p: lengths.append(n) or steps(x, s, n, p))
    with torch.no_grad():
        layer(torch.randn(6, 4, 3), lengths=torch.tensor([6, 2, 5, 3]))
    assert packed and all(n is not None for n in lengths) and int(lengths[0].min()) == 3  # made up: 6 down to 3
    keys = list(path_choice.decisions())
    assert len(keys) == 1 and keys[0][-3:] == (True, False, False)  # padded, no gradient, evaluation mode
    with torch.no_grad():
        layer(torch.randn(6, 4, 3))
    assert len(path_choice.decisions()) == 2  # a full batch is another decision
    path_choice.forget()
