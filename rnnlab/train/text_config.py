"""Training settings of the classifier and the tagger (``rnnlab train --task classify|tag``).

Like :class:`rnnlab.train.config.TrainConfig` these are the single source of defaults: the CLI
flags are made from the fields and the resolved settings are saved in the run's ``config.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnlab import checks
from rnnlab.configs import check_fields
from rnnlab.data.conll import SCHEMES
from rnnlab.data.words import TOKENIZERS
from rnnlab.train.config import OPTIMIZERS, check_optimisation, parse_duration


@dataclass
class FitConfig:
    """What the two tasks share: data splits, optimisation, stopping."""

    data: str = field(default="", metadata={"help": "a named data set or a file (see the task's list)"})
    val_data: str = field(default="", metadata={"help": "validation file; '' = split it off the training data"})
    test_data: str = field(default="", metadata={"help": "test file; '' = split it off (or the named set's own)"})
    val_fraction: float = field(default=0.1, metadata={"help": "share held out for validation"})
    test_fraction: float = field(default=0.1, metadata={"help": "share held out for testing"})
    min_freq: int = field(default=1, metadata={"help": "words seen fewer times in training read as <unk>"})
    max_vocab: int = field(default=0, metadata={"help": "at most this many words (0 = no limit)"})
    lowercase: bool = field(default=True, metadata={"help": "look words up lowercased"})
    epochs: int = field(default=20, metadata={"help": "passes over the training data at most"})
    patience: int = field(default=5, metadata={"help": "stop after this many epochs without a better validation score"})
    batch_size: int = field(default=32, metadata={"help": "examples per step"})
    optimizer: str = field(default="adam", metadata={"help": ", ".join(OPTIMIZERS)})
    lr: float = field(default=0.001, metadata={"help": "learning rate"})
    weight_decay: float = field(default=0.0, metadata={"help": "L2 penalty"})
    clip_norm: float = field(default=5.0, metadata={"help": "clip the gradient's global norm (0 = off)"})
    clip_value: float = field(default=0.0, metadata={"help": "clip every gradient entry to [-v, v] (0 = off)"})
    time_budget: str = field(default="", metadata={"help": "stop after this long, e.g. 10m; '' = none"})
    seed: int = field(default=1234, metadata={"help": "seed of the splits, the initialisation and the batches"})

    def validate(self) -> None:
        check_fields(self)
        if not self.data:
            checks.fail("data", "a named data set or a file", "nothing (give --data)")
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0 < value < 0.5:
                checks.fail(name, "a share between 0 and 0.5", value)
        for name in ("epochs", "batch_size", "min_freq"):
            checks.positive_int(name, getattr(self, name))
        for name in ("patience", "max_vocab"):
            checks.non_negative_int(name, getattr(self, name))
        check_optimisation(self)
        parse_duration(self.time_budget)

    @property
    def budget_s(self) -> float | None:
        return parse_duration(self.time_budget)


LEVELS = ("word", "char")


@dataclass
class ClassifyConfig(FitConfig):
    """Training a classifier on labelled texts."""

    label_column: str = field(default="label", metadata={"help": "CSV/TSV column of the labels"})
    text_column: str = field(default="text", metadata={"help": "CSV/TSV column of the texts"})
    level: str = field(default="word", metadata={"help": "read texts as words or as characters"})
    tokenizer: str = field(default="regex", metadata={"help": "word tokenizer: " + ", ".join(TOKENIZERS)})
    max_length: int = field(default=0, metadata={"help": "read at most this many tokens of a text (0 = all)"})
    baseline: bool = field(default=True, metadata={"help": "also fit TF-IDF + logistic regression on the same split"})

    def validate(self) -> None:
        super().validate()
        if self.level not in LEVELS:
            checks.fail("level", "one of " + ", ".join(LEVELS), self.level)
        if self.tokenizer not in TOKENIZERS:
            checks.fail("tokenizer", "one of " + ", ".join(TOKENIZERS), self.tokenizer)
        checks.non_negative_int("max_length", self.max_length)


@dataclass
class TagConfig(FitConfig):
    """Training a tagger on CoNLL-format sentences."""

    batch_size: int = field(default=16, metadata={"help": "sentences per step"})
    tag_column: int = field(
        default=-1,
        metadata={
            "help": "which column after the token holds the tags: 0 = the first, -1 = the last (CoNLL-2003: "
            "0 POS, 1 chunk, 2 entity)"
        },
    )
    tag_scheme: str = field(default="auto", metadata={"help": "the file's tags: " + ", ".join(SCHEMES)})
    bioes: bool = field(
        default=True, metadata={"help": "learn BIO entities as BIOES tags (shown and scored in the file's scheme)"}
    )
    word_dropout: float = field(
        default=0.5, metadata={"help": "read a training word seen once as <unk> with this probability (Lample 2016)"}
    )

    def validate(self) -> None:
        super().validate()
        if self.tag_scheme not in SCHEMES:
            checks.fail("tag_scheme", "one of " + ", ".join(SCHEMES), self.tag_scheme)
        checks.probability("word_dropout", self.word_dropout)
