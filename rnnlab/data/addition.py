"""Addition as translation: ``"535+61"`` to ``"596"``, the task of the Keras example "Sequence to
sequence learning for performing number addition" (https://keras.io/examples/nlp/addition_rnn/),
after Zaremba & Sutskever, "Learning to Execute" (2014).

As in that example, each number has a length drawn uniformly from 1 to ``digits``, then that many
digits drawn uniformly (so ``"07"`` is the number 7), and a question counts once whatever the order of
its two numbers (``"61+535"`` repeats ``"535+61"``). The Keras example pads every question and answer
with spaces to a fixed length, because its decoder emits a fixed number of characters; a decoder
here stops at ``EOS``, so nothing is padded. ``reverse=True`` reverses each question string
(``"16+535"``), the example's trick, after Sutskever et al. (2014), of bringing the first digits
of the answer close to the digits they depend on.

Splits (:data:`SIZES`): the example draws 50,000 distinct questions, shuffles them and holds out
10% for validation; here 55,000 distinct questions are drawn with a fixed seed and dealt at random
into 45,000 training, 5,000 validation and a fixed test set of 5,000, so every split has the same
mix of lengths and no question is in two splits (:func:`rnnlab.data.parallel.draw_splits`).
"""

from __future__ import annotations

import random

from rnnlab.data.corpora import DataError
from rnnlab.data.parallel import Pair, Splits, draw_splits

#: questions a split
SIZES = {"test": 5_000, "valid": 5_000, "train": 45_000}


def draw_number(rng: random.Random, digits: int) -> int:
    """A number of 1 to ``digits`` digits: the length ``n`` uniform, then each digit uniform, which is
    a number drawn uniformly below ``10**n``."""
    return rng.randrange(10 ** rng.randint(1, digits))


def draw_sum(rng: random.Random, digits: int) -> Pair:
    """One ``("a+b", "a+b's value")`` pair, unreversed."""
    a, b = draw_number(rng, digits), draw_number(rng, digits)
    return f"{a}+{b}", str(a + b)


def _question(pair: Pair) -> tuple[int, int]:
    a, b = map(int, pair[0].split("+"))
    return min(a, b), max(a, b)


def make_addition(seed: int = 0, digits: int = 3, reverse: bool = False, sizes: dict[str, int] | None = None) -> Splits:
    """The addition pairs of ``seed`` (see the module docstring).

    Args:
        seed: seeds the draw and the deal into splits (the same seed gives the same pairs).
        digits: the most digits a number has.
        reverse: reverse each question string (the answers stay as written).
        sizes: split name -> questions (default :data:`SIZES`).

    Returns:
        ``{"train": [...], "valid": [...], "test": [...]}`` of ``(question, answer)`` pairs.

    Raises:
        ValueError: ``digits`` below 1.
        DataError: more questions asked for than half of the distinct ones ``digits`` allows.
    """
    if digits < 1:
        raise ValueError(f"digits: expected an integer >= 1, got {digits}")
    sizes = sizes or SIZES
    distinct = 10**digits * (10**digits + 1) // 2  # unordered pairs of numbers below 10**digits
    if sum(sizes.values()) * 2 > distinct:
        raise DataError(
            f"data: {sum(sizes.values()):,} addition questions asked for, but {digits} digit(s) give only "
            f"{distinct:,} distinct ones; ask for at most half of them, or allow more digits"
        )
    splits = draw_splits(lambda rng: draw_sum(rng, digits), sizes, seed, key=_question)
    if reverse:
        splits = {name: [(q[::-1], a) for q, a in pairs] for name, pairs in splits.items()}
    return {name: splits[name] for name in ("train", "valid", "test") if name in splits}
