"""The tagger task, many to many (``rnnlab train --task tag``, ``rnnlab tag``).

Sentences come from a CoNLL file, a file of ATIS-format utterances (:mod:`rnnlab.data.atis`) or a
named set (:mod:`rnnlab.data.conll`); validation and test sentences from their own files, the named
set's own splits, or a seeded random split (``atis`` has no validation split: ``val_fraction`` of
its training utterances are held out). Entity tags in BIO are learned as BIOES (``bioes``) and
turned back for scoring and display. The best weights are those of the best validation entity F1
(accuracy for tags without entities); results hold the validation and test scores of those weights,
per entity type too.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from rnnlab import checks
from rnnlab.checkpoint import CheckpointError
from rnnlab.data.atis import check_formats, read_tagged
from rnnlab.data.batching import pad
from rnnlab.data.conll import CONLL, SCHEMES, Sentence, check_scheme, is_iob1, to_bio, to_bioes
from rnnlab.data.corpora import DataError
from rnnlab.data.tokens import Labels, TokenVocab, normalise
from rnnlab.models.tagger import Tagger, TaggerConfig
from rnnlab.models.taggers import build_tagger
from rnnlab.runs import RunConfig, check_tables, read_config
from rnnlab.tasks.classify import load_best
from rnnlab.tasks.common import EpochBatches, PassTask, TextDataConfig, legacy_sections
from rnnlab.tasks.tag_scores import score
from rnnlab.train.distributed import current


@dataclass
class TagConfig(TextDataConfig):
    """The tagged sentences of a tagger and how they are read."""

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


def _learned(tags: tuple[str, ...], scheme: str, learned: str) -> list[str]:
    """The tags as the model learns them: BIO entities as BIOES if asked."""
    return to_bioes(tags) if scheme == "bio" and learned == "bioes" else list(tags)


@dataclass
class TagEncoder:
    """Sentences to the tensors a :class:`Tagger` reads, and tag ids back to the file's tags."""

    words: TokenVocab
    chars: TokenVocab
    tags: Labels
    lowercase: bool
    scheme: str  # the file's scheme: bio, bioes or none
    learned: str  # the scheme of the tags the model learned
    intents: Labels | None = None  # the utterances' intents (ATIS), where the data have them

    def tag_ids(self, tags: tuple[str, ...]) -> list[int]:
        return self.tags.ids(_learned(tags, self.scheme, self.learned))

    def tag_names(self, ids: list[int]) -> list[str]:
        names = [self.tags.names[i] for i in ids]
        return to_bio(names) if self.learned == "bioes" and self.scheme == "bio" else names

    def batch(self, sentences: list[tuple[str, ...]], unk_words: set[int] | None = None, p: float = 0.0, rng=None):
        """The batch dict of :class:`Tagger` (``tags`` left out), with training words seen once read
        as ``<unk>`` with probability ``p``."""
        return self.tensors(sentences, self.word_ids(sentences, unk_words, p, rng))

    def word_ids(
        self, sentences: list[tuple[str, ...]], unk_words: set[int] | None = None, p: float = 0.0, rng=None
    ) -> list[list[int]]:
        """The words' ids, those in ``unk_words`` read as ``<unk>`` with probability ``p``."""
        word_ids = [self.words.ids(normalise(w, self.lowercase) for w in s) for s in sentences]
        if p and unk_words:
            word_ids = [[1 if w in unk_words and rng.random() < p else w for w in s] for s in word_ids]
        return word_ids

    def tensors(self, sentences: list[tuple[str, ...]], word_ids: list[list[int]]) -> dict:
        """The batch dict of sentences whose word ids are given."""
        words, lengths = pad(word_ids)
        distinct = list(dict.fromkeys(w for s in sentences for w in s))
        row = {w: i for i, w in enumerate(distinct)}
        index = torch.zeros_like(words)
        for b, s in enumerate(sentences):
            index[: len(s), b] = torch.tensor([row[w] for w in s])
        chars, char_lengths = pad([self.chars.ids(w) for w in distinct])
        mask = torch.arange(words.shape[0]).unsqueeze(1) < lengths
        return {
            "words": words,
            "lengths": lengths,
            "mask": mask,
            "chars": chars,
            "char_lengths": char_lengths,
            "word_index": index,
        }


def _split(sentences: list[Sentence], fraction: float, seed: int) -> tuple[list[Sentence], list[Sentence]]:
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    held = set(order[: max(1, round(len(order) * fraction))])
    return [s for i, s in enumerate(sentences) if i not in held], [s for i, s in enumerate(sentences) if i in held]


def _note_unseen(what: str, unseen: Counter) -> None:
    if unseen:
        shown = ", ".join(f"{t!r} ({n})" for t, n in unseen.most_common(5))
        print(f"note: {what} never seen in training, scored as errors: {shown}", file=sys.stderr)


def load_splits(cfg: TagConfig, seed: int) -> dict[str, list[Sentence]]:
    """Training, validation and test sentences (see the module docstring).

    Raises:
        DataError: a file that cannot be read, too few sentences to split, or splits of which
            some have intents (ATIS format) and others do not (CoNLL format).
    """
    if cfg.data in CONLL:
        splits = CONLL[cfg.data]()
        train, val, test = splits["train"], splits["val"], splits["test"]
    else:
        train = read_tagged(cfg.data, cfg.tag_column)
        test = val = None
    share = cfg.val_fraction  # of all the sentences
    if cfg.test_data:
        test = read_tagged(cfg.test_data, cfg.tag_column)
    elif test is None:
        train, test = _split(train, cfg.test_fraction, seed)
        share = cfg.val_fraction / (1 - cfg.test_fraction)
    if cfg.val_data:
        val = read_tagged(cfg.val_data, cfg.tag_column)
    elif val is None:
        train, val = _split(train, share, seed + 1)
    if not train:
        raise DataError("data: too few sentences to split off validation and test sentences")
    check_formats({"training": train, "validation": val, "test": test})
    seen, intents = {t for s in train for t in s.tags}, {s.intent for s in train}
    for name, split in (("validation", val), ("test", test)):
        # rare tags of a large corpus (CoNLL-2003's chunks) can miss the training split: the model
        # cannot predict them, so they count as errors; said once, not refused (so are intents)
        _note_unseen(f"{name} tokens with tags", Counter(t for s in split for t in s.tags if t not in seen))
        _note_unseen(f"{name} utterances with intents", Counter(s.intent for s in split if s.intent not in intents))
    return {"train": train, "val": val, "test": test}


class TagTask(PassTask):
    """A :class:`Tagger` on CoNLL-format sentences.

    Args:
        model_cfg: the architecture (vocabulary, characters and tags are filled in from the data).
        data: the sentences and how to read them.
        batch_size: sentences per step.
        seed: seeds the splits, the initial weights, the batches and word dropout.
        tables: a resumed run's vocabularies, tags and schemes.
    """

    kind = "tag"
    parallel = True
    higher_is_better = True

    def __init__(
        self, model_cfg: TaggerConfig, data: TagConfig, batch_size: int, seed: int, tables: dict | None = None
    ) -> None:
        data.validate()
        self.data, splits = data, load_splits(data, seed)
        scheme = check_scheme({t for s in splits["train"] for t in s.tags}, data.tag_scheme)
        if scheme == "bio" and any(is_iob1(s.tags) for split in splits.values() for s in split):
            print(
                "note: an I- tag begins an entity (IOB1); the tags are read, scored and shown as BIO", file=sys.stderr
            )
            splits = {k: [replace(s, tags=tuple(to_bio(to_bioes(s.tags)))) for s in v] for k, v in splits.items()}
        self.splits = splits
        if tables is None:
            learned = "bioes" if scheme == "bio" and data.bioes else scheme
            train = splits["train"]
            words = TokenVocab.build(
                ([normalise(w, data.lowercase) for w in s.tokens] for s in train), data.min_freq, data.max_vocab
            )
            chars = TokenVocab.build(w for s in train for w in s.tokens)
            tags = Labels.build(t for s in train for t in _learned(s.tags, scheme, learned))
            model_cfg.vocab_size, model_cfg.num_chars, model_cfg.num_tags = len(words), len(chars), len(tags)
            intents = _intents(train, model_cfg)
            model_cfg.num_intents = len(intents) if intents else 0
            self.encoder = TagEncoder(words, chars, tags, data.lowercase, scheme, learned, intents)
        else:
            self.encoder = encoder_of(tables, data)
            _check_known(self.encoder, model_cfg, splits["train"])
        torch.manual_seed(seed)
        self.model = build_tagger(model_cfg)  # checks the architecture before anything is written
        self.metric = _headline(scheme, self.model)
        train = splits["train"]
        counts = Counter(normalise(w, data.lowercase) for s in train for w in s.tokens)
        self.once = {i for w, i in self.encoder.words.index.items() if counts.get(w) == 1}
        self.gold = [torch.tensor(self.encoder.tag_ids(s.tags)) for s in train]
        if self.model.has_intent:
            self.gold_intents = self.encoder.intents.ids(s.intent for s in train)
        self.batch_size = batch_size
        self.batches = EpochBatches([len(s.tokens) for s in train], batch_size, seed)

    @classmethod
    def from_run(cls, run: RunConfig, batch_size: int, seed: int) -> TagTask:
        return cls(run.section("model", TaggerConfig), run.section("data", TagConfig), batch_size, seed, run.tables)

    def next_batch(self):
        indices, rng = self.batches.next()
        sentences = [self.splits["train"][i].tokens for i in indices]
        # the whole batch's word dropout, drawn alike by every process; then this process's part
        ids = self.encoder.word_ids(sentences, self.once, self.data.word_dropout, rng)
        mine, weight = current().take(list(range(len(indices))))
        b = self.encoder.tensors([sentences[j] for j in mine], [ids[j] for j in mine])
        b["tags"] = pad([self.gold[indices[j]] for j in mine])[0]
        if self.model.has_intent:
            b["intents"] = torch.tensor([self.gold_intents[indices[j]] for j in mine], dtype=torch.long)
        return b, weight

    def loss(self, batch):
        batch, weight = batch
        loss = self.model.loss(batch)
        tokens = int(batch["lengths"].sum()) if weight else 0
        return loss * weight, {"loss": loss.item(), "tokens": tokens, "weight": weight}

    def evaluate(self) -> dict[str, float]:
        scores = score(self.model, self.encoder, self.splits["val"], current())
        return self.validation(scores)

    def format_scores(self, scores: dict[str, float]) -> str:
        shown = ("precision", "recall", "f1", "accuracy", "intent_accuracy", "sentence_accuracy")
        return "val " + " ".join(f"{k} {scores[f'val_{k}']:.4f}" for k in shown if f"val_{k}" in scores)

    def tables(self):
        e = self.encoder
        return {
            **{"vocab": e.words.to_json(), "chars": e.chars.to_json(), "tags": e.tags.to_json()},
            **{"scheme": e.scheme, "learned": e.learned, "sizes": {k: len(v) for k, v in self.splits.items()}},
            **({"intents": e.intents.to_json()} if e.intents is not None else {}),
        }

    def results(self, best: Tagger) -> dict:
        e = self.encoder
        results = {"task": "tag", "scheme": e.scheme, "learned": e.learned}
        results["sizes"] = {k: len(v) for k, v in self.splits.items()}
        results["val"] = score(best, e, self.splits["val"])
        results["test"] = score(best, e, self.splits["test"])
        return results

    def describe(self) -> str:
        e, sizes = self.encoder, [len(self.splits[k]) for k in ("train", "val", "test")]
        intents = f", {len(e.intents)} intents" if e.intents is not None else ""
        return (
            f"tag: {sizes[0]:,} / {sizes[1]:,} / {sizes[2]:,} sentences (train / val / test), "
            f"{len(e.tags)} tags ({e.learned}){intents}, {len(e.words):,} words, {len(e.chars):,} characters; "
            f"model {self.model.config.model}"
        )


def _headline(scheme: str, model) -> str:
    """The validation score that picks the best weights: the slot F1 (tag accuracy for tags without
    entities); with an intent head, the sentence accuracy (every slot and the intent right), or the
    intent accuracy if the slots have no weight in the loss."""
    if model.has_intent and model.config.intent_weight > 0:
        return "val_sentence_accuracy" if model.config.slot_weight > 0 else "val_intent_accuracy"
    return "val_accuracy" if scheme == "none" else "val_f1"


def _check_known(encoder: TagEncoder, model_cfg: TaggerConfig, train: list[Sentence]) -> None:
    """Refuse to resume a run on training sentences with tags or intents it was not built with."""
    if model_cfg.reads("num_intents") and len(encoder.intents or ()) != model_cfg.num_intents:
        held = len(encoder.intents or ())
        raise DataError(f"the run's intents table holds {held}, its model {model_cfg.num_intents}")
    tags = {t for s in train for t in _learned(s.tags, encoder.scheme, encoder.learned)} - set(encoder.tags.names)
    intents = {s.intent for s in train} - set(encoder.intents.names) if encoder.intents is not None else set()
    for what, new in (("tags", tags), ("intents", intents)):
        if new:
            shown = ", ".join(repr(t) for t in sorted(new)[:5])
            raise DataError(f"data: the training sentences have {what} the run was not made with: {shown}")


def _intents(train: list[Sentence], model_cfg: TaggerConfig) -> Labels | None:
    """The intents a model with an intent head learns (``None`` for the others)."""
    if not model_cfg.reads("num_intents"):
        return None
    if any(s.intent is None for s in train):
        raise DataError(
            f"--model {model_cfg.model}: the training sentences have no intents "
            "(utterances as 'word:TAG ... <=> intent' a line, as --data atis)"
        )
    intents = Labels.build(s.intent for s in train)
    if len(intents) < 2:
        raise DataError(f"--model {model_cfg.model}: the training sentences have one intent ({intents.names[0]})")
    return intents


def encoder_of(tables: dict, data: TagConfig) -> TagEncoder:
    words, chars = TokenVocab.from_json(tables["vocab"]), TokenVocab.from_json(tables["chars"])
    intents = Labels.from_json(tables["intents"]) if "intents" in tables else None
    tags = Labels.from_json(tables["tags"])
    return TagEncoder(words, chars, tags, data.lowercase, tables["scheme"], tables["learned"], intents)


def load_tagger(out: Path, finite: bool = True) -> tuple[Tagger, TagEncoder]:
    """The best model of a tagger run (in eval mode), with its encoder (``finite``: as
    :func:`~rnnlab.tasks.classify.load_classifier`)."""
    run = read_config(Path(out), "tag", legacy_sections(TagConfig))
    model_cfg, cfg = run.section("model", TaggerConfig), run.section("data", TagConfig)
    try:
        encoder = encoder_of(run.tables, cfg)
        model = build_tagger(model_cfg)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{run.path} is damaged ({e})") from e
    sizes = {
        "vocabulary": (len(encoder.words), model_cfg.vocab_size),
        "characters": (len(encoder.chars), model_cfg.num_chars),
    }
    if model.has_intent:
        sizes["intents"] = (len(encoder.intents) if encoder.intents is not None else 0, model_cfg.num_intents)
    check_tables(run.path, **sizes, tags=(len(encoder.tags), model_cfg.num_tags))
    load_best(run.out, model, finite)
    return model, encoder
