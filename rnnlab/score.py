"""The probability of a sentence under a word language model, as the seed notes define it:
``P(w_1 .. w_n) = P(w_1 | <eos>) P(w_2 | <eos> w_1) ... P(<eos> | w_1 .. w_n)``.

Each sentence starts from a zero state with ``<eos>`` as its first input (the end of the
sentence before it, as in training on Mikolov's Penn Treebank text); the closing ``<eos>`` is
predicted and counted, so the perplexity is ``exp(-log P / (n + 1))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rnnlab.data.words import EOS, WordVocab
from rnnlab.models.language_model import LanguageModel


@dataclass
class SentenceScore:
    """One sentence's tokens (those outside the vocabulary read as ``<unk>``) and their log-probabilities."""

    text: str
    tokens: list[str]  # the words as written, then <eos>
    known: list[bool]  # whether each token is in the vocabulary
    logprobs: list[float]  # natural log of P(token | everything before it)

    @property
    def logprob(self) -> float:
        return sum(self.logprobs)

    @property
    def perplexity(self) -> float:
        return math.exp(-self.logprob / len(self.logprobs))

    def to_json(self, words: bool = False) -> dict:
        out = {"sentence": self.text, "tokens": len(self.tokens), "logprob": self.logprob,
               "log10prob": self.logprob / math.log(10), "perplexity": self.perplexity}  # fmt: skip
        if words:
            out["words"] = [
                {"token": t, "logprob": lp, "unknown": not k}
                for t, k, lp in zip(self.tokens, self.known, self.logprobs)
            ]
        return out


def sentence_tokens(vocab: WordVocab, sentence: str) -> list[str]:
    """The words of one sentence and ``<eos>``; raises ``ValueError`` for a sentence with no word."""
    words = [w for w in vocab.tokens(" ".join(sentence.splitlines())) if w != EOS]
    if not words:
        raise ValueError("empty sentence: give at least one word")
    return [*words, EOS]


#: the most logits (steps x sentences x vocabulary) computed at once: a long sentence is read in
#: pieces of as many steps as fit, the state carried from one to the next
MAX_LOGITS = 1 << 21


def _target_logprobs(model: LanguageModel, ids: torch.Tensor, vocab_size: int, max_logits: int) -> torch.Tensor:
    """``log P(ids[t + 1] | ids[: t + 1])`` ``(T, B)`` (float64) for ids ``(T + 1, B)``, a piece at a time."""
    T, B = ids.shape[0] - 1, ids.shape[1]
    steps = max(1, max_logits // (B * vocab_size))
    state, picked = None, []
    for a in range(0, T, steps):
        x = ids[a : min(a + steps, T)]
        logits, state = model(x) if state is None else model(x, state)  # (steps, B, V)
        logp = torch.log_softmax(logits.double(), dim=-1)
        picked.append(logp.gather(2, ids[a + 1 : a + 1 + len(x)].unsqueeze(2)).squeeze(2))
    return torch.cat(picked)


@torch.no_grad()
def score_sentences(
    model: LanguageModel, vocab: WordVocab, sentences: list[str], batch: int = 64, max_logits: int = MAX_LOGITS
) -> list[SentenceScore]:
    """Score every sentence (see the module docstring), in the order given.

    Sentences of similar length are scored ``batch`` at a time, padded at the end; the padding
    comes after every counted step, so it changes nothing (the model reads left to right). At most
    ``max_logits`` logits are held at once, so memory does not grow with a sentence's length.
    """
    model.eval()
    toks = [sentence_tokens(vocab, s) for s in sentences]
    order = sorted(range(len(sentences)), key=lambda i: len(toks[i]))
    scores: list[SentenceScore | None] = [None] * len(sentences)
    for start in range(0, len(order), batch):
        group = order[start : start + batch]
        T = max(len(toks[i]) for i in group)
        ids = torch.full((T + 1, len(group)), vocab.index[EOS], dtype=torch.int64)  # (T + 1, B)
        for b, i in enumerate(group):
            ids[1 : len(toks[i]) + 1, b] = vocab.ids(toks[i])
        picked = _target_logprobs(model, ids, len(vocab), max_logits)  # (T, B)
        for b, i in enumerate(group):
            t = toks[i]
            scores[i] = SentenceScore(sentences[i], t, [w in vocab.index for w in t], picked[: len(t), b].tolist())
    return scores  # type: ignore[return-value]
