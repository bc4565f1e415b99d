"""The sequence-to-sequence task, many to many without alignment (``rnnlab train --task seq2seq``).

Pairs of a source and a target text come from a named set (``bible-en-es``, ``dates``,
``addition``), a TSV with named columns, or two line-aligned files (:mod:`rnnlab.data.parallel`).
Each side gets its own vocabulary of characters, words or subwords, learned from the training
split only and saved in the run. The decoder learns by teacher forcing: it reads ``<s> y_1 .. y_n``
and is scored on ``y_1 .. y_n </s>``, the cross-entropy summed over the target's tokens and divided
by their number (padding ignored), with optional label smoothing (Szegedy et al. 2016).

Each evaluation gives the validation loss over the whole validation split and decodes up to
``eval_sentences`` of its sentences greedily for BLEU, chrF (``sacrebleu``) and exact match; the
best weights are those of the best validation BLEU (exact match for ``dates`` and ``addition``,
or the loss: ``--select``). At the end the best weights translate the whole validation and test
splits with a beam of ``test_beam``, scored overall and by source length.

Data-parallel (``--nproc``): each process takes its part of every batch, weighted by its target
tokens, so that two processes train as one; the validation loss and the greedy translations are
shared out among the processes and put together, so the scores are those of one process.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from rnnlab import checks
from rnnlab.checkpoint import CheckpointError
from rnnlab.configs import check_fields
from rnnlab.data.parallel import PARALLEL, load_parallel
from rnnlab.data.symbols import PAD
from rnnlab.data.tokenizer import KINDS as TOKEN_KINDS
from rnnlab.data.tokenizer import Tokenizer
from rnnlab.metrics.translation import bleu_by_length, translation_scores
from rnnlab.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnlab.runs import RunConfig, check_tables, read_config
from rnnlab.tasks.classify import load_best
from rnnlab.tasks.common import EpochBatches, PassTask
from rnnlab.tasks.translator import Translator, batch_of
from rnnlab.train.distributed import ALONE, World, current, gather_texts

#: named sets scored by exact match rather than BLEU, and read as characters by default
EXACT_SETS = ("dates", "addition")
SELECT = ("auto", "bleu", "chrf", "exact", "loss")


@dataclass
class Seq2SeqDataConfig:
    """The pairs of a sequence-to-sequence task and how they are read."""

    data: str = field(
        default="",
        metadata={
            "help": "a named set (" + ", ".join(PARALLEL) + "), a TSV with a header, or two line-aligned files "
            "SOURCE,TARGET"
        },
    )
    val_data: str = field(
        default="", metadata={"help": "validation pairs, as --data; '' = split off (or the set's own)"}
    )
    test_data: str = field(default="", metadata={"help": "test pairs, as --data; '' = split off (or the set's own)"})
    val_fraction: float = field(default=0.05, metadata={"help": "share held out for validation"})
    test_fraction: float = field(default=0.05, metadata={"help": "share held out for testing"})
    source_column: str = field(default="source", metadata={"help": "TSV column of the source texts"})
    target_column: str = field(default="target", metadata={"help": "TSV column of the target texts"})
    tokens: str = field(
        default="auto", metadata={"help": "char, word or subword (auto: char for dates and addition, else subword)"}
    )
    vocab_size: int = field(default=8000, metadata={"help": "subwords per side (sentencepiece)"})
    min_freq: int = field(default=1, metadata={"help": "words or characters seen fewer times read as <unk>"})
    lowercase: bool = field(default=False, metadata={"help": "lowercase both sides"})
    max_length: int = field(default=100, metadata={"help": "tokens of a side kept in training (longer: cut)"})
    reverse_source: bool = field(default=False, metadata={"help": "read the source backwards (Sutskever 2014)"})
    label_smoothing: float = field(default=0.0, metadata={"help": "label smoothing of the loss (0.1 is usual)"})
    select: str = field(default="auto", metadata={"help": "best weights by: " + ", ".join(SELECT)})
    eval_sentences: int = field(default=500, metadata={"help": "validation sentences decoded at each evaluation"})
    test_beam: int = field(default=5, metadata={"help": "beam width of the final validation and test scores"})

    def validate(self) -> None:
        check_fields(self)
        if not self.data:
            checks.fail("data", "a named set or a file", "nothing (give --data)")
        for name in ("val_fraction", "test_fraction"):
            if not 0 < getattr(self, name) < 0.5:
                checks.fail(name, "a share between 0 and 0.5", getattr(self, name))
        if self.tokens != "auto" and self.tokens not in TOKEN_KINDS:
            checks.fail("tokens", "auto or one of " + ", ".join(TOKEN_KINDS), self.tokens)
        if self.source_column == self.target_column:
            source = self.source_column
            checks.fail("target_column", f"a column other than the source's ({source!r})", self.target_column)
        if self.select not in SELECT:
            checks.fail("select", "one of " + ", ".join(SELECT), self.select)
        checks.positive_int("vocab_size", self.vocab_size)
        checks.positive_int("min_freq", self.min_freq)
        checks.positive_int("max_length", self.max_length)
        checks.probability("label_smoothing", self.label_smoothing)
        checks.positive_int("eval_sentences", self.eval_sentences)
        checks.positive_int("test_beam", self.test_beam)

    @property
    def token_kind(self) -> str:
        if self.tokens != "auto":
            return self.tokens
        return "char" if self.data in EXACT_SETS else "subword"

    @property
    def selected(self) -> str:
        if self.select != "auto":
            return self.select
        return "exact" if self.data in EXACT_SETS else "bleu"


class Seq2SeqTask(PassTask):
    """A :class:`Seq2Seq` model on pairs of texts.

    Args:
        model_cfg: the architecture (the vocabulary sizes are filled in from the data).
        data: the pairs and how to read them.
        batch_size: pairs per step.
        seed: seeds the splits, the initial weights and the batches.
        tables: a resumed run's vocabularies.
    """

    kind = "seq2seq"
    unit = "target token"
    evaluate_first = False
    parallel = True

    def __init__(
        self, model_cfg: Seq2SeqConfig, data: Seq2SeqDataConfig, batch_size: int, seed: int, tables: dict | None = None
    ) -> None:
        data.validate()
        self.data = data
        self.splits = load_splits(data, seed)
        if tables is None:
            train = self.splits["train"]
            kind = data.token_kind
            self.source = Tokenizer.train([s for s, _ in train], kind, data.vocab_size, data.min_freq, data.lowercase)
            self.target = Tokenizer.train([t for _, t in train], kind, data.vocab_size, data.min_freq, data.lowercase)
            model_cfg.source_vocab, model_cfg.target_vocab = len(self.source), len(self.target)
        else:
            self.source, self.target = tokenizers_of(tables)
        torch.manual_seed(seed)
        self.model = Seq2Seq(model_cfg)  # checks the architecture before anything is written
        self.translator = Translator(self.model, self.source, self.target, data)
        encoded, cut = self.translator.encode_pairs(self.splits["train"], data.max_length)
        if cut:
            print(
                f"note: {cut:,} training pair(s) longer than --max-length {data.max_length} were cut", file=sys.stderr
            )
        self.encoded = encoded
        self.val_encoded = self.translator.encode_pairs(self.splits["val"], None)[0]
        self.metric = f"val_{data.selected}"
        self.higher_is_better = data.selected != "loss"
        self.batch_size = batch_size
        self.batches = EpochBatches([len(s) for s, _ in encoded], batch_size, seed)

    @classmethod
    def from_run(cls, run: RunConfig, batch_size: int, seed: int) -> Seq2SeqTask:
        model_cfg, data = run.section("model", Seq2SeqConfig), run.section("data", Seq2SeqDataConfig)
        return cls(model_cfg, data, batch_size, seed, run.tables)

    def next_batch(self):
        indices, _ = self.batches.next()
        # this process's part, weighted by its target tokens (with </s>): the loss is a token mean
        mine, weight = current().take(indices, [len(self.encoded[i][1]) + 1 for i in indices])
        return (*batch_of([self.encoded[i] for i in mine]), weight)

    def loss(self, batch):
        src, src_lengths, tgt_in, tgt_out, weight = batch
        logits, _ = self.model(src, src_lengths, tgt_in)  # (T, B, V)
        loss = F.cross_entropy(
            logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD, label_smoothing=self.data.label_smoothing
        )
        tokens = int((tgt_out != PAD).sum()) if weight else 0
        return loss * weight, {"loss": loss.item(), "tokens": tokens, "weight": weight}

    def evaluate(self) -> dict[str, float]:
        world = current()
        scores = {"val_loss": self.translator.loss(self.val_encoded, world)}
        pairs = self.splits["val"][: self.data.eval_sentences]
        hyps = greedy(self.translator, [s for s, _ in pairs], world)
        found = translation_scores(hyps, [t for _, t in pairs])
        scores.update({f"val_{k}": float(found[k]) for k in ("bleu", "chrf", "exact")})
        return scores

    def format_scores(self, scores: dict[str, float]) -> str:
        shown = (("loss", "val_loss", ".4f"), ("BLEU", "val_bleu", ".2f"), ("chrF", "val_chrf", ".2f"))
        shown += (("exact", "val_exact", ".4f"),)
        return "val " + "  ".join(f"{name} {scores[k]:{fmt}}" for name, k, fmt in shown if k in scores)

    def tables(self) -> dict:
        sizes = {k: len(v) for k, v in self.splits.items()}
        return {"source": self.source.to_json(), "target": self.target.to_json(), "sizes": sizes}

    def results(self, best: Seq2Seq) -> dict:
        translator = Translator(best, self.source, self.target, self.data)
        results = {"task": "seq2seq", "sizes": {k: len(v) for k, v in self.splits.items()}}
        for split in ("val", "test"):
            results[split] = split_scores(translator, self.splits[split], self.data.test_beam)
        return results

    def describe(self) -> str:
        sizes = [len(self.splits[k]) for k in ("train", "val", "test")]
        cfg = self.model.config
        return (
            f"seq2seq: {sizes[0]:,} / {sizes[1]:,} / {sizes[2]:,} pairs (train / val / test), "
            f"{len(self.source):,} source and {len(self.target):,} target {self.data.token_kind}s; "
            f"attention {cfg.attention}"
        )


def load_splits(data: Seq2SeqDataConfig, seed: int) -> dict[str, list[tuple[str, str]]]:
    """Training, validation and test pairs (``train``, ``val``, ``test``) of the task's data."""
    splits = load_parallel(
        data.data,
        seed,
        data.val_data,
        data.test_data,
        data.val_fraction,
        data.test_fraction,
        data.source_column,
        data.target_column,
    )
    return {"train": splits["train"], "val": splits["valid"], "test": splits["test"]}


def greedy(translator: Translator, sources: list[str], world: World = ALONE) -> list[str]:
    """The greedy translations of ``sources``, in order; each process of ``world`` decodes its part
    and the processes share their texts."""
    part = world.part(len(sources))
    mine = [h[0].text for h in translator.translate(sources[part], beam=1)]
    return gather_texts(mine, part, len(sources), world)


@torch.no_grad()
def split_scores(translator: Translator, pairs: list[tuple[str, str]], beam: int) -> dict:
    """BLEU, chrF, exact match, BLEU by source length and speed of ``pairs`` translated with ``beam``."""
    sources, refs = [s for s, _ in pairs], [t for _, t in pairs]
    tick = time.perf_counter()
    hyps = [h[0].text for h in translator.translate(sources, beam=beam)]
    elapsed = time.perf_counter() - tick
    scores = translation_scores(hyps, refs)
    scores["loss"] = translator.loss(translator.encode_pairs(pairs, None)[0])
    scores.update({"beam": beam, "sentences_per_s": len(pairs) / max(elapsed, 1e-9)})
    scores["by_length"] = bleu_by_length(sources, hyps, refs)
    scores["examples"] = [{"source": s, "reference": r, "output": h} for s, r, h in zip(sources, refs, hyps)][:5]
    return scores


def tokenizers_of(tables: dict) -> tuple[Tokenizer, Tokenizer]:
    return Tokenizer.from_json(tables["source"]), Tokenizer.from_json(tables["target"])


def load_translator(out: Path, finite: bool = True) -> Translator:
    """The best model of a seq2seq run (in eval mode) with its vocabularies (``finite``: as
    :func:`~rnnlab.tasks.classify.load_classifier`)."""
    run = read_config(Path(out), "seq2seq")
    model_cfg, data = run.section("model", Seq2SeqConfig), run.section("data", Seq2SeqDataConfig)
    try:
        source, target = tokenizers_of(run.tables)
        model = Seq2Seq(model_cfg)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{run.path} is damaged ({e})") from e
    check_tables(run.path, source=(len(source), model_cfg.source_vocab), target=(len(target), model_cfg.target_vocab))
    load_best(run.out, model, finite)
    return Translator(model, source, target, data)
