"""The classifier task, many to one (``rnnlab train --task classify``, ``rnnlab predict``).

The data are split once (stratified, seeded) into training, validation and test examples unless
files for the latter are given; the vocabulary comes from the training texts only. The best
weights (by validation accuracy) are scored on validation and test at the end: accuracy,
macro-F1, per-class scores and the confusion matrix, next to a TF-IDF + logistic regression
baseline fitted on the same training split.

Data with too many classes for its rows are refused before anything is written; ``metrics.jsonl``
gets the scalar scores of every evaluation only, so nothing grows with the square of the classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rnnlab import checks
from rnnlab.baseline import baseline_results
from rnnlab.checkpoint import CheckpointError, load_weights
from rnnlab.data.batching import bucket_batches, pad
from rnnlab.data.labelled import Example, load_labelled, read_table
from rnnlab.data.tokens import Labels, TokenVocab, normalise
from rnnlab.data.words import TOKENIZERS
from rnnlab.metrics import class_scores
from rnnlab.models.classifier import ClassifierConfig, TextClassifier
from rnnlab.runs import RunConfig, check_tables, read_config, weights_path
from rnnlab.tasks.common import EpochBatches, PassTask, TextDataConfig, legacy_sections, split_labelled
from rnnlab.train.distributed import ALONE, World, all_sum, current, gather_parts

EVAL_BATCH = 64
LOG_FLOOR = math.log(1e-12)  # a probability under this counts as this in the loss
LEVELS = ("word", "char")


@dataclass
class ClassifyConfig(TextDataConfig):
    """The labelled texts of a classifier and how they are read."""

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


def load_splits(cfg: ClassifyConfig, seed: int) -> dict[str, list[Example]]:
    """Training, validation and test examples (see the module docstring and
    :func:`~rnnlab.tasks.common.split_labelled`)."""
    examples = load_labelled(cfg.data, cfg.label_column, cfg.text_column)
    return split_labelled(examples, cfg, seed, lambda path: read_table(path, cfg.label_column, cfg.text_column))


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
def score(
    model: TextClassifier, encoded: list[list[int]], gold: list[int], labels: Labels, world: World = ALONE
) -> dict:
    """The mean cross-entropy and :func:`~rnnlab.metrics.class_scores` of encoded texts, a batch at a
    time (no ``(N, C)`` matrix is kept); each process of ``world`` scores its part of the texts and
    the processes add up their sums and predictions."""
    model.eval()
    part = world.part(len(encoded))
    mine = encoded[part]
    pred, nll = [[0] for _ in mine], 0.0
    for batch in bucket_batches([len(e) for e in mine], EVAL_BATCH, None):
        ids, lengths = pad([mine[i] for i in batch])
        logp = torch.log_softmax(model(ids, lengths).float(), dim=-1)
        picked = logp.gather(1, torch.tensor([[gold[part.start + i]] for i in batch])).clamp_min(LOG_FLOOR)
        nll -= float(picked.sum())
        for i, p in zip(batch, logp.argmax(1).tolist()):
            pred[i] = [p]
    (nll,) = all_sum([nll], world)
    pred = [p for (p,) in gather_parts(pred, part, [1] * len(encoded), world)]
    return {"loss": nll / len(gold), **class_scores(gold, pred, labels.names)}


class ClassifyTask(PassTask):
    """A :class:`TextClassifier` on labelled texts.

    Args:
        model_cfg: the architecture (``vocab_size`` and ``num_classes`` are filled in from the data).
        data: the texts and how to read them.
        batch_size: texts per step.
        seed: seeds the splits, the initial weights and the batches.
        tables: a resumed run's vocabulary and labels.
    """

    kind = "classify"
    parallel = True
    metric, higher_is_better = "val_accuracy", True

    def __init__(
        self, model_cfg: ClassifierConfig, data: ClassifyConfig, batch_size: int, seed: int, tables: dict | None = None
    ) -> None:
        data.validate()
        self.data, self.splits = data, load_splits(data, seed)
        if tables is None:
            pieces = (Encoder.pieces(data, e.text) for e in self.splits["train"])
            self.vocab = TokenVocab.build(pieces, data.min_freq, data.max_vocab)
            self.labels = Labels.build(e.label for e in self.splits["train"])
            model_cfg.vocab_size, model_cfg.num_classes = len(self.vocab), len(self.labels)
        else:
            self.vocab, self.labels = TokenVocab.from_json(tables["vocab"]), Labels.from_json(tables["labels"])
        self.encoder = Encoder(data, self.vocab)
        self.encoded = {
            k: ([self.encoder.encode(e.text) for e in v], self.labels.ids(e.label for e in v))
            for k, v in self.splits.items()
        }
        torch.manual_seed(seed)
        self.model = TextClassifier(model_cfg)  # checks the architecture before anything is written
        self.batch_size = batch_size
        self.batches = EpochBatches([len(t) for t in self.encoded["train"][0]], batch_size, seed)

    @classmethod
    def from_run(cls, run: RunConfig, batch_size: int, seed: int) -> ClassifyTask:
        return cls(
            run.section("model", ClassifierConfig), run.section("data", ClassifyConfig), batch_size, seed, run.tables
        )

    def next_batch(self):
        indices, _ = self.batches.next()
        mine, weight = current().take(indices)  # this process's part (all of it, weight 1, when alone)
        ids, gold = self.encoded["train"]
        x, lengths = pad([ids[i] for i in mine])
        return x, lengths, torch.tensor([gold[i] for i in mine]), weight

    def loss(self, batch):
        ids, lengths, gold, weight = batch
        loss = torch.nn.functional.cross_entropy(self.model(ids, lengths), gold)
        tokens = int(lengths.sum()) if weight else 0
        return loss * weight, {"loss": loss.item(), "tokens": tokens, "weight": weight}

    def evaluate(self) -> dict[str, float]:
        scores = score(self.model, *self.encoded["val"], self.labels, current())
        return self.validation(scores)

    def format_scores(self, scores: dict[str, float]) -> str:
        shown = {"accuracy": "val_accuracy", "macro-F1": "val_macro_f1"}
        return "val " + "  ".join(f"{name} {scores[k]:.4f}" for name, k in shown.items() if k in scores)

    def tables(self):
        sizes = {k: len(v) for k, v in self.splits.items()}
        return {"vocab": self.vocab.to_json(), "labels": self.labels.to_json(), "sizes": sizes}

    def results(self, best: TextClassifier) -> dict:
        cfg = self.model.config
        results = {"task": "classify", "rnn": f"rnn ({cfg.cell}, {cfg.pooling} pooling)"}
        results["sizes"] = {k: len(v) for k, v in self.splits.items()}
        results["val"] = score(best, *self.encoded["val"], self.labels)
        results["test"] = score(best, *self.encoded["test"], self.labels)
        if self.data.baseline:
            results.update(baseline_results(self.splits, self.labels.names))
        return results

    def describe(self) -> str:
        sizes = [len(self.splits[k]) for k in ("train", "val", "test")]
        return (
            f"classify: {sizes[0]:,} / {sizes[1]:,} / {sizes[2]:,} examples (train / val / test), "
            f"{len(self.labels)} classes, {len(self.vocab):,} {self.data.level}s in the vocabulary"
        )


def load_classifier(out: Path, finite: bool = True) -> tuple[TextClassifier, Encoder, Labels]:
    """The best model of a classifier run (in eval mode), with its encoder and label names
    (``finite=False`` also takes weights that hold NaN or inf, for ``rnnlab inspect``)."""
    run = read_config(Path(out), "classify", legacy_sections(ClassifyConfig))
    model_cfg, cfg = run.section("model", ClassifierConfig), run.section("data", ClassifyConfig)
    try:
        vocab, labels = TokenVocab.from_json(run.table("vocab")), Labels.from_json(run.table("labels"))
        model = TextClassifier(model_cfg)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{run.path} is damaged ({e})") from e
    sizes = {"vocabulary": (len(vocab), model_cfg.vocab_size), "labels": (len(labels), model_cfg.num_classes)}
    check_tables(run.path, **sizes)
    load_best(run.out, model, finite)
    return model, Encoder(cfg, vocab), labels


def load_best(out: Path, model: torch.nn.Module, finite: bool = True) -> dict:
    """Load the best weights of a run into ``model`` (put in eval mode); returns their info."""
    path = weights_path(out)
    if not path.is_file():
        raise CheckpointError(f"OUT: {out} has no {path.name} yet (training has not finished an evaluation)")
    info = load_weights(path, model, finite)
    model.eval()
    return info
