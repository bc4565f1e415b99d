"""Training configuration (does not travel with the weights, but is saved in the run)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from rnnlab import checks
from rnnlab.configs import check_fields

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad")
SCHEDULES = ("constant", "cosine", "step", "plateau", "epoch")
LEVELS = ("char", "word")
LOSSES = ("mean", "sum")
TOKENIZERS = ("whitespace", "regex")


@dataclass
class TrainConfig:
    data: str = field(
        default="shakespeare", metadata={"help": "shakespeare, python-stdlib, ptb, or a file/folder/glob"}
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
    seq_len: int = field(default=64, metadata={"help": "BPTT truncation length (characters per chunk)"})
    batch_size: int = field(default=32, metadata={"help": "parallel streams"})
    loss: str = field(
        default="mean",
        metadata={"help": "mean over every token; sum (over the chunk's steps, mean over streams, as Zaremba et al.)"},
    )
    optimizer: str = field(default="adam", metadata={"help": ", ".join(OPTIMIZERS)})
    lr: float = field(default=5e-3, metadata={"help": "learning rate"})
    schedule: str = field(
        default="cosine",
        metadata={
            "help": "constant; cosine (to 0 over the budget); step (x lr_decay every decay_every); plateau "
            "(x lr_decay when validation does not improve); epoch (x lr_decay each epoch after decay_after)"
        },
    )
    lr_decay: float = field(default=0.5, metadata={"help": "factor of the step and plateau schedules"})
    decay_every: int = field(default=1000, metadata={"help": "steps between decays of the step schedule"})
    decay_after: int = field(default=4, metadata={"help": "epochs at the full rate before the epoch schedule decays"})
    warmup_steps: int = field(default=0, metadata={"help": "linear warm-up steps"})
    weight_decay: float = field(default=0.0, metadata={"help": "L2 weight decay"})
    clip_norm: float = field(default=5.0, metadata={"help": "clip the gradient's global norm to this; 0 = off"})
    clip_value: float = field(default=0.0, metadata={"help": "clip each gradient entry to [-v, v]; 0 = off"})
    telemetry_every: int = field(
        default=50, metadata={"help": "steps between records of ||dL/dh_t|| over the chunk (gradflow.jsonl); 0 = off"}
    )
    time_budget: str = field(default="150s", metadata={"help": "stop after this long, e.g. 100s, 3m, 1h; '' = none"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many steps; 0 = no limit"})
    max_epochs: float = field(default=0.0, metadata={"help": "stop after this many passes over the data; 0 = no limit"})
    eval_every: int = field(default=500, metadata={"help": "steps between evaluations and checkpoints"})
    eval_chars: int = field(
        default=100_000, metadata={"help": "validation tokens (characters or words) per evaluation; 0 = all"}
    )
    sample_chars: int = field(
        default=200, metadata={"help": "tokens (characters or words) of the sample printed at each evaluation"}
    )
    seed: int = field(default=1234, metadata={"help": "seed of every random stream"})

    def budget_seconds(self) -> float | None:
        """The time budget in seconds, or ``None``."""
        return parse_duration(self.time_budget)

    def validate(self) -> None:
        check_fields(self)
        checks.probability("val_fraction", self.val_fraction)
        if not 0 < self.val_fraction:
            checks.fail("val_fraction", "a number in (0, 1)", self.val_fraction)
        for name in ("seq_len", "batch_size", "decay_every", "eval_every"):
            checks.positive_int(name, getattr(self, name))
        checks.choice("level", self.level, LEVELS)
        checks.choice("loss", self.loss, LOSSES)
        checks.choice("tokenizer", self.tokenizer, TOKENIZERS)
        checks.positive_int("min_freq", self.min_freq)
        if self.max_vocab < 0 or 0 < self.max_vocab < 3:
            checks.fail("max_vocab", "0 (no limit) or at least 3 (<unk>, <eos> and a word)", self.max_vocab)
        checks.non_negative("max_epochs", self.max_epochs)
        for name in ("max_steps", "eval_chars", "sample_chars", "telemetry_every", "decay_after"):
            checks.non_negative_int(name, getattr(self, name))
        checks.choice("schedule", self.schedule, SCHEDULES)
        check_optimisation(self)
        budget = self.budget_seconds()
        if budget is None and self.max_steps == 0 and self.max_epochs == 0:
            checks.fail("time_budget/max_steps/max_epochs", "a time budget, a step or an epoch limit", "neither")


def check_optimisation(cfg: Any) -> None:
    """The checks of the fields every training config shares (optimizer, lr, weight_decay,
    clip_norm, clip_value, seed) and of lr_decay and warmup_steps where it has them."""
    checks.choice("optimizer", cfg.optimizer, OPTIMIZERS)
    checks.positive("lr", cfg.lr)
    for name in ("weight_decay", "clip_norm", "clip_value"):
        checks.non_negative(name, getattr(cfg, name))
    if hasattr(cfg, "lr_decay") and checks.positive("lr_decay", cfg.lr_decay) > 1:
        checks.fail("lr_decay", "a factor in (0, 1]", cfg.lr_decay)
    if hasattr(cfg, "warmup_steps"):
        checks.non_negative_int("warmup_steps", cfg.warmup_steps)
    checks.seed("seed", cfg.seed)


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float | None:
    """``"100s"``, ``"3m"``, ``"1.5h"``, ``"90"`` (seconds) -> seconds; ``""`` or ``"0"`` -> ``None``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text or "0")
    if match is None:
        checks.fail("time_budget", "a duration such as 100s, 3m or 1h", text)
    seconds = float(match[1]) * _UNITS[match[2]]
    if not math.isfinite(seconds):
        checks.fail("time_budget", "a finite duration", text)
    return seconds or None
