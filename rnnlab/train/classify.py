"""Training and using a text classifier (``rnnlab train --task classify``, ``rnnlab predict``).

The data are split once (stratified, seeded) into training, validation and test examples unless
files for the latter are given; the vocabulary comes from the training texts only. After training,
the best weights (by validation accuracy) are scored on validation and test: accuracy, macro-F1,
per-class scores and the confusion matrix (``OUT/confusion.png``, drawn for a modest number of
classes), next to a TF-IDF + logistic regression baseline fitted on the same training split.

Data with too many classes for its rows are refused before anything is written; ``metrics.jsonl``
gets the scalar scores of every epoch only, so nothing grows with the square of the classes.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnlab.baseline import tfidf_baseline
from rnnlab.data.batching import bucket_batches, pad
from rnnlab.data.corpora import DataError
from rnnlab.data.labelled import (
    Example,
    check_class_sizes,
    check_labels,
    load_labelled,
    read_table,
    stratified_split,
)
from rnnlab.data.tokens import Labels, TokenVocab, normalise
from rnnlab.data.words import TOKENIZERS
from rnnlab.fileio import atomic_write_json
from rnnlab.metrics import class_scores
from rnnlab.models.classifier import ClassifierConfig, TextClassifier
from rnnlab.rundir import releasing
from rnnlab.train import checkpoint as ckpt
from rnnlab.train import text_run
from rnnlab.train.fit import fit
from rnnlab.train.progress import Progress
from rnnlab.train.text_config import ClassifyConfig

EVAL_BATCH = 64
LOG_FLOOR = math.log(1e-12)  # a probability under this counts as this in the loss


@dataclass
class Encoder:
    """Texts to token ids, as the run was trained (word or character level)."""

    cfg: ClassifyConfig
    vocab: TokenVocab

    @staticmethod
    def pieces(cfg: ClassifyConfig, text: str) -> list[str]:
        if cfg.level == "char":
            pieces = list(text.lower() if cfg.lowercase else text)
        else:
            pieces = [normalise(w, cfg.lowercase) for w in TOKENIZERS[cfg.tokenizer](text)]
        return pieces[: cfg.max_length] if cfg.max_length else pieces

    def encode(self, text: str) -> list[int]:
        return self.vocab.ids(self.pieces(self.cfg, text)) or [1]  # a text of no tokens reads as one <unk>


def load_splits(cfg: ClassifyConfig) -> dict[str, list[Example]]:
    """Training, validation and test examples (see the module docstring).

    Raises:
        DataError: unreadable data, too many classes for the rows (see
            :func:`~rnnlab.data.labelled.check_class_sizes`), or labels only validation or test have.
    """
    examples = load_labelled(cfg.data, cfg.label_column, cfg.text_column)
    check_class_sizes(
        examples, [s for s, given in (("validation", cfg.val_data), ("test", cfg.test_data)) if not given]
    )
    if cfg.test_data:
        test = read_table(cfg.test_data, cfg.label_column, cfg.text_column)
    else:
        examples, test = stratified_split(examples, cfg.test_fraction, cfg.seed)
    if cfg.val_data:
        val = read_table(cfg.val_data, cfg.label_column, cfg.text_column)
    else:
        share = cfg.val_fraction if cfg.test_data else cfg.val_fraction / (1 - cfg.test_fraction)  # of the whole
        examples, val = stratified_split(examples, share, cfg.seed + 1)
    if len({e.label for e in examples}) < 2:
        raise DataError(f"data: the training examples have {len({e.label for e in examples})} label; need 2 or more")
    check_labels(examples, val, "val_data" if cfg.val_data else "validation split")
    check_labels(examples, test, "test_data" if cfg.test_data else "test split")
    for name, split in (("validation", val), ("test", test)):
        if not split:
            raise DataError(
                f"data: the {name} split is empty; only a class of 3 or more rows appears in training, "
                "validation and test"
            )
    return {"train": examples, "val": val, "test": test}


@torch.no_grad()
def probabilities(model: TextClassifier, encoded: list[list[int]]) -> torch.Tensor:
    """Class probabilities ``(N, C)`` of encoded texts, in their order."""
    model.eval()
    probs = torch.empty(len(encoded), model.config.num_classes)
    for batch in bucket_batches([len(e) for e in encoded], EVAL_BATCH, None):
        ids, lengths = pad([encoded[i] for i in batch])
        probs[batch] = torch.softmax(model(ids, lengths), dim=-1)
    return probs


@torch.no_grad()
def score(model: TextClassifier, encoded: list[list[int]], gold: list[int], labels: Labels) -> dict:
    """The mean cross-entropy and :func:`~rnnlab.metrics.class_scores` of encoded texts, a batch at a
    time (no ``(N, C)`` matrix is kept)."""
    model.eval()
    pred, nll = [0] * len(encoded), 0.0
    for batch in bucket_batches([len(e) for e in encoded], EVAL_BATCH, None):
        ids, lengths = pad([encoded[i] for i in batch])
        logp = torch.log_softmax(model(ids, lengths).float(), dim=-1)
        picked = logp.gather(1, torch.tensor([[gold[i]] for i in batch])).clamp_min(LOG_FLOOR)
        nll -= float(picked.sum())
        for i, p in zip(batch, logp.argmax(1).tolist()):
            pred[i] = p
    return {"loss": nll / len(gold), **class_scores(gold, pred, labels.names)}


def scalars(scores: dict) -> dict:
    """The scores that fit on a line of ``metrics.jsonl``: no per-class table, no matrix."""
    return {k: v for k, v in scores.items() if isinstance(v, (int, float))}


@releasing
def train_classifier(out: Path, model_cfg: ClassifierConfig, cfg: ClassifyConfig, force: bool, progress: Progress):
    """Train in ``out``; returns the results written to ``OUT/results.json``."""
    cfg.validate()
    splits = load_splits(cfg)
    vocab = TokenVocab.build((Encoder.pieces(cfg, e.text) for e in splits["train"]), cfg.min_freq, cfg.max_vocab)
    labels = Labels.build(e.label for e in splits["train"])
    encoder = Encoder(cfg, vocab)
    data = {k: ([encoder.encode(e.text) for e in v], labels.ids(e.label for e in v)) for k, v in splits.items()}
    model_cfg.vocab_size, model_cfg.num_classes = len(vocab), len(labels)
    torch.manual_seed(cfg.seed)
    model = TextClassifier(model_cfg)  # checks the architecture before anything is written
    text_run.prepare_out(out, force)
    sizes = {k: len(v) for k, v in splits.items()}
    text_run.write_run(out, "classify", model_cfg, cfg, vocab=vocab.to_json(), labels=labels.to_json(), sizes=sizes)
    progress.log(
        f"classify: {sizes['train']:,} / {sizes['val']:,} / {sizes['test']:,} examples (train / val / test), "
        f"{len(labels)} classes, {len(vocab):,} {cfg.level}s in the vocabulary"
    )
    rng = random.Random(cfg.seed)
    train_ids, train_gold = data["train"]

    def batches(epoch: int):
        for batch in bucket_batches([len(t) for t in train_ids], cfg.batch_size, rng):
            ids, lengths = pad([train_ids[i] for i in batch])
            yield (ids, lengths, torch.tensor([train_gold[i] for i in batch])), int(lengths.sum())

    def loss_of(batch) -> torch.Tensor:
        ids, lengths, gold = batch
        return torch.nn.functional.cross_entropy(model(ids, lengths), gold)

    summary = fit(
        model,
        cfg,
        out,
        batches,
        loss_of,
        validate=lambda: scalars(score(model, *data["val"], labels)),
        key="accuracy",
        progress=progress,
        describe=lambda s: f"accuracy {s['accuracy']:.4f}  macro-F1 {s['macro_f1']:.4f}",
    )
    text_run.load_weights(out, model)
    results = {
        "task": "classify",
        "sizes": sizes,
        **summary,
        "epoch_s": summary["elapsed_s"] / max(summary["epochs"], 1),
    }
    results["val"] = score(model, *data["val"], labels)
    results["test"] = score(model, *data["test"], labels)
    if cfg.baseline:
        tick = time.monotonic()
        try:
            results["baseline"] = tfidf_baseline(splits, labels.names)
            results["baseline"]["elapsed_s"] = time.monotonic() - tick
        except ValueError as e:  # no TF-IDF features, or too many classes to fit in bounded memory; keep the run
            progress.log(f"note: no TF-IDF baseline ({e})")
            results["baseline_skipped"] = str(e)
    atomic_write_json(out / text_run.RESULTS, results)
    from rnnlab.viz.confusion import MAX_CLASSES, plot_confusion

    if len(labels) <= MAX_CLASSES:
        plot_confusion(results["test"]["confusion"], labels.names, out / "confusion.png", f"{out.name}: test")
    else:
        progress.log(
            f"note: no confusion.png for {len(labels):,} classes (drawn for up to {MAX_CLASSES}); "
            "the per-class scores and the confusions are in results.json"
        )
    return results


def load_classifier(out: Path) -> tuple[TextClassifier, Encoder, Labels]:
    """The best model of a classifier run, with its encoder and label names."""
    model_cfg, cfg, raw = text_run.read_run(out, "classify", ClassifierConfig, ClassifyConfig)
    try:
        vocab, labels = TokenVocab.from_json(raw["vocab"]), Labels.from_json(raw["labels"])
        model = TextClassifier(model_cfg)
    except (KeyError, ValueError) as e:
        raise ValueError(f"OUT: {out}/config.json is damaged ({e})") from e
    sizes = {"vocabulary": (len(vocab), model_cfg.vocab_size), "labels": (len(labels), model_cfg.num_classes)}
    ckpt.check_tables(out / ckpt.CONFIG, **sizes)
    text_run.load_weights(out, model)
    return model, Encoder(cfg, vocab), labels
