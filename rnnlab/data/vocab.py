"""Character vocabulary: every distinct character of the training text, in sorted order; and
:func:`vocab_from_json`, which reads either kind (character or word) back from a run."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from rnnlab.data.words import WordVocab


class CharVocab:
    """Maps characters to ids and back.

    Args:
        chars: the distinct characters, in id order.
    """

    kind = "char"
    unit = "char"  # what one token is, in messages

    def __init__(self, chars: list[str]) -> None:
        if not chars or len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
            raise ValueError(f"chars: expected distinct single characters, got {len(chars)} entries")
        self.chars = list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """The vocabulary of ``text``."""
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def missing(self, text: str) -> list[str]:
        """Characters of ``text`` that are not in the vocabulary, sorted."""
        return sorted(set(text) - self.index.keys())

    def encode(self, text: str) -> Tensor:
        """Ids ``(len(text),)`` int64.

        Raises:
            ValueError: naming the characters outside the vocabulary.
        """
        missing = self.missing(text)
        if missing:
            shown = " ".join(repr(c) for c in missing[:20])
            raise ValueError(f"text has {len(missing)} character(s) outside the vocabulary: {shown}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = np.zeros(max(map(ord, self.chars)) + 1, dtype=np.int64)  # code point -> id
        table[[ord(c) for c in self.chars]] = np.arange(len(self.chars))
        return torch.from_numpy(table[codes]) if len(codes) else torch.zeros(0, dtype=torch.int64)

    def decode(self, ids) -> str:
        """The text of a sequence of ids."""
        return "".join(self.chars[int(i)] for i in ids)

    def piece(self, idx: int) -> str:
        """The text one generated id adds."""
        return self.chars[idx]

    def echo(self, prime: str) -> str:
        """How a sample shows its prime: as it is."""
        return prime

    def prime_ids(self, prime: str) -> Tensor:
        """The ids a sample starts from: ``prime``, or else a newline (or the first character)."""
        return self.encode(prime or ("\n" if "\n" in self.index else self.chars[0]))

    def to_json(self) -> dict:
        return {"kind": "char", "chars": "".join(self.chars)}

    @classmethod
    def from_json(cls, obj: dict) -> CharVocab:
        if not isinstance(obj, dict) or obj.get("kind") != "char" or not isinstance(obj.get("chars"), str):
            raise ValueError("vocabulary: expected {'kind': 'char', 'chars': '...'}")
        return cls(list(obj["chars"]))


Vocab = CharVocab | WordVocab


def vocab_from_json(obj: dict) -> Vocab:
    """The vocabulary a run saved, of either kind."""
    kinds = {CharVocab.kind: CharVocab, WordVocab.kind: WordVocab}
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if kind not in kinds:
        raise ValueError(f"vocabulary: unknown kind {kind!r}; expected one of {', '.join(kinds)}")
    return kinds[kind].from_json(obj)
