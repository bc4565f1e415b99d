"""Word vocabulary with ``<unk>`` and ``<eos>``, as in Mikolov's Penn Treebank setup.

Every line of a text is a sentence: its tokens, then ``<eos>``. Words outside the vocabulary
(rarer than ``min_freq``, or beyond ``max_size``) are read as ``<unk>``. Ids: ``<unk>`` is 0,
``<eos>`` 1, then the words by falling frequency (ties in first-seen order), so a vocabulary
built twice from the same text is the same.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import torch
from torch import Tensor

UNK, EOS = "<unk>", "<eos>"

#: tokenizer name -> function from one line to its tokens
TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "whitespace": str.split,
    # <unk> and <eos> as written, words (with inner apostrophes and hyphens), numbers (with , and .)
    # and each other symbol
    "regex": re.compile(r"<unk>|<eos>|\d+(?:[.,]\d+)*|\w+(?:['’-]\w+)*|[^\w\s]").findall,
}


def tokenize(text: str, tokenizer: str = "whitespace") -> list[list[str]]:
    """The non-empty lines of ``text`` as lists of tokens."""
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"tokenizer: expected one of {', '.join(TOKENIZERS)}, got {tokenizer!r}")
    split = TOKENIZERS[tokenizer]
    return [tokens for tokens in map(split, text.splitlines()) if tokens]


class WordVocab:
    """Maps words to ids and back.

    Args:
        words: the vocabulary in id order, starting with ``<unk>`` and ``<eos>``.
        tokenizer: a name in :data:`TOKENIZERS`, used by :meth:`encode`.
    """

    kind = "word"
    unit = "word"  # what one token is, in messages

    def __init__(self, words: list[str], tokenizer: str = "whitespace") -> None:
        if words[:2] != [UNK, EOS] or len(set(words)) != len(words):
            raise ValueError(f"words: expected distinct words starting with {UNK} and {EOS}")
        if tokenizer not in TOKENIZERS:
            raise ValueError(f"tokenizer: expected one of {', '.join(TOKENIZERS)}, got {tokenizer!r}")
        self.words, self.tokenizer = list(words), tokenizer
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def from_text(cls, text: str, max_size: int = 0, min_freq: int = 1, tokenizer: str = "whitespace") -> WordVocab:
        """The vocabulary of ``text``: words seen at least ``min_freq`` times, at most ``max_size``
        entries in all (``<unk>`` and ``<eos>`` included; 0 = no limit)."""
        if max_size and max_size < 3:
            raise ValueError(f"max_size: expected 0 (no limit) or at least 3, got {max_size}")
        if min_freq < 1:
            raise ValueError(f"min_freq: expected an integer >= 1, got {min_freq}")
        counts = Counter(w for line in tokenize(text, tokenizer) for w in line)
        if not counts:
            raise ValueError("text: no tokens")
        counts.pop(UNK, None)  # a text that already marks its rare words (as PTB does)
        counts.pop(EOS, None)
        kept = [w for w, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n >= min_freq]
        if max_size:
            kept = kept[: max_size - 2]
        return cls([UNK, EOS, *kept], tokenizer)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def chars(self) -> list[str]:
        """The tokens in id order (the name the character vocabulary uses)."""
        return self.words

    def tokens(self, text: str) -> list[str]:
        """Every token of ``text``, each line closed by ``<eos>``."""
        return [w for line in tokenize(text, self.tokenizer) for w in (*line, EOS)]

    def ids(self, tokens: list[str]) -> Tensor:
        """Ids ``(len(tokens),)`` int64; unknown words become ``<unk>``."""
        get = self.index.get
        return torch.tensor([get(w, 0) for w in tokens], dtype=torch.int64)

    def encode(self, text: str) -> Tensor:
        """Ids of :meth:`tokens` of ``text``."""
        return self.ids(self.tokens(text))

    def unknown(self, tokens: list[str]) -> list[str]:
        """The tokens outside the vocabulary (read as ``<unk>``), in order, without repeats."""
        return list(dict.fromkeys(w for w in tokens if w not in self.index))

    def decode(self, ids) -> str:
        """Words separated by spaces, ``<eos>`` as a line break."""
        out = []
        for i in ids:
            w = self.words[int(i)]
            out.append("\n" if w == EOS else w + " ")
        return "".join(out).replace(" \n", "\n")

    def missing(self, text: str) -> list[str]:
        """Nothing: words outside the vocabulary are read as ``<unk>``."""
        return []

    def piece(self, idx: int) -> str:
        """The text one generated id adds: the word and a space, or a line break for ``<eos>``."""
        return "\n" if idx == 1 else self.words[idx] + " "

    def echo(self, prime: str) -> str:
        """How a sample shows its prime: followed by a space, as every generated word is."""
        return prime + " " if prime and not prime[-1].isspace() else prime

    def prime_ids(self, prime: str) -> Tensor:
        """The ids a sample starts from: ``<eos>`` (a sentence starts), then the words of ``prime``."""
        words = self.tokens(prime)[:-1] if prime.strip() else []  # a line break inside is an <eos>
        return self.ids([EOS, *words])

    def to_json(self) -> dict:
        return {"kind": self.kind, "words": self.words, "tokenizer": self.tokenizer}

    @classmethod
    def from_json(cls, obj: dict) -> WordVocab:
        if not isinstance(obj, dict) or obj.get("kind") != cls.kind or not isinstance(obj.get("words"), list):
            raise ValueError("vocabulary: expected {'kind': 'word', 'words': [...]}")
        return cls(obj["words"], obj.get("tokenizer", "whitespace"))
