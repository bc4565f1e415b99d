"""Vocabularies for classification and tagging: tokens with padding and ``<unk>``, and label sets.

A :class:`TokenVocab` maps words (or characters) to ids with ``<pad>`` at 0 and ``<unk>`` at 1,
then the tokens by falling frequency (ties in first-seen order), so it is the same each time it
is built from the same data. A :class:`Labels` maps class or tag names to ids, in sorted order.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

PAD, UNK = "<pad>", "<unk>"
_DIGIT = re.compile(r"\d")


def normalise(word: str, lowercase: bool) -> str:
    """The form a word is looked up in: lowercased if asked, every digit read as 0 (Lample et al. 2016)."""
    return _DIGIT.sub("0", word.lower() if lowercase else word)


class TokenVocab:
    """Tokens in id order, ``<pad>`` and ``<unk>`` first.

    Args:
        tokens: the vocabulary, starting with ``<pad>`` and ``<unk>``.
    """

    def __init__(self, tokens: list[str]) -> None:
        if tokens[:2] != [PAD, UNK] or len(set(tokens)) != len(tokens):
            raise ValueError(f"tokens: expected distinct tokens starting with {PAD} and {UNK}")
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, sequences: Iterable[Iterable[str]], min_freq: int = 1, max_size: int = 0) -> TokenVocab:
        """The tokens of ``sequences`` seen at least ``min_freq`` times, at most ``max_size`` in all
        (``<pad>`` and ``<unk>`` included; 0 = no limit)."""
        if min_freq < 1:
            raise ValueError(f"min_freq: expected an integer >= 1, got {min_freq}")
        if max_size and max_size < 3:
            raise ValueError(f"max_vocab: expected 0 (no limit) or at least 3, got {max_size}")
        counts = Counter(t for seq in sequences for t in seq)
        counts.pop(PAD, None)
        counts.pop(UNK, None)
        kept = [t for t, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n >= min_freq]
        if max_size:
            kept = kept[: max_size - 2]
        return cls([PAD, UNK, *kept])

    def __len__(self) -> int:
        return len(self.tokens)

    def ids(self, tokens: Iterable[str]) -> list[int]:
        """The ids of ``tokens``; unknown ones are ``<unk>`` (1)."""
        get = self.index.get
        return [get(t, 1) for t in tokens]

    def to_json(self) -> list[str]:
        return self.tokens

    @classmethod
    def from_json(cls, obj) -> TokenVocab:
        if not isinstance(obj, list) or not all(isinstance(t, str) for t in obj):
            raise ValueError("vocabulary: expected a list of strings")
        return cls(obj)


class Labels:
    """Class or tag names in id order (sorted).

    Args:
        names: distinct names.
    """

    def __init__(self, names: list[str]) -> None:
        if not names or len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise ValueError("labels: expected distinct non-empty names")
        self.names = list(names)
        self.index = {n: i for i, n in enumerate(self.names)}

    @classmethod
    def build(cls, labels: Iterable[str]) -> Labels:
        return cls(sorted(set(labels)))

    def __len__(self) -> int:
        return len(self.names)

    def ids(self, labels: Iterable[str]) -> list[int]:
        """Ids of known labels (a label outside the set is a ``KeyError`` naming it)."""
        return [self.index[n] for n in labels]

    def to_json(self) -> list[str]:
        return self.names

    @classmethod
    def from_json(cls, obj) -> Labels:
        if not isinstance(obj, list):
            raise ValueError("labels: expected a list of strings")
        return cls(obj)
