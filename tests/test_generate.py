"""Sampling rules."""

import torch

from rnnlab.generate import pick


def test_greedy_and_top_k_and_top_p():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    assert pick(logits, 0.0, 0, 1.0, None) == 0
    gen = torch.Generator().manual_seed(0)
    top2 = {pick(logits, 1.0, 2, 1.0, gen) for _ in range(300)}
    assert top2 == {0, 1}
    nucleus = {pick(logits, 1.0, 0, 0.75, gen) for _ in range(300)}
    assert nucleus == {0, 1}  # 0.5 < 0.75 <= 0.8: the two likeliest
    tiny = {pick(logits, 1.0, 0, 0.4, gen) for _ in range(100)}
    assert tiny == {0}
    everything = {pick(logits, 1.0, 0, 1.0, gen) for _ in range(2000)}
    assert everything == {0, 1, 2, 3}


def test_low_temperature_sharpens():
    logits = torch.tensor([1.0, 0.0])
    gen = torch.Generator().manual_seed(0)
    cold = sum(pick(logits, 0.1, 0, 1.0, gen) for _ in range(500))
    warm = sum(pick(logits, 1.0, 0, 1.0, gen) for _ in range(500))
    assert cold < 5 < warm
