"""Character tasks of Jozefowicz, Zaremba & Sutskever (2015), "An Empirical Exploration of Recurrent
Network Architectures", built to rank cells after a short training: one-hot characters in, the
next character (or the answer) out at every step (kind ``classify-every``).

- ``arithmetic``: read ``a+b=`` or ``a-b=`` one character per step, then write the result. ``T`` is
  the most digits of a number. The paper used numbers of up to 8 digits and put a random number of
  distractor symbols between the characters of the question. 8 digits is out of reach of a short
  run on a CPU; the defaults, 3 digits and 0 or 1 distractor per gap, leave a GRU of 128 units
  with 6-11% of the answers exactly right after 90 s on one thread (measured, see the README).
- ``xml``: model generated XML one character at a time; only the characters of a closing tag
  (its name and its ``>``) can be predicted, by remembering the stack of open tags. ``T`` is the
  number of characters.

The baseline of both is a model without memory: the best prediction of the target from the current
input character alone (a table fitted on the training split's evaluation set, scored on the test
set with the task's own loss and metrics).
"""

from __future__ import annotations

from functools import cached_property

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnlab import checks
from rnnlab.data.task_base import IGNORE, SyntheticTask, cross_entropy

LETTERS = "abcdefghijklmnopqrstuvwxyz"


class CharTask(SyntheticTask):
    """A synthetic task over a fixed alphabet: one-hot inputs, a class (or :data:`IGNORE`) per step.

    Subclasses set :attr:`alphabet` and generate sequences of character indices in :meth:`draw`.
    """

    kind, metric, higher_is_better = "classify-every", "accuracy", True
    alphabet = ""
    memoryless = "predict from the current input character alone"  # what the baseline is

    def encode(self, text: str) -> list[int]:
        """The indices of the characters of ``text``."""
        return [self.alphabet.index(c) for c in text]

    def decode(self, x: Tensor) -> list[str]:
        """The text of each sequence of a one-hot batch ``x (T, B, V)`` (or of indices ``(T, B)``)."""
        ids = x.argmax(-1) if x.dim() == 3 else x
        return ["".join(self.alphabet[i] for i in column) for column in ids.t().tolist()]

    def one_hot(self, ids: Tensor) -> Tensor:
        """``(T, B)`` character indices -> ``(T, B, V)`` float32 one-hot inputs."""
        return F.one_hot(ids.contiguous(), len(self.alphabet)).float()

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return cross_entropy(pred, y)  # steps whose target is IGNORE count for nothing

    @cached_property
    def baseline(self) -> dict:
        # memoryless: the most likely target given the current input character, from counts on the
        # training split (add-half smoothing), scored on the test split like any model
        x, y = self.evaluation_set("train")
        inputs, targets = x.argmax(-1), y
        seen = targets != IGNORE
        counts = torch.full((self.input_size, self.output_size), 0.5, dtype=torch.float64)
        counts.index_put_((inputs[seen], targets[seen]), torch.ones(int(seen.sum()), dtype=torch.float64), True)
        table = (counts / counts.sum(1, keepdim=True)).log().float()  # (V_in, C) log-probabilities
        x, y = self.evaluation_set("test")
        pred = table[x.argmax(-1)]  # (T, N, C)
        return {"loss": float(self.loss(pred, y)), **self.metrics(pred, y), "what": self.memoryless}


class ArithmeticTask(CharTask):
    """Add or subtract two numbers read as characters, then write the result.

    Each number has a length ``n`` uniform in ``1..T`` and is uniform below ``10**n`` (as in
    :mod:`rnnlab.data.addition`); the operation is ``+`` or ``-`` with probability 1/2, and a
    difference may be negative. Between two successive characters of the question come 0 to
    :attr:`distractors` distractor letters (uniform count, letters uniform among ``a..j``). The
    question is padded with blanks on the left so that every ``=`` falls on the same step; the
    answer follows on blank inputs, right-aligned in ``T + 1`` characters (blanks, an optional
    ``-``, the digits), its first character being the target at the ``=`` step. Question steps
    carry no target. Example with ``T = 3``, no distractors: ``"   12-345=   "`` with the
    answer ``"-333"`` as targets of the last 4 steps.

    Metrics: ``accuracy``, the fraction of answers right in every character (the paper's measure,
    an exact sequence); ``char_accuracy``, the fraction of answer characters right.

    Args:
        name: registry name.
        steps: ``T``, the most digits of a number (default 3, at most :attr:`max_digits`).
        seed: seed of the evaluation sets.
        distractors: the most distractor letters between two characters of the question (default 1).
    """

    alphabet = " 0123456789+-=abcdefghij"
    distractor_letters = "abcdefghij"
    max_digits = 15  # exact in float64
    memoryless = "predict each answer character from the current input character alone"

    def __init__(
        self, name: str = "arithmetic", steps: int | None = None, seed: int = 0, distractors: int = 1, **kwargs
    ) -> None:
        digits = 3 if steps is None else steps
        if digits > self.max_digits:
            raise ValueError(f"-T: arithmetic takes numbers of at most {self.max_digits} digits, got {digits}")
        self.distractors = checks.non_negative_int("distractors", distractors)
        self.width = digits + 1  # the answer: a sum of T + 1 digits, or '-' and T digits
        gaps = 2 * digits + 1  # between the 2T + 2 characters of the longest question
        self.question = 2 * digits + 2 + self.distractors * gaps  # steps of the longest question
        V = len(self.alphabet)
        super().__init__(name, digits, self.question + self.width - 1, V, V, seed, **kwargs)

    def draw(self, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        B, D, k = batch_size, self.steps, self.distractors
        lengths = torch.randint(1, D + 1, (2, B), generator=generator)
        numbers = (torch.rand(2, B, generator=generator, dtype=torch.float64) * 10.0**lengths).floor().long()
        minus = torch.randint(0, 2, (B,), generator=generator).bool()
        gaps = 2 * D + 1
        counts = torch.randint(0, k + 1, (B, gaps), generator=generator).tolist()
        letters = torch.randint(0, len(self.distractor_letters), (B, gaps, max(k, 1)), generator=generator).tolist()
        ids = torch.full((self.length, B), self.alphabet.index(" "), dtype=torch.long)  # (L, B)
        y = torch.full((self.length, B), IGNORE, dtype=torch.long)  # (L, B)
        for b, (a, c, sub) in enumerate(zip(*numbers.tolist(), minus.tolist())):
            question = []
            for g, char in enumerate(f"{a}{'-' if sub else '+'}{c}="):
                if g:  # distractors only between two characters
                    question += [self.distractor_letters[i] for i in letters[b][g - 1][: counts[b][g - 1]]]
                question.append(char)
            ids[self.question - len(question) : self.question, b] = torch.tensor(self.encode("".join(question)))
            answer = str(a - c if sub else a + c).rjust(self.width)
            y[self.question - 1 :, b] = torch.tensor(self.encode(answer))
        return self.one_hot(ids), y  # (L, B, V), (L, B)

    @torch.no_grad()
    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        scored = y != IGNORE  # (L, B)
        right = (pred.argmax(-1) == y) | ~scored
        chars = (right & scored).sum() / scored.sum().clamp(min=1)
        return {"accuracy": float(right.all(0).float().mean()), "char_accuracy": float(chars)}

    def describe(self) -> str:
        return (
            f"arithmetic: a+b= or a-b= with numbers of up to T = {self.steps} digits, "
            f"0-{self.distractors} distractors between characters; the answer in {self.width} characters "
            f"({self.length} steps)"
        )


class XmlTask(CharTask):
    """Predict the next character of generated XML.

    A stream of tags without text: while no tag is open, or with probability
    :attr:`open_probability` otherwise, a new tag opens (its name 1 to 10 letters, the length and the
    letters uniform); else the innermost open tag closes. Each sequence is the first ``T + 1``
    characters of a fresh stream; the input is the first ``T``, the target the next character at
    every step. The loss is the cross-entropy of every next character (a character model of the
    stream); the headline ``accuracy`` counts only the characters that the past determines and a
    model needs memory for: the name and ``>`` of a closing tag (after ``</``), pooled over the
    batch. The ``<`` after each ``>`` is certain too but needs no memory, so it is not counted.

    Args:
        name: registry name.
        steps: ``T``, characters per sequence (default 32, about four tags, which a
            GRU learns in about a minute on one thread; at 64 it barely leaves the baseline then).
        seed: seed of the evaluation sets.
    """

    alphabet = "<>/" + LETTERS
    open_probability = 0.5
    name_lengths = (1, 10)
    memoryless = "predict the next character from the current one alone"

    def __init__(self, name: str = "xml", steps: int | None = None, seed: int = 0, **kwargs) -> None:
        steps = 32 if steps is None else steps
        V = len(self.alphabet)
        super().__init__(name, steps, steps, V, V, seed, **kwargs)

    def draw(self, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        B, L = batch_size, self.steps + 1
        low, high = self.name_lengths
        # each tag takes at least 3 characters, so L draws of each kind are more than a stream needs
        coins = torch.rand(B, L, generator=generator).tolist()
        sizes = torch.randint(low, high + 1, (B, L), generator=generator).tolist()
        letters = torch.randint(0, len(LETTERS), (B, L * high), generator=generator).tolist()
        streams = []
        for b in range(B):
            text, stack, used = "", [], 0
            for event in range(L):
                if len(text) >= L:
                    break
                if not stack or coins[b][event] < self.open_probability:
                    tag = "".join(LETTERS[i] for i in letters[b][used : used + sizes[b][event]])
                    used += sizes[b][event]
                    stack.append(tag)
                    text += f"<{tag}>"
                else:
                    text += f"</{stack.pop()}>"
            streams.append(self.encode(text[:L]))
        ids = torch.tensor(streams, dtype=torch.long).t()  # (L, B)
        return self.one_hot(ids[:-1]), ids[1:].contiguous()  # (T, B, V), (T, B)

    def predictable(self, y: Tensor) -> Tensor:
        """``(T, B)`` bool: the targets inside a closing tag after its ``/`` (name letters and ``>``),
        found from the targets alone: the last ``/`` or ``>`` before the step is a ``/``."""
        slash, close = self.alphabet.index("/"), self.alphabet.index(">")
        T = y.shape[0]
        steps = torch.arange(T).unsqueeze(1).expand_as(y)  # (T, B)
        marks = torch.where((y == slash) | (y == close), steps, torch.full_like(steps, -1))
        upto = marks.cummax(0).values  # the last mark at or before each step
        before = torch.cat([torch.full_like(upto[:1], -1), upto[:-1]])  # strictly before
        return (before >= 0) & (y.gather(0, before.clamp(min=0)) == slash)

    @torch.no_grad()
    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        scored = self.predictable(y)
        right = pred.argmax(-1) == y
        return {
            "accuracy": float((right & scored).sum() / scored.sum().clamp(min=1)),
            "char_accuracy": float(right.float().mean()),
        }

    def describe(self) -> str:
        return f"xml: next character of generated nested tags (names of 1-10 letters), T = {self.steps} characters"
