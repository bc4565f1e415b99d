"""Sampling from a language model: temperature, top-k, top-p (nucleus), greedy.

The state is carried from character to character, so each new character costs one step of the
network whatever the length of the text so far: for the standard cells one compiled call for every
layer and the readout (:class:`rnnlab.stepping.Stepper`), for other cells the model itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from rnnlab import checks
from rnnlab.cells.base import State
from rnnlab.data.vocab import Vocab
from rnnlab.models.language_model import LanguageModel
from rnnlab.stepping import Stepper


def sampling_probs(logits: Tensor, temperature: float, top_k: int, top_p: float) -> Tensor:
    """Unnormalised sampling probabilities over the last dimension of ``logits (..., V)``, in float64.

    The logits are divided by ``temperature`` (> 0); with ``top_k > 0`` only the ``k`` largest
    keep their probability; with ``top_p < 1`` only the smallest set of the most likely whose
    mass reaches ``top_p`` (nucleus sampling, Holtzman et al. 2020). Entries that are ``-inf`` stay
    impossible. ``torch.multinomial`` draws from the result row by row.
    """
    top = logits.amax(dim=-1, keepdim=True)
    logits = (logits.double() - top) / temperature  # the best is 0: no overflow whatever the temperature
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        before = sorted_p.cumsum(-1) - sorted_p  # mass of strictly more likely tokens
        keep = torch.zeros_like(probs, dtype=torch.bool).scatter_(-1, order, before < top_p)
        probs = torch.where(keep, probs, torch.zeros_like(probs))  # the smallest set whose mass reaches top_p
    return probs


def pick(logits: Tensor, temperature: float, top_k: int, top_p: float, generator: torch.Generator | None) -> int:
    """Choose the next id from ``logits (V,)``; ``temperature == 0`` is greedy.

    Raises:
        ValueError: if the logits hold NaN or +inf (the model's weights diverged).
    """
    top = float(logits.max())
    if not math.isfinite(top):
        raise ValueError(f"the model's scores are not finite ({top}): its weights diverged; retrain with a lower --lr")
    if temperature == 0:
        return int(logits.argmax())
    probs = sampling_probs(logits, temperature, top_k, top_p)
    return int(torch.multinomial(probs, 1, generator=generator))


def check_sampling(
    temperature: float, top_k: int, top_p: float, length: int, seed: int | None = None, length_name: str = "length"
) -> None:
    """Refuse sampling options out of range: temperature a finite number >= 0 (0 = greedy), top_k
    and length (called ``length_name`` in messages) integers >= 0, top_p in (0, 1], the seed (if
    any) a valid seed."""
    checks.non_negative("temperature", temperature)
    checks.non_negative_int("top_k", top_k)
    if not (checks.is_finite(top_p) and 0 < top_p <= 1):
        checks.fail("top_p", "a number in (0, 1]", top_p)
    checks.non_negative_int(length_name, length)
    if seed is not None:
        checks.seed("seed", seed)


def next_logits(model: LanguageModel, state: State) -> Callable[[int], Tensor]:
    """A function from the next id to the logits ``(V,)`` after it, carrying ``state`` along: one
    compiled call per step where the model's cells allow (:class:`rnnlab.stepping.Stepper`),
    else the model itself on one id."""
    if Stepper.fits(model):
        stepper = Stepper(model, state)
        return lambda idx: stepper(torch.tensor([idx]))[0]
    carried = [state]

    def through_model(idx: int) -> Tensor:
        logits, carried[0] = model(torch.tensor([[idx]]), carried[0])
        return logits[0, 0]

    return through_model


@torch.no_grad()
def generate(
    model: LanguageModel,
    vocab: Vocab,
    prime: str = "",
    length: int = 500,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> Iterator[str]:
    """Yield ``length`` characters that continue ``prime``, one at a time.

    Args:
        prime: the text to start from; empty starts after a newline (or the first character).
        temperature: divides the logits; below 1 is more conservative, 0 is greedy.
        top_k: sample among the ``k`` most likely characters only (0 = all).
        top_p: sample among the most likely characters whose probability reaches ``p``.
        generator: the random stream (seed it for reproducible samples).

    Raises:
        ValueError: for characters of ``prime`` outside the vocabulary (listed) or bad options.
    """
    check_sampling(temperature, top_k, top_p, length)
    was_training = model.training
    model.eval()
    try:
        ids = vocab.prime_ids(prime).view(-1, 1)  # (P, 1)
        logits, state = model(ids)
        last = logits[-1, 0]
        step = next_logits(model, state)
        for _ in range(length):
            idx = pick(last, temperature, top_k, top_p, generator)
            yield vocab.piece(idx)
            last = step(idx)
    finally:
        model.train(was_training)
