"""The image captioner: batching does not change a caption, attention over the grid, beam search,
the replaceable encoder, bad configs, and the caption loss with its doubly stochastic penalty."""

import pytest
import torch
from torch import nn

from rnnlab.data.symbols import BOS, EOS, PAD
from rnnlab.decode import beam_search, greedy
from rnnlab.models.captioner import CaptionConfig, Captioner
from rnnlab.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnlab.tasks.describer import caption_loss, targets

V = 12
SMALL = dict(vocab_size=V, channels="4,8,8", embedding_size=6, hidden_size=8, dropout=0.0)


def tiny(**overrides) -> Captioner:
    model = Captioner(CaptionConfig(**{**SMALL, **overrides}))
    with torch.no_grad():  # sharper outputs than at initialisation
        model.readout.weight.mul_(4.0)
        model.readout.bias[EOS] -= 1.0  # captions of some words
    return model.eval()


def images(B=5, size=32, seed=0) -> torch.Tensor:
    return torch.randint(0, 256, (B, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def lengths_by_brightness(B=4, size=32):
    """Images of 4 brightness levels and captions of 1 to 4 words: the brighter, the longer."""
    levels = torch.arange(B) % 4
    noise = torch.randint(-20, 21, (B, 3, size, size), generator=torch.Generator().manual_seed(0))
    pixels = (levels.view(B, 1, 1, 1) * 70 + 20 + noise).clamp(0, 255).to(torch.uint8)
    return pixels, [list(range(4, 5 + int(k))) for k in levels]


def trained(steps=40, **options) -> Captioner:
    """A tiny captioner that writes captions of different lengths for different images."""
    torch.manual_seed(0)
    model = Captioner(CaptionConfig(**{**SMALL, **options}))
    pixels, captions = lengths_by_brightness()
    tgt_in, tgt_out = targets(captions)
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(steps):
        logits, weights = model(pixels, tgt_in)
        loss, _ = caption_loss(logits, tgt_out, weights, 0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.mark.parametrize(
    "options",
    [
        dict(),
        pytest.param(dict(attention="none", handover="input"), marks=pytest.mark.slow),
        pytest.param(dict(cell="gru", input_feeding=True), marks=pytest.mark.slow),
        pytest.param(dict(cell="irnn"), marks=pytest.mark.slow),
    ],
)
def test_a_caption_is_the_same_alone_and_in_a_batch(options):
    model = trained(**options)
    pixels, _ = lengths_by_brightness()
    together = greedy(model, pixels, None, max_length=6)
    assert len({len(h.tokens) for h in together}) > 1, [h.tokens for h in together]  # padded at the end
    beams = beam_search(model, pixels, None, beam=3, max_length=6, nbest=2)
    for b in range(pixels.shape[0]):
        one = pixels[b : b + 1]
        alone = greedy(model, one, None, max_length=6)[0]
        assert alone.tokens == together[b].tokens
        assert alone.log_prob == pytest.approx(together[b].log_prob, abs=1e-5)
        alone_beams = beam_search(model, one, None, beam=3, max_length=6, nbest=2)[0]
        assert [h.tokens for h in alone_beams] == [h.tokens for h in beams[b]]
        for h, g in zip(alone_beams, beams[b]):
            assert h.score == pytest.approx(g.score, abs=1e-5)


def test_teacher_forced_logits_are_the_same_alone_and_in_a_padded_batch():
    model = tiny()
    pixels = images(3)
    captions = [[4, 5, 6, 7, 8], [9, 3], [5]]
    tgt_in, tgt_out = targets(captions)
    logits, weights = model(pixels, tgt_in)
    for b, caption in enumerate(captions):
        one_in, _ = targets([caption])
        alone, alone_weights = model(pixels[b : b + 1], one_in)
        n = len(caption) + 1
        torch.testing.assert_close(logits[:n, b], alone[:, 0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(weights[:n, b], alone_weights[:, 0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("size", "grid"), [(64, (8, 8)), (32, (4, 4))])
def test_attention_over_the_grid_sums_to_one_per_word(size, grid):
    model = tiny()
    tgt_in, _ = targets([[4, 5, 6], [7]])
    logits, weights = model(images(2, size), tgt_in)
    G = grid[0] * grid[1]
    assert model.grid_shape(size) == grid
    assert logits.shape == (4, 2, V) and weights.shape == (4, 2, G)
    torch.testing.assert_close(weights.sum(-1), torch.ones(4, 2))
    for caption in model_captions(model, images(2, size)):
        assert caption.tokens
        assert caption.attention.shape == (len(caption.tokens), G)


def model_captions(model, pixels):
    return greedy(model, pixels, None, max_length=5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "irnn", "scrn"])
@pytest.mark.parametrize(
    ("attention", "handover"), [("soft", "state"), ("soft", "input"), ("none", "state"), ("none", "input")]
)
def test_beam_of_one_is_greedy(cell, attention, handover):
    model = tiny(cell=cell, attention=attention, handover=handover)
    pixels = images(4)
    best = greedy(model, pixels, None, max_length=6)
    beams = beam_search(model, pixels, None, beam=1, max_length=6, length_penalty=0.0)
    for g, (b,) in zip(best, beams):
        assert g.tokens and g.tokens == b.tokens
        assert g.log_prob == pytest.approx(b.log_prob, abs=1e-6)


def test_nbest_is_ranked():
    model = tiny()
    for hyps in beam_search(model, images(3), None, beam=4, max_length=6, nbest=4):
        scores = [h.score for h in hyps]
        assert len(hyps) == 4 and scores == sorted(scores, reverse=True)
        assert len({tuple(h.tokens) for h in hyps}) == 4


def test_uint8_and_float_images_give_the_same_output():
    model = tiny()
    pixels = images(3)
    tgt_in, _ = targets([[4, 5], [6], [7, 8, 9]])
    a, _ = model(pixels, tgt_in)
    b, _ = model(pixels.float() / 255.0, tgt_in)
    torch.testing.assert_close(a, b)
    assert [h.tokens for h in model_captions(model, pixels)] == [
        h.tokens for h in model_captions(model, pixels.float() / 255.0)
    ]


class Patches(nn.Module):
    """A tiny replacement encoder: one strided convolution, 4x4 patches."""

    def __init__(self, out_channels=5):
        super().__init__()
        self.conv = nn.Conv2d(3, out_channels, 4, stride=4)
        self.out_channels = out_channels

    def forward(self, x):
        return self.conv(x)


def test_a_replacement_encoder():
    model = Captioner(CaptionConfig(vocab_size=V, embedding_size=6, hidden_size=8), encoder=Patches()).eval()
    tgt_in, _ = targets([[4, 5], [6]])
    _, weights = model(images(2, 16), tgt_in)
    assert weights.shape == (3, 2, 16) and model.grid_shape(16) == (4, 4)
    assert len(greedy(model, images(2, 16), None, max_length=4)) == 2
    bare = Patches(out_channels=7)
    del bare.out_channels  # like a torchvision backbone cut before its pooling: the width is measured
    measured = Captioner(CaptionConfig(vocab_size=V, embedding_size=6, hidden_size=8), encoder=bare)
    assert measured.attention.memory_size == 7 and measured.grid_shape(16, 32) == (4, 8)
    wrong = Patches()
    wrong.out_channels = "five"
    with pytest.raises(ValueError, match="out_channels") as e:
        Captioner(CaptionConfig(vocab_size=V, embedding_size=6, hidden_size=8), encoder=wrong)
    assert "\n" not in str(e.value)
    # the dot score needs the encoder's own width, not the built-in encoder's, to equal hidden_size
    dot = CaptionConfig(vocab_size=V, embedding_size=6, hidden_size=5, score="dot", channels="4,8,16")
    assert Captioner(dot, encoder=Patches(out_channels=5)).attention.memory_size == 5
    with pytest.raises(ValueError, match="dot"):
        Captioner(dot, encoder=Patches(out_channels=6))


@pytest.mark.parametrize(
    ("options", "name"),
    [
        (dict(channels=""), "channels"),
        (dict(channels="0,3"), "channels"),
        (dict(channels="a"), "channels"),
        (dict(attention="hard"), "attention"),
        (dict(attention="none", input_feeding=True), "input_feeding"),
        (dict(score="dot", channels="4,8,16", hidden_size=8), "score"),
        (dict(handover="both"), "handover"),
        (dict(cell="nope"), "cell"),
    ],
)
def test_bad_configs_are_refused_in_one_line(options, name):
    config = CaptionConfig(**{**dict(vocab_size=V, channels="4,8,8", hidden_size=8), **options})
    with pytest.raises(ValueError, match=name) as e:
        Captioner(config)
    assert "\n" not in str(e.value)


def test_dot_score_with_matching_width():
    model = tiny(score="dot", channels="4,8,8", hidden_size=8)
    assert len(model_captions(model, images(2))) == 2


def test_gradients_reach_the_encoder():
    model = tiny().train()
    tgt_in, tgt_out = targets([[4, 5, 6], [7]])
    logits, weights = model(images(2), tgt_in)
    ce, penalty = caption_loss(logits, tgt_out, weights, 1.0)
    (ce + penalty).backward()
    first = model.encoder.net[0]
    assert isinstance(first, nn.Conv2d) and first.weight.grad.abs().sum() > 0


def test_the_doubly_stochastic_penalty():
    T, B, G = 4, 2, 3
    logits = torch.zeros(T, B, V)
    tgt_out = torch.tensor([[4, 5], [6, EOS], [7, PAD], [EOS, PAD]])  # 4 and 2 words
    even = torch.zeros(T, B, G)
    even[:, 0] = 1.0 / T  # each cell looked at 1/4 at each of 4 words: once in all
    even[:2, 1] = 0.5  # 2 words
    even[2:, 1] = torch.tensor([0.9, 0.05, 0.05])  # padded words: must not count
    ce, penalty = caption_loss(logits, tgt_out, even, 1.0)
    assert ce.item() == pytest.approx(torch.log(torch.tensor(float(V))).item(), rel=1e-6)
    assert penalty.item() == pytest.approx(0.0, abs=1e-12)
    focused = torch.zeros(T, B, G)
    focused[..., 0] = 1.0  # always the first cell
    _, p1 = caption_loss(logits, tgt_out, focused, 1.0)
    # image 0: (1 - 4)^2 + 1 + 1 = 11; image 1: (1 - 2)^2 + 1 + 1 = 3; over the 6 words (</s> too)
    assert p1.item() == pytest.approx(14.0 / 6)
    _, p2 = caption_loss(logits, tgt_out, focused, 0.5)
    assert p2.item() == pytest.approx(7.0 / 6)
    _, summed = caption_loss(logits, tgt_out, focused, 1.0, reduction="sum")
    assert summed.item() == pytest.approx(14.0)  # the paper's: added to the summed cross-entropy
    assert caption_loss(logits, tgt_out, None, 1.0)[1].item() == 0


def test_seq2seq_still_decodes():
    model = Seq2Seq(Seq2SeqConfig(source_vocab=11, target_vocab=9, embedding_size=6, hidden_size=8, dropout=0.0))
    src = torch.randint(4, 11, (5, 2))
    src[3:, 1] = PAD
    lengths = torch.tensor([5, 3])
    best = greedy(model, src, lengths, max_length=5)
    beams = beam_search(model, src, lengths, beam=1, max_length=5, length_penalty=0.0)
    assert [h.tokens for h in best] == [b[0].tokens for b in beams]
    assert all(BOS not in h.tokens and PAD not in h.tokens for h in best)
    assert len(beam_search(model, src, lengths, beam=3, max_length=5, nbest=3)[1]) == 3


def test_precise_statistics_make_evaluation_match_the_batch():
    torch.manual_seed(3)
    model = tiny()
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    model.train()
    with torch.no_grad():
        for _ in range(3):  # the moving average of a few training steps lags behind the batch
            model.grid(images)
        in_training = model.grid(images)  # normalised by the batch's own statistics
    model.eval()
    with torch.no_grad():
        assert not torch.allclose(model.grid(images), in_training, rtol=2e-2, atol=2e-2)
        assert model.refresh_statistics([images]) > 0
        # equal but for the running variance's n / (n - 1) (n: the 16 x 4 x 4 values of the last layer)
        assert torch.allclose(model.grid(images), in_training, rtol=2e-2, atol=2e-2)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert not model.encoder.training and all(m.momentum == 0.1 for m in norms)
    conv = nn.Conv2d(3, 4, 3)
    conv.out_channels = 4  # already so: a Conv2d says its width
    bare = Captioner(CaptionConfig(vocab_size=V, channels="4"), encoder=conv)
    assert bare.refresh_statistics([images]) == 0  # an encoder without batch normalisation: nothing to do
