"""Training and using a sequence tagger (``rnnlab train --task tag``, ``rnnlab tag``).

Sentences come from a CoNLL file or a named set (:mod:`rnnlab.data.conll`); validation and test
sentences from their own files, the named set's own splits, or a seeded random split. Entity tags
in BIO are learned as BIOES (``bioes``) and turned back for scoring and display. The best weights
are those of the best validation entity F1 (accuracy for tags without entities); results hold the
validation and test scores of those weights, per entity type too.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnlab.data.batching import bucket_batches, pad
from rnnlab.data.conll import CONLL, Sentence, check_scheme, is_iob1, read_conll, to_bio, to_bioes
from rnnlab.data.corpora import DataError
from rnnlab.data.tokens import Labels, TokenVocab, normalise
from rnnlab.fileio import atomic_write_json
from rnnlab.metrics import entity_scores
from rnnlab.models.tagger import Tagger, TaggerConfig
from rnnlab.rundir import releasing
from rnnlab.train import checkpoint as ckpt
from rnnlab.train import text_run
from rnnlab.train.fit import fit
from rnnlab.train.progress import Progress
from rnnlab.train.text_config import TagConfig

EVAL_BATCH = 64


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

    def tag_ids(self, tags: tuple[str, ...]) -> list[int]:
        return self.tags.ids(_learned(tags, self.scheme, self.learned))

    def tag_names(self, ids: list[int]) -> list[str]:
        names = [self.tags.names[i] for i in ids]
        return to_bio(names) if self.learned == "bioes" and self.scheme == "bio" else names

    def batch(self, sentences: list[tuple[str, ...]], unk_words: set[int] | None = None, p: float = 0.0, rng=None):
        """The batch dict of :class:`Tagger` (``tags`` left out), with training words seen once read
        as ``<unk>`` with probability ``p``."""
        word_ids = [self.words.ids(normalise(w, self.lowercase) for w in s) for s in sentences]
        if p and unk_words:
            word_ids = [[1 if w in unk_words and rng.random() < p else w for w in s] for s in word_ids]
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


def load_splits(cfg: TagConfig) -> dict[str, list[Sentence]]:
    """Training, validation and test sentences (see the module docstring)."""
    if cfg.data in CONLL:
        splits = CONLL[cfg.data]()
        train, val, test = splits["train"], splits["val"], splits["test"]
    else:
        train = read_conll(cfg.data, cfg.tag_column)
        test = val = None
    share = cfg.val_fraction  # of all the sentences
    if cfg.test_data:
        test = read_conll(cfg.test_data, cfg.tag_column)
    elif test is None:
        train, test = _split(train, cfg.test_fraction, cfg.seed)
        share = cfg.val_fraction / (1 - cfg.test_fraction)
    if cfg.val_data:
        val = read_conll(cfg.val_data, cfg.tag_column)
    elif val is None:
        train, val = _split(train, share, cfg.seed + 1)
    if not train:
        raise DataError("data: too few sentences to split off validation and test sentences")
    seen = {t for s in train for t in s.tags}
    for name, split in (("validation", val), ("test", test)):
        # rare tags of a large corpus (CoNLL-2003's chunks) can miss the training split: the model
        # cannot predict them, so they count as errors; said once, not refused
        unseen = Counter(t for s in split for t in s.tags if t not in seen)
        if unseen:
            shown = ", ".join(f"{t!r} ({n})" for t, n in unseen.most_common(5))
            print(f"note: {name} tokens with tags never seen in training, scored as errors: {shown}", file=sys.stderr)
    return {"train": train, "val": val, "test": test}


def predict_tags(model: Tagger, encoder: TagEncoder, sentences: list[tuple[str, ...]]) -> list[list[str]]:
    """The tags (in the file's scheme) of each sentence, in order."""
    model.eval()
    out: list[list[str]] = [[] for _ in sentences]
    for batch in bucket_batches([len(s) for s in sentences], EVAL_BATCH, None):
        paths = model.predict(encoder.batch([sentences[i] for i in batch]))
        for i, path in zip(batch, paths):
            out[i] = encoder.tag_names(path)
    return out


def score(model: Tagger, encoder: TagEncoder, sentences: list[Sentence]) -> dict:
    gold = [list(s.tags) for s in sentences]
    pred = predict_tags(model, encoder, [s.tokens for s in sentences])
    if encoder.scheme == "none":
        right = sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p))
        return {"accuracy": right / sum(len(g) for g in gold)}
    return entity_scores(gold, pred)


@releasing
def train_tagger(out: Path, model_cfg: TaggerConfig, cfg: TagConfig, force: bool, progress: Progress) -> dict:
    """Train in ``out``; returns the results written to ``OUT/results.json``."""
    cfg.validate()
    splits = load_splits(cfg)
    scheme = check_scheme({t for s in splits["train"] for t in s.tags}, cfg.tag_scheme)
    if scheme == "bio" and any(is_iob1(s.tags) for split in splits.values() for s in split):
        print("note: an I- tag begins an entity (IOB1); the tags are read, scored and shown as BIO", file=sys.stderr)
        splits = {k: [Sentence(s.tokens, tuple(to_bio(to_bioes(s.tags)))) for s in v] for k, v in splits.items()}
    learned = "bioes" if scheme == "bio" and cfg.bioes else scheme
    words = TokenVocab.build(
        ([normalise(w, cfg.lowercase) for w in s.tokens] for s in splits["train"]), cfg.min_freq, cfg.max_vocab
    )
    chars = TokenVocab.build(w for s in splits["train"] for w in s.tokens)
    tags = Labels.build(t for s in splits["train"] for t in _learned(s.tags, scheme, learned))
    encoder = TagEncoder(words, chars, tags, cfg.lowercase, scheme, learned)
    model_cfg.vocab_size, model_cfg.num_chars, model_cfg.num_tags = len(words), len(chars), len(tags)
    torch.manual_seed(cfg.seed)
    model = Tagger(model_cfg)  # checks the architecture before anything is written
    text_run.prepare_out(out, force)
    sizes = {k: len(v) for k, v in splits.items()}
    tables = {"vocab": words.to_json(), "chars": chars.to_json(), "tags": tags.to_json(), "scheme": scheme}
    text_run.write_run(out, "tag", model_cfg, cfg, **tables, learned=learned, sizes=sizes)
    progress.log(
        f"tag: {sizes['train']:,} / {sizes['val']:,} / {sizes['test']:,} sentences (train / val / test), "
        f"{len(tags)} tags ({learned}), {len(words):,} words, {len(chars):,} characters"
    )
    train = splits["train"]
    counts = Counter(normalise(w, cfg.lowercase) for s in train for w in s.tokens)
    once = {i for w, i in words.index.items() if counts.get(w) == 1}
    gold = [torch.tensor(encoder.tag_ids(s.tags)) for s in train]
    rng = random.Random(cfg.seed)

    def batches(epoch: int):
        for batch in bucket_batches([len(s.tokens) for s in train], cfg.batch_size, rng):
            b = encoder.batch([train[i].tokens for i in batch], once, cfg.word_dropout, rng)
            b["tags"] = pad([gold[i] for i in batch])[0]
            yield b, int(b["lengths"].sum())

    key = "accuracy" if scheme == "none" else "f1"
    summary = fit(
        model,
        cfg,
        out,
        batches,
        model.loss,
        validate=lambda: score(model, encoder, splits["val"]),
        key=key,
        progress=progress,
        describe=lambda s: " ".join(f"{k} {s[k]:.4f}" for k in ("precision", "recall", "f1", "accuracy") if k in s),
    )
    text_run.load_weights(out, model)
    results = {"task": "tag", "scheme": scheme, "learned": learned, "sizes": sizes, **summary}
    results["epoch_s"] = summary["elapsed_s"] / max(summary["epochs"], 1)
    results["val"] = score(model, encoder, splits["val"])
    results["test"] = score(model, encoder, splits["test"])
    atomic_write_json(out / text_run.RESULTS, results)
    return results


def load_tagger(out: Path) -> tuple[Tagger, TagEncoder]:
    """The best model of a tagger run, with its encoder."""
    model_cfg, cfg, raw = text_run.read_run(out, "tag", TaggerConfig, TagConfig)
    try:
        words, chars = TokenVocab.from_json(raw["vocab"]), TokenVocab.from_json(raw["chars"])
        encoder = TagEncoder(words, chars, Labels.from_json(raw["tags"]), cfg.lowercase, raw["scheme"], raw["learned"])
        model = Tagger(model_cfg)
    except (KeyError, ValueError) as e:
        raise ValueError(f"OUT: {out}/config.json is damaged ({e})") from e
    sizes = {"vocabulary": (len(words), model_cfg.vocab_size), "characters": (len(chars), model_cfg.num_chars)}
    ckpt.check_tables(out / ckpt.CONFIG, **sizes, tags=(len(encoder.tags), model_cfg.num_tags))
    text_run.load_weights(out, model)
    return model, encoder
