"""Tokenizers of one side (source or target) of a sequence-to-sequence task: characters, words or
subwords, with the reserved ids of :mod:`rnnlab.data.symbols` (``PAD`` 0, ``BOS`` 1, ``EOS`` 2,
``UNK`` 3) and the tokens from id 4 on.

Unlike :class:`rnnlab.data.tokens.TokenVocab` (classification and tagging: ``<pad>`` and ``<unk>``
only), a :class:`Tokenizer` also turns ids back into text, which is what BLEU scores: sacrebleu
tokenizes the hypothesis and the reference itself (its ``13a`` tokenizer), so the text a decoder
writes must read as ordinary text.

Kinds (:data:`KINDS`):

- ``char``: every character a token; decoding concatenates them.
- ``word``: :func:`split_words`: a number with its decimal points (``3.5``, ``1,000``), a word with its
  inner hyphens and apostrophes (``well-known``, ``don't``; ``\\w`` is any Unicode letter or digit), or
  any other single non-space character (punctuation) is a token. Decoding joins them with spaces but
  none before ``. , ; : ! ? % ) ] } » …`` nor after ``( [ { ¿ ¡ «`` (:func:`join_words`); other spacing
  (around quotes and dashes) reads back spaced.
- ``subword``: a SentencePiece unigram model (Kudo 2018, "Subword Regularization"; Kudo & Richardson
  2018, "SentencePiece"), trained in memory on the training texts, with every character of them
  kept (``character_coverage=1.0``) and SentencePiece's default NFKC normalisation; decoding is
  SentencePiece's own. ``vocab_size`` is an upper bound: a small corpus yields fewer pieces.

``char`` and ``word`` keep the tokens seen at least ``min_freq`` times, most frequent first (ties in
the order first seen), at most ``vocab_size`` ids in all. ``lowercase`` lowercases texts before
anything else (for subwords: SentencePiece's ``nmt_nfkc_cf`` case-folding rule, kept in the model).
An unknown token is ``UNK`` and decodes as ``⁇`` (:data:`UNK_SURFACE`, SentencePiece's choice too).

A tokenizer is saved as JSON (:meth:`Tokenizer.to_json`), inside the run's ``config.json``: kind,
lowercase and tokens for ``char`` and ``word``; for ``subword`` the SentencePiece model (its protobuf
bytes, never executed) in base64.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable

from rnnlab.data.corpora import DataError
from rnnlab.data.symbols import BOS, EOS, PAD, SPECIALS, UNK

KINDS = ("char", "word", "subword")
UNK_SURFACE = "\u2047"
_WORD = re.compile(r"\d+(?:[.,:]\d+)+|\w+(?:[-'’]\w+)*|\S")
_NO_SPACE_BEFORE = frozenset(".,;:!?%)]}»…")
_NO_SPACE_AFTER = frozenset("([{¿¡«")


def split_words(text: str) -> list[str]:
    """The word tokens of ``text`` (see the module docstring)."""
    return _WORD.findall(text)


def join_words(tokens: Iterable[str]) -> str:
    """Word tokens back into text: spaces between them, but none before closing punctuation or after
    opening punctuation."""
    out: list[str] = []
    for token in tokens:
        if out and token not in _NO_SPACE_BEFORE and out[-1] not in _NO_SPACE_AFTER:
            out.append(" ")
        out.append(token)
    return "".join(out)


def _content(ids: Iterable[int]) -> list[int]:
    """``ids`` up to the first ``EOS``, without ``PAD`` and ``BOS``."""
    out = []
    for i in ids:
        if i == EOS:
            break
        if i not in (PAD, BOS):
            out.append(int(i))
    return out


class Tokenizer:
    """Text to ids and back for one side of a translation task (see the module docstring).

    Build one with :meth:`train` (on the training split only) or :meth:`load`.
    """

    kind: str

    @classmethod
    def train(
        cls, texts: Iterable[str], kind: str, vocab_size: int = 8000, min_freq: int = 1, lowercase: bool = False
    ) -> Tokenizer:
        """A tokenizer of ``kind`` learnt from ``texts``.

        Args:
            texts: the training texts of one side.
            kind: ``char``, ``word`` or ``subword``.
            vocab_size: the most ids, the 4 reserved ones included.
            min_freq: (``char``, ``word``) tokens seen fewer times are unknown.
            lowercase: lowercase texts first.

        Returns:
            The tokenizer.

        Raises:
            ValueError: an unknown kind, ``vocab_size`` below 5 or ``min_freq`` below 1.
            DataError: no texts, or (``subword``) SentencePiece cannot train on them.
        """
        if kind not in _TRAINERS:
            raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        if vocab_size < len(SPECIALS) + 1:
            raise ValueError(f"vocab_size: expected an integer >= {len(SPECIALS) + 1}, got {vocab_size}")
        if min_freq < 1:
            raise ValueError(f"min_freq: expected an integer >= 1, got {min_freq}")
        texts = [t.lower() if lowercase and kind != "subword" else t for t in texts]
        if not any(t.strip() for t in texts):
            raise DataError(f"{kind} tokenizer: no training text")
        return _TRAINERS[kind].build(texts, kind, vocab_size, min_freq, lowercase)

    @staticmethod
    def from_json(obj: dict) -> Tokenizer:
        """The tokenizer :meth:`to_json` gave.

        Raises:
            DataError: ``obj`` is not a saved tokenizer (one line saying what is wrong).
        """
        try:
            if obj["kind"] == "subword":
                return SubwordTokenizer(base64.b64decode(obj["model"], validate=True))
            return VocabTokenizer(obj["kind"], list(obj["tokens"]), bool(obj["lowercase"]))
        except (KeyError, TypeError, ValueError, binascii.Error) as e:
            raise DataError(f"tokenizer: not a saved tokenizer ({type(e).__name__}: {e})") from e

    def to_json(self) -> dict:
        """What :meth:`from_json` reads back (plain JSON)."""
        raise NotImplementedError

    def piece(self, idx: int) -> str:
        """The token of id ``idx``, as :meth:`tokens` spells it."""
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``'s tokens (no ``BOS`` or ``EOS``; ``UNK`` for unknown tokens)."""
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` up to the first ``EOS``, skipping ``PAD`` and ``BOS``."""
        raise NotImplementedError

    def tokens(self, text: str) -> list[str]:
        """The pieces of ``text``, one per id of :meth:`encode` (labels for attention figures)."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


#: kind -> (split a text into tokens, join tokens into a text)
_SPLIT_JOIN: dict[str, tuple[Callable[[str], list[str]], Callable[[list[str]], str]]] = {
    "char": (list, "".join),
    "word": (split_words, join_words),
}


class VocabTokenizer(Tokenizer):
    """Characters or words with a vocabulary list.

    Args:
        kind: ``char`` or ``word``.
        tokens: the vocabulary in id order, starting with :data:`rnnlab.data.symbols.SPECIALS`.
        lowercase: lowercase texts before splitting them.
    """

    def __init__(self, kind: str, tokens: list[str], lowercase: bool = False) -> None:
        if kind not in _SPLIT_JOIN:
            raise ValueError(f"kind: expected char or word, got {kind!r}")
        if list(tokens[: len(SPECIALS)]) != list(SPECIALS) or len(set(tokens)) != len(tokens):
            raise ValueError(f"tokens: expected distinct tokens starting with {', '.join(SPECIALS)}")
        self.kind, self.lowercase, self.vocab = kind, lowercase, list(tokens)
        self.index = {t: i for i, t in enumerate(self.vocab)}
        self._split, self._join = _SPLIT_JOIN[kind]

    @classmethod
    def build(cls, texts: list[str], kind: str, vocab_size: int, min_freq: int, lowercase: bool) -> VocabTokenizer:
        """The vocabulary of ``texts`` (already lowercased if ``lowercase``); see :meth:`Tokenizer.train`."""
        split = _SPLIT_JOIN[kind][0]
        counts = Counter(t for text in texts for t in split(text))
        for special in SPECIALS:
            counts.pop(special, None)
        kept = [t for t, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n >= min_freq]
        return cls(kind, [*SPECIALS, *kept[: vocab_size - len(SPECIALS)]], lowercase)

    def tokens(self, text: str) -> list[str]:
        return self._split(text.lower() if self.lowercase else text)

    def encode(self, text: str) -> list[int]:
        get = self.index.get
        return [get(t, UNK) for t in self.tokens(text)]

    def decode(self, ids: Iterable[int]) -> str:
        vocab = self.vocab
        return self._join([UNK_SURFACE if i == UNK else vocab[i] for i in _content(ids)])

    def __len__(self) -> int:
        return len(self.vocab)

    def to_json(self) -> dict:
        return {"kind": self.kind, "lowercase": self.lowercase, "tokens": self.vocab}

    def piece(self, idx: int) -> str:
        return self.vocab[idx]


def _spm():
    import sentencepiece

    return sentencepiece


class SubwordTokenizer(Tokenizer):
    """Subwords of a SentencePiece model.

    Args:
        model: the serialised SentencePiece model (its protobuf bytes).

    Raises:
        DataError: bytes that are not a model, or a model whose reserved ids differ from
            :mod:`rnnlab.data.symbols`.
    """

    kind = "subword"

    def __init__(self, model: bytes) -> None:
        try:
            self.sp = _spm().SentencePieceProcessor(model_proto=model)
        except RuntimeError as e:
            raise DataError("tokenizer: not a SentencePiece model") from e
        reserved = (self.sp.pad_id(), self.sp.bos_id(), self.sp.eos_id(), self.sp.unk_id())
        if reserved != (PAD, BOS, EOS, UNK):
            raise DataError(
                f"tokenizer: the model's pad, bos, eos and unk ids are {reserved}, expected {PAD, BOS, EOS, UNK}"
            )
        self.model = model

    @classmethod
    def build(cls, texts: list[str], kind: str, vocab_size: int, min_freq: int, lowercase: bool) -> SubwordTokenizer:
        """A unigram model of ``texts``; see :meth:`Tokenizer.train` (``min_freq`` is not used)."""
        out = io.BytesIO()
        specials = dict(zip(("pad", "bos", "eos", "unk"), zip(SPECIALS, (PAD, BOS, EOS, UNK))))
        try:
            _spm().SentencePieceTrainer.train(
                sentence_iterator=iter(texts),
                model_writer=out,
                model_type="unigram",
                vocab_size=vocab_size,
                hard_vocab_limit=False,  # vocab_size is an upper bound: a small corpus gives what it can
                character_coverage=1.0,
                max_sentence_length=1 << 16,
                normalization_rule_name="nmt_nfkc_cf" if lowercase else "nmt_nfkc",
                unk_surface=UNK_SURFACE,
                minloglevel=2,
                **{f"{k}_id": i for k, (_, i) in specials.items()},
                **{f"{k}_piece": p for k, (p, _) in specials.items()},
            )
        except RuntimeError as e:
            raise DataError(
                f"subword tokenizer: SentencePiece cannot train a vocabulary of {vocab_size}: {_reason(e)}"
            ) from e
        return cls(out.getvalue())

    def tokens(self, text: str) -> list[str]:
        return self.sp.encode(text, out_type=str)

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def decode(self, ids: Iterable[int]) -> str:
        return self.sp.decode(_content(ids))

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    def to_json(self) -> dict:
        return {"kind": self.kind, "model": base64.b64encode(self.model).decode("ascii")}

    def piece(self, idx: int) -> str:
        return self.sp.id_to_piece(idx)


def _reason(error: RuntimeError) -> str:
    """SentencePiece's message without its source location (``INTERNAL: file.cc(638) [check] ``)."""
    text = str(error).strip()
    return text.rsplit("] ", 1)[-1] if "] " in text else text


#: kind -> the class that trains it (``build(texts, kind, vocab_size, min_freq, lowercase)``)
_TRAINERS: dict[str, type[VocabTokenizer] | type[SubwordTokenizer]] = {
    "char": VocabTokenizer,
    "word": VocabTokenizer,
    "subword": SubwordTokenizer,
}
