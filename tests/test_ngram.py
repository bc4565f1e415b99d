"""The character n-gram baseline: interpolated modified Kneser-Ney probabilities computed by hand and
by a direct dictionary implementation, normalisation, unseen characters, order selection, bad input."""

import math
import random
from collections import Counter

import pytest

from rnnlab.ngram import NgramModel, best_order, estimate_discounts, ngram_baseline


def _random_text(n: int, alphabet: str = "abcde \n", seed: int = 0) -> str:
    rng = random.Random(seed)
    # A little structure (runs of one character) so that the higher orders have repeated grams.
    out = []
    while len(out) < n:
        out.extend(rng.choice(alphabet) * rng.choice((1, 1, 2, 3)))
    return "".join(out[:n])


def test_distributions_sum_to_one_over_the_vocabulary():
    train = _random_text(3000)
    model = NgramModel().fit(train, 6)
    contexts = ["", "a", "ab", "zzzzz", " \n", train[-7:], train[100:110], "ab" + "x" * 3]
    for order in range(1, 7):
        for context in contexts:
            dist = model.distribution(context, order, vocabulary="xy")
            assert set(dist) == set(train) | set(context) | {"x", "y"}  # train, context and extra characters
            assert all(p > 0 for p in dist.values())
            assert abs(sum(dist.values()) - 1.0) < 1e-9, (order, context)


def test_order_one_is_the_smoothed_unigram_by_hand():
    # Counts a:4 b:3 c:2 d:1 (N = 10), so n1 = n2 = n3 = n4 = 1 and Chen & Goodman's eq. 26 gives
    # Y = 1/3, D1 = 1 - 2Y = 1/3, D2 = 2 - 3Y = 1, D3+ = 3 - 4Y = 5/3.
    assert estimate_discounts(1, 1, 1, 1) == pytest.approx((1 / 3, 1.0, 5 / 3), abs=1e-15)
    # gamma = (D1 N1 + D2 N2 + D3 N3+) / N = (1/3 + 1 + 2 * 5/3) / 10 = 7/15, spread over |V| = 4:
    # p(a) = (4 - 5/3)/10 + 7/60 = 21/60, p(b) = (3 - 5/3)/10 + 7/60 = 15/60,
    # p(c) = (2 - 1)/10 + 7/60 = 13/60, p(d) = (1 - 1/3)/10 + 7/60 = 11/60.
    model = NgramModel().fit("aaaabbbccd", 1)
    dist = model.distribution("", 1)
    expected = {"a": 21 / 60, "b": 15 / 60, "c": 13 / 60, "d": 11 / 60}
    assert dist.keys() == expected.keys()
    for ch, p in expected.items():
        assert dist[ch] == pytest.approx(p, abs=1e-12)
    # The context does not matter at order 1, and the loss is the mean of -log p.
    assert model.distribution("dcba", 1)["a"] == pytest.approx(21 / 60, abs=1e-12)
    assert model.loss("ab") == pytest.approx(-(math.log(21 / 60) + math.log(15 / 60)) / 2, abs=1e-12)


def test_unseen_character_gets_the_uniform_floor_by_hand():
    # Counts a:3 b:2 c:1: n4 = 0, so the single discount D = n1 / (n1 + 2 n2) = 1/3 is used;
    # gamma = D * 3 / 6 = 1/6, and the vocabulary of "d" is {a, b, c, d}: p(d) = 1/6 * 1/4.
    assert estimate_discounts(1, 1, 1, 0) == (1 / 3, 1 / 3, 1 / 3)
    model = NgramModel().fit("aaabbc", 1)
    assert model.loss("d") == pytest.approx(math.log(24), abs=1e-12)
    dist = model.distribution("", 1, vocabulary="d")
    assert dist["d"] == pytest.approx(1 / 24, abs=1e-12)
    assert dist["a"] == pytest.approx((3 - 1 / 3) / 6 + 1 / 24, abs=1e-12)


def test_order_two_probabilities_by_hand():
    # Training text "abcab", order 2. Bigram (raw) counts: ab:2, bc:1, ca:1, so n1 = 2, n2 = 1,
    # n3 = n4 = 0 and D = n1 / (n1 + 2 n2) = 1/2 for every count.
    # Unigram continuation counts N1+(. w) (the text start is one left neighbour):
    # a: {start, c} = 2, b: {a} = 1, c: {b} = 1, total 4; n1 = 2, n2 = 1, so D = 1/2 again.
    # p1(w) = (N1+(. w) - 1/2) / 4 + gamma1 / 3 with gamma1 = (1/2 * 3) / 4 = 3/8:
    # p1(a) = 3/8 + 1/8 = 1/2, p1(b) = p1(c) = 1/8 + 1/8 = 1/4.
    # p2(w | h) = (c(hw) - D) / c(h.) + gamma2(h) p1(w), gamma2(h) = D * #{w: c(hw) > 0} / c(h.):
    # after "a": c(a.) = 2, gamma2 = 1/4: p(b|a) = 3/4 + 1/16, p(a|a) = 1/4 * 1/2, p(c|a) = 1/4 * 1/4;
    # after "b": c(b.) = 1 (the final b has no successor), gamma2 = 1/2: p(c|b) = 1/2 + 1/8.
    model = NgramModel().fit("abcab", 2)
    after_a = model.distribution("a", 2)
    assert after_a["b"] == pytest.approx(13 / 16, abs=1e-12)
    assert after_a["a"] == pytest.approx(1 / 8, abs=1e-12)
    assert after_a["c"] == pytest.approx(1 / 16, abs=1e-12)
    assert model.distribution("b", 2)["c"] == pytest.approx(5 / 8, abs=1e-12)
    # A text starts fresh: its first character comes from the continuation unigram p1.
    assert model.loss("ab") == pytest.approx(-(math.log(1 / 2) + math.log(13 / 16)) / 2, abs=1e-12)
    # ... unless a history gives it a context: p(b | a) alone.
    assert model.loss("b", history="a") == pytest.approx(-math.log(13 / 16), abs=1e-12)


def _reference_kn(train: str, order: int, vocab: set[str]):
    """Interpolated modified Kneser-Ney straight from the formulas, with dictionaries of strings."""
    raw = Counter(train[i : i + k] for k in range(1, order + 1) for i in range(len(train) - k + 1))
    cont = Counter(train[:k] for k in range(1, order))  # the text start is one left neighbour
    for gram in {train[i : i + k] for k in range(2, order + 1) for i in range(len(train) - k + 1)}:
        cont[gram[1:]] += 1  # one more distinct left neighbour
    # Raw counts at the highest order, continuation counts below; discounts from their count-of-counts.
    levels = {k: {g: c for g, c in (raw if k == order else cont).items() if len(g) == k} for k in range(1, order + 1)}
    discounts = {}
    for k, counts in levels.items():
        n = Counter(counts.values())
        discounts[k] = estimate_discounts(n[1], n[2], n[3], n[4])

    def discount(c: int, k: int) -> float:
        return 0.0 if c == 0 else discounts[k][min(c, 3) - 1]

    def prob(history: str, w: str) -> float:
        p = 1 / len(vocab)
        for k in range(1, min(order, len(history) + 1) + 1):
            h = history[len(history) - k + 1 :] if k > 1 else ""
            follow = [c for g, c in levels[k].items() if g.startswith(h)]
            if sum(follow) == 0:
                continue  # the context never precedes a character in training
            gamma = sum(discount(c, k) for c in follow)
            c = levels[k].get(h + w, 0)
            p = (c - discount(c, k) + gamma * p) / sum(follow)
        return p

    return prob


def test_matches_a_direct_dictionary_implementation():
    train = _random_text(400, alphabet="abc ", seed=1)
    test = _random_text(60, alphabet="abcd ", seed=2)
    vocab = set(train) | set(test)
    model = NgramModel().fit(train, 4)
    got = model.losses(test, range(1, 5))
    for top in range(1, 5):
        ref = _reference_kn(train, top, vocab)
        expected = -sum(math.log(ref(test[:i], test[i])) for i in range(len(test))) / len(test)
        assert got[top] == pytest.approx(expected, abs=1e-12), top


def test_loss_falls_with_order_on_a_repetitive_text():
    # After "a" comes b, c or d in turn: order 2 is unsure, order 3 knows ("ba" -> c, "ca" -> d, "da" -> b).
    text = "abacad" * 200
    losses = NgramModel().fit(text, 4).losses(text, range(1, 5))
    assert losses[1] > losses[2] + 0.5
    assert losses[2] > losses[3] + 0.4
    assert losses[3] < 0.02 and losses[4] < 0.02


def test_deterministic_cycle_is_near_zero_from_order_two():
    text = "abc" * 300
    losses = NgramModel().fit(text, 3).losses(text, [1, 2, 3])
    assert losses[1] == pytest.approx(math.log(3), abs=1e-3)  # each character a third of the time
    assert losses[2] < 0.01 and losses[3] < 0.01
    assert losses[2] > 0  # Kneser-Ney always keeps some mass for the other characters


def test_unseen_characters_have_a_finite_loss():
    model = NgramModel().fit(_random_text(2000), 5)
    loss = model.loss("abc€ é\nab")
    assert math.isfinite(loss) and loss > model.loss("abc ab\nab")


def test_best_order_and_baseline_pick_by_validation():
    train = "the cat sat on the mat. " * 40 + _random_text(500, seed=3)
    valid = "the cat sat on the mat. " * 3
    by_order = best_order(train, valid, orders=[1, 2, 4, 6])
    assert list(by_order) == [1, 2, 4, 6]
    assert by_order[6] < by_order[2] < by_order[1]
    out = ngram_baseline(train, valid, "the mat sat on the cat. ", orders=[1, 2, 4, 6])
    assert out["by_order"] == pytest.approx(by_order, abs=1e-12)
    assert out["order"] == min(by_order, key=by_order.get)
    assert out["val_loss"] == by_order[out["order"]]
    assert out["test_loss"] == pytest.approx(NgramModel().fit(train, 6).loss("the mat sat on the cat. ", out["order"]))


def test_training_text_shorter_than_the_order():
    # "abcab" has no 6- or 7-gram: those orders pass order 5 through unchanged.
    model = NgramModel().fit("abcab", 7)
    losses = model.losses("abcabc", range(1, 8))
    assert losses[7] == pytest.approx(losses[5], abs=1e-12) and losses[6] == pytest.approx(losses[5], abs=1e-12)
    assert losses[2] < losses[1] - 0.5 and math.isfinite(losses[7])
    assert sum(model.distribution("abcab", 7).values()) == pytest.approx(1.0, abs=1e-12)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="order must be an integer >= 1"):
        NgramModel().fit("abc", 0)
    with pytest.raises(ValueError, match="empty training text"):
        NgramModel().fit("", 3)
    with pytest.raises(ValueError, match="not fitted"):
        NgramModel().loss("abc")
    model = NgramModel().fit("abc", 2)
    with pytest.raises(ValueError, match="between 1 and the fitted order 2"):
        model.loss("abc", order=3)
    with pytest.raises(ValueError, match="empty text"):
        model.loss("")
