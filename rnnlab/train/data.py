"""The token ids of a language-model run: corpus -> splits -> vocabulary -> ids, at either level.

Characters: the vocabulary is every character of the corpus. Words: every line is a sentence
closed by ``<eos>``; the vocabulary comes from the training split alone (``max_vocab``,
``min_freq``), and other words are read as ``<unk>``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from torch import Tensor

from rnnlab.data.corpora import DataError
from rnnlab.data.stream import load_splits
from rnnlab.data.vocab import CharVocab, Vocab
from rnnlab.data.words import WordVocab
from rnnlab.train.config import TrainConfig


def fingerprint(text: str) -> dict:
    return {"chars": len(text), "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def _char_vocab(cfg: TrainConfig, splits: dict[str, str]) -> CharVocab:
    return CharVocab.from_text("".join(splits.values()))


def _word_vocab(cfg: TrainConfig, splits: dict[str, str]) -> WordVocab:
    try:
        return WordVocab.from_text(splits["train"], cfg.max_vocab, cfg.min_freq, cfg.tokenizer)
    except ValueError as e:
        raise DataError(f"data: the training text of {cfg.data}: {e}") from e


#: level -> the vocabulary built from a corpus's splits
VOCAB_OF_LEVEL = {"char": _char_vocab, "word": _word_vocab}


@dataclass
class RunData:
    """A run's vocabulary, the ids of each split (``train``, ``valid``, and ``test`` where the corpus has
    one) and the corpus's fingerprint."""

    vocab: Vocab
    ids: dict[str, Tensor]
    info: dict


def load_run_data(
    cfg: TrainConfig, vocab: Vocab | None = None, info: dict | None = None, only: tuple[str, ...] | None = None
) -> RunData:
    """The data of a run trained with ``cfg``.

    Args:
        vocab: the run's own vocabulary, when it is resumed or read (else one is built).
        info: the fingerprint the run saved; the corpus must still match it.
        only: encode just these splits (as ``rnnlab eval`` needs one), not every split.

    Raises:
        DataError: the corpus cannot be read, is not the one of ``info``, or (at the word level)
            holds no words.
    """
    splits = load_splits(cfg.data, cfg.val_fraction)
    found = fingerprint("".join(splits.values()))
    if info is not None and info != found:
        raise DataError(f"data: {cfg.data} is not the corpus this run was trained on")
    if vocab is None:
        vocab = VOCAB_OF_LEVEL[cfg.level](cfg, splits)
    ids = {name: vocab.encode(text) for name, text in splits.items() if only is None or name in only}
    return RunData(vocab, ids, found)
