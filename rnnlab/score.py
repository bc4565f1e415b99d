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


@torch.no_grad()
def score_sentences(
    model: LanguageModel, vocab: WordVocab, sentences: list[str], batch: int = 64
) -> list[SentenceScore]:
    """Score every sentence (see the module docstring), ``batch`` sentences at a time.

    Sentences are padded at the end; the padding comes after every counted step, so it changes
    nothing (the model reads left to right).
    """
    model.eval()
    scores: list[SentenceScore] = []
    for start in range(0, len(sentences), batch):
        chunk = sentences[start : start + batch]
        toks = [sentence_tokens(vocab, s) for s in chunk]
        T = max(map(len, toks))
        ids = torch.full((T + 1, len(chunk)), vocab.index[EOS], dtype=torch.int64)  # (T + 1, B)
        for b, t in enumerate(toks):
            ids[1 : len(t) + 1, b] = vocab.ids(t)
        logp = torch.log_softmax(model(ids[:-1])[0].double(), dim=-1)  # (T, B, V)
        picked = logp.gather(2, ids[1:].unsqueeze(2)).squeeze(2)  # (T, B)
        for b, (s, t) in enumerate(zip(chunk, toks)):
            scores.append(SentenceScore(s, t, [w in vocab.index for w in t], picked[: len(t), b].tolist()))
    return scores
