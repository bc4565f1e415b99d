"""The language-model task: truncated BPTT over parallel streams of a corpus (``rnnlab train``).

The hidden state is carried from chunk to chunk and detached at each boundary (the truncation);
a new pass over the text starts from a fresh state. Evaluations read ``eval_chars`` validation
tokens; at the end the best weights read the whole validation and test splits as one stream.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from rnnlab import checks
from rnnlab.checkpoint import CheckpointError, load_weights
from rnnlab.configs import check_fields
from rnnlab.data.corpora import DataError
from rnnlab.data.stream import StreamBatches, load_splits
from rnnlab.data.vocab import CharVocab, Vocab, vocab_from_json
from rnnlab.data.words import WordVocab
from rnnlab.dropout import per_column
from rnnlab.engine import detach_state
from rnnlab.generate import generate
from rnnlab.models.language_model import LanguageModel, ModelConfig, count_parameters, loss_of
from rnnlab.runs import RunConfig, check_tables, read_config, weights_path
from rnnlab.tasks.common import legacy_sections
from rnnlab.train.distributed import World, all_sum, current, gather_columns
from rnnlab.train.task import Task

LEVELS = ("char", "word")
LOSSES = ("mean", "sum")
TOKENIZERS = ("whitespace", "regex")


@dataclass
class LMDataConfig:
    """The corpus of a language model and how it is read."""

    data: str = field(
        default="shakespeare",
        metadata={
            "help": "shakespeare, python-stdlib, ptb, linux[:SUBDIR|:all], latex[:pari|:texlive], or a file/folder/glob"
        },
    )
    level: str = field(default="char", metadata={"help": "tokens: char (characters) or word (one sentence a line)"})
    tokenizer: str = field(
        default="whitespace", metadata={"help": "word level: whitespace, or regex (splits off punctuation)"}
    )
    max_vocab: int = field(
        default=0, metadata={"help": "word level: at most this many entries, <unk> and <eos> included; 0 = all"}
    )
    min_freq: int = field(default=1, metadata={"help": "word level: rarer words are read as <unk>"})
    val_fraction: float = field(default=0.1, metadata={"help": "last fraction of the text held out for validation"})
    test_fraction: float = field(
        default=0.0,
        metadata={
            "help": "last fraction of the text held out for testing (the validation text comes just before it); "
            "the best weights' test loss goes to results.json; 0 = none (ptb has its own test split)"
        },
    )
    seq_len: int = field(default=64, metadata={"help": "BPTT truncation length (characters per chunk)"})
    loss: str = field(
        default="mean",
        metadata={"help": "mean over every token; sum (over the chunk's steps, mean over streams, as Zaremba et al.)"},
    )
    eval_chars: int = field(
        default=100_000, metadata={"help": "validation tokens (characters or words) per evaluation; 0 = all"}
    )
    sample_chars: int = field(
        default=200, metadata={"help": "tokens (characters or words) of the sample printed at each evaluation"}
    )

    def validate(self) -> None:
        check_fields(self)
        if not 0 < checks.probability("val_fraction", self.val_fraction):
            checks.fail("val_fraction", "a number in (0, 1)", self.val_fraction)
        checks.probability("test_fraction", self.test_fraction)
        if self.val_fraction + self.test_fraction >= 1:
            checks.fail("test_fraction", f"less than 1 - val_fraction ({1 - self.val_fraction:g})", self.test_fraction)
        checks.positive_int("seq_len", self.seq_len)
        checks.choice("level", self.level, LEVELS)
        checks.choice("loss", self.loss, LOSSES)
        checks.choice("tokenizer", self.tokenizer, TOKENIZERS)
        checks.positive_int("min_freq", self.min_freq)
        if self.max_vocab < 0 or 0 < self.max_vocab < 3:
            checks.fail("max_vocab", "0 (no limit) or at least 3 (<unk>, <eos> and a word)", self.max_vocab)
        for name in ("eval_chars", "sample_chars"):
            checks.non_negative_int(name, getattr(self, name))


def fingerprint(text: str) -> dict:
    return {"chars": len(text), "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def build_vocab(cfg: LMDataConfig, splits: dict[str, str]) -> Vocab:
    """Characters: every character of the corpus. Words: from the training split alone
    (``max_vocab``, ``min_freq``); others are read as ``<unk>``."""
    if cfg.level == "char":
        return CharVocab.from_text("".join(splits.values()))
    try:
        return WordVocab.from_text(splits["train"], cfg.max_vocab, cfg.min_freq, cfg.tokenizer)
    except ValueError as e:
        raise DataError(f"data: the training text of {cfg.data}: {e}") from e


def load_ids(
    cfg: LMDataConfig, vocab: Vocab | None = None, corpus: dict | None = None, only: tuple[str, ...] | None = None
) -> tuple[Vocab, dict[str, Tensor], dict]:
    """``(vocabulary, ids of each split, corpus fingerprint)`` of the corpus of ``cfg``.

    Args:
        vocab: the run's own vocabulary, when it is resumed or read (else one is built).
        corpus: the fingerprint the run saved; the corpus must still match it.
        only: encode just these splits (``rnnlab eval`` needs one), not every split.

    Raises:
        DataError: the corpus cannot be read, is not the one of ``corpus``, or holds no words.
    """
    splits = load_splits(cfg.data, cfg.val_fraction, cfg.test_fraction)
    found = fingerprint("".join(splits.values()))
    if corpus is not None and corpus != found:
        raise DataError(f"data: {cfg.data} is not the corpus this run was trained on")
    vocab = vocab or build_vocab(cfg, splits)
    return vocab, {k: vocab.encode(t) for k, t in splits.items() if only is None or k in only}, found


@torch.no_grad()
def evaluate(
    model: LanguageModel,
    ids: Tensor,
    seq_len: int,
    batch_size: int = 32,
    exact: bool = False,
    world: World | None = None,
) -> float:
    """Mean cross-entropy (nats per token) over ``ids``, with the state carried throughout.

    The quick way (for the evaluations during training) reads ``batch_size`` parallel streams,
    each from a zero state, and leaves out the last few tokens that do not fill a chunk; in a
    ``world`` of several processes each reads its part of those streams, and the mean is the exact
    one over all their tokens (the sums are added up). ``exact`` reads one stream from the first token
    and predicts every later one: the figure to report (``rnnlab eval``, the test perplexity).
    """
    world = world or World()
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    if exact:
        window = max(seq_len, 512)  # carrying the state makes the window's length irrelevant
        chunks = (
            (ids[t : t + window, None], ids[t + 1 : t + window + 1, None]) for t in range(0, len(ids) - 1, window)
        )
    else:
        batch = max(1, min(batch_size, (len(ids) - 1) // seq_len))
        part = world.part(batch)  # the streams one process reads, shared out (a process may have none)
        streams = StreamBatches(ids, batch, seq_len, "validation text").all() if part.stop > part.start else ()
        chunks = ((x[:, part], y[:, part]) for x, y in streams)
    for x, y in chunks:
        x = x[: len(y)]  # (T, B)
        logits, state = model(x, state)
        total += float(loss_of(logits, y)) * y.numel()
        count += y.numel()
    model.train(was_training)
    if not exact:  # (the exact way reads the one stream in every process)
        total, count = all_sum([total, count], world)
    return total / count


def describe_loss(loss: float, unit: str) -> str:
    """``1.2345 nats/char (1.781 bits)``, or for words ``4.8000 nats/word (perplexity 121.5)``."""
    extra = f"perplexity {math.exp(loss):.1f}" if unit == "word" else f"{loss / math.log(2):.3f} bits"
    return f"{loss:.4f} nats/{unit} ({extra})"


class LanguageModelTask(Task):
    """A :class:`LanguageModel` on a corpus.

    Args:
        model_cfg: the architecture (``vocab_size`` is filled in from the data).
        data: the corpus and how to read it.
        batch_size: parallel streams.
        seed: seeds the initial weights.
        vocab, corpus: a resumed run's vocabulary and corpus fingerprint.
    """

    kind = "lm"
    parallel = True
    speed_key = "chars_per_s"
    metric, higher_is_better = "val_loss", False

    def __init__(
        self,
        model_cfg: ModelConfig,
        data: LMDataConfig,
        batch_size: int,
        seed: int,
        vocab: Vocab | None = None,
        corpus: dict | None = None,
    ) -> None:
        data.validate()
        self.data, self.seed = data, seed
        self.vocab, ids, self.corpus = load_ids(data, vocab, corpus)
        self.unit = self.vocab.unit
        if vocab is None:
            model_cfg.vocab_size = len(self.vocab)
        model_cfg.validate()
        self.batches = StreamBatches(ids["train"], batch_size, data.seq_len, "training text")
        self.full_val, self.test_ids = ids["valid"], ids.get("test")
        self.val_ids = self.full_val[: data.eval_chars + 1] if data.eval_chars else self.full_val
        for name, ids_, flag in (
            ("validation", self.val_ids, "--val-fraction"),
            ("test", self.test_ids, "--test-fraction"),
        ):
            if ids_ is not None and len(ids_) <= data.seq_len:
                raise DataError(
                    f"data: the {name} text has {len(ids_)} {self.unit}s; sequence length "
                    f"{data.seq_len} needs at least {data.seq_len + 1} (give more text or a larger {flag})"
                )
        self.batch_size = batch_size
        self.world = current()  # with several processes, each trains its share of the streams
        self.share = self.world.share(batch_size, "batch_size")
        torch.manual_seed(seed)
        self.model = LanguageModel(model_cfg)
        self.carry: tuple[Tensor, ...] | None = None

    @classmethod
    def check_processes(cls, batch_size: int, processes: int) -> None:
        World(0, processes).share(batch_size, "batch_size")  # each stream's state lives in one process

    @classmethod
    def from_run(cls, run: RunConfig, batch_size: int, seed: int) -> LanguageModelTask:
        model_cfg, data, vocab = read_lm(run)
        return cls(model_cfg, data, batch_size, seed, vocab, run.tables.get("corpus"))

    @property
    def batches_per_epoch(self) -> int:
        return len(self.batches)

    def next_batch(self):
        x, y, new_pass = self.batches.next()
        if new_pass:
            self.carry = None  # a new pass over the text starts from a fresh state
        return x[:, self.share], y[:, self.share], self.batches.position

    def loss(self, batch):
        x, y, draw = batch
        # each stream's dropout masks are its own, whichever process trains it (and however many do)
        with per_column(self.seed, draw, range(self.share.start, self.share.stop)):
            logits, carry = self.model(x, self.carry)  # (T, B, V)
        self.carry = detach_state(carry)  # truncated BPTT boundary
        loss = loss_of(logits, y)  # nats per token, what is reported
        # "sum": summed over the chunk's steps, averaged over the streams (Zaremba et al. 2014)
        objective = loss * x.shape[0] if self.data.loss == "sum" else loss
        return objective, {"loss": loss.item(), "tokens": y.numel()}

    def evaluate(self) -> dict[str, float]:
        val = evaluate(self.model, self.val_ids, self.data.seq_len, world=self.world)
        return {"val_loss": val, "val_bpc": val / math.log(2)}

    def format_scores(self, scores: dict[str, float]) -> str:
        return f"val {describe_loss(scores['val_loss'], self.unit)}"

    def sample(self, record: dict) -> str | None:
        if not self.data.sample_chars:
            return None
        gen = torch.Generator().manual_seed(self.seed + record["step"])
        return "".join(generate(self.model, self.vocab, "", self.data.sample_chars, 0.8, generator=gen))

    def state_dict(self):
        # every stream's state (streams are dim 1), whichever process carried it
        carry = {f"carry.{k}": gather_columns(s, 1) for k, s in enumerate(self.carry or ())}
        return carry, {"position": self.batches.position}

    def load_state_dict(self, tensors, info) -> None:
        keys = sorted((k for k in tensors if k.startswith("carry.")), key=lambda k: int(k[6:]))
        self.carry = tuple(tensors[k][:, self.share] for k in keys) or None
        self.batches.position = int(info.get("position", 0))

    def sections(self):
        return {"model": self.model.config, "data": self.data}

    def tables(self):
        return {"vocab": self.vocab.to_json(), "corpus": self.corpus}

    def new_model(self) -> LanguageModel:
        return LanguageModel(self.model.config)

    def results(self, best: LanguageModel) -> dict:
        """The best weights' loss on the whole validation and test splits (every token, one stream),
        for corpora with a test split."""
        if self.test_ids is None:
            return {}
        val = evaluate(best, self.full_val, self.data.seq_len, exact=True)
        test = evaluate(best, self.test_ids, self.data.seq_len, exact=True)
        return {
            "unit": self.unit,
            "val_loss": val,
            "val_perplexity": math.exp(val),
            "val_tokens": len(self.full_val) - 1,
            "test_loss": test,
            "test_perplexity": math.exp(test),
            "test_tokens": len(self.test_ids) - 1,
        }

    def describe(self) -> str:
        m, d = self.model.config, self.data
        return (
            f"{m.cell} {m.num_layers}x{m.hidden_size}, {count_parameters(self.model):,} parameters, "
            f"vocabulary {m.vocab_size}; {len(self.batches) * self.batch_size * d.seq_len:,} training "
            f"{self.unit}s, {len(self.val_ids) - 1:,} for validation; sequence length {d.seq_len}"
        )


LEGACY_SECTIONS = legacy_sections(LMDataConfig)


def read_lm(run: RunConfig) -> tuple[ModelConfig, LMDataConfig, Vocab]:
    """The model config, data config and vocabulary of a language-model run."""
    model_cfg = run.section("model", ModelConfig)
    data = run.section("data", LMDataConfig)
    try:
        model_cfg.validate()
        vocab = vocab_from_json(run.table("vocab"))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(f"run {run.out}: {run.path.name} is damaged ({e})") from e
    check_tables(run.path, vocabulary=(len(vocab), model_cfg.vocab_size))
    return model_cfg, data, vocab


def load_model(
    out: Path, which: str = "best", finite: bool = True
) -> tuple[LanguageModel, Vocab, ModelConfig, LMDataConfig, dict]:
    """The model of a language-model run (in eval mode), with its vocabulary, configs and the
    checkpoint's info.

    Args:
        which: ``"best"`` (``model.safetensors``, falling back to the last state) or ``"last"``.
        finite: refuse weights that hold NaN or inf (a diverged training), naming the file.
    """
    run = read_config(Path(out), "lm", LEGACY_SECTIONS)
    model_cfg, data, vocab = read_lm(run)
    path = weights_path(run.out, which)
    model = LanguageModel(model_cfg)
    hint = "retrain with a lower --lr"
    if path == run.out / "last.safetensors" and (run.out / "model.safetensors").exists():
        hint = "use --checkpoint best (the best weights before it diverged) or " + hint
    info = load_weights(path, model, finite, hint)
    model.eval()
    return model, vocab, model_cfg, data, info
