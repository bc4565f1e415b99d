"""The trainer's options, shared by every task: how to step (:class:`OptimConfig`) and when to
evaluate, save and stop (:class:`RunConfig`), with each task's defaults in :data:`TASK_DEFAULTS`.

The dataclass defaults are those of the character language model; a task's config sections
(``model``, ``data``) are its own. All of them are saved in the run's ``config.json``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

from rnnlab import checks
from rnnlab.configs import check_fields

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad")
SCHEDULES = ("constant", "cosine", "step", "plateau", "epoch")
CLOCKS = ("wall", "cpu")
PRECISIONS = ("fp32", "bf16")


@dataclass
class OptimConfig:
    """How the trainer steps: optimizer, batch, learning-rate schedule, clipping."""

    optimizer: str = field(default="adam", metadata={"help": ", ".join(OPTIMIZERS)})
    lr: float = field(default=5e-3, metadata={"help": "learning rate"})
    batch_size: int = field(default=32, metadata={"help": "examples (language models: parallel streams) per step"})
    schedule: str = field(
        default="cosine",
        metadata={
            "help": "constant; cosine (to 0 over the budget); step (x lr_decay every decay_every); plateau "
            "(x lr_decay when the validation score does not improve); epoch (x lr_decay each epoch after "
            "decay_after)"
        },
    )
    lr_decay: float = field(default=0.5, metadata={"help": "factor of the step, plateau and epoch schedules"})
    decay_every: int = field(default=1000, metadata={"help": "steps between decays of the step schedule"})
    decay_after: int = field(default=4, metadata={"help": "epochs at the full rate before the epoch schedule decays"})
    warmup_steps: int = field(default=0, metadata={"help": "linear warm-up steps"})
    weight_decay: float = field(default=0.0, metadata={"help": "L2 weight decay"})
    clip_norm: float = field(default=5.0, metadata={"help": "clip the gradient's global norm to this; 0 = off"})
    clip_value: float = field(default=0.0, metadata={"help": "clip each gradient entry to [-v, v]; 0 = off"})

    def validate(self) -> None:
        check_fields(self)
        checks.choice("optimizer", self.optimizer, OPTIMIZERS)
        checks.choice("schedule", self.schedule, SCHEDULES)
        checks.positive("lr", self.lr)
        for name in ("batch_size", "decay_every"):
            checks.positive_int(name, getattr(self, name))
        for name in ("warmup_steps", "decay_after"):
            checks.non_negative_int(name, getattr(self, name))
        for name in ("weight_decay", "clip_norm", "clip_value"):
            checks.non_negative(name, getattr(self, name))
        if checks.positive("lr_decay", self.lr_decay) > 1:
            checks.fail("lr_decay", "a factor in (0, 1]", self.lr_decay)


@dataclass
class RunConfig:
    """When the trainer evaluates, saves and stops, and how it seeds and records."""

    time_budget: str = field(default="150s", metadata={"help": "stop after this long, e.g. 100s, 3m, 1h; '' = none"})
    clock: str = field(
        default="wall",
        metadata={
            "help": "what the time budget counts: wall (time on the clock) or cpu (the CPU time of the process, "
            "all its threads: the same budget for runs that share a busy machine)"
        },
    )
    max_steps: int = field(default=0, metadata={"help": "stop after this many steps; 0 = no limit"})
    max_epochs: float = field(
        default=0.0,
        metadata={"help": "stop after this many passes over the data; 0 = no limit", "flags": ("--epochs",)},
    )
    eval_every: int = field(
        default=500, metadata={"help": "steps between evaluations and checkpoints; 0 = after every pass"}
    )
    patience: int = field(
        default=0, metadata={"help": "stop after this many evaluations without a better score; 0 = never"}
    )
    target: float | None = field(default=None, metadata={"help": "report when the score first reaches this"})
    stop_at_target: bool = field(default=False, metadata={"help": "stop once the target is reached"})
    telemetry_every: int = field(
        default=50,
        metadata={"help": "steps between records of ||dL/dh_t|| over the sequence (gradflow.jsonl); 0 = off"},
    )
    spike_factor: float = field(
        default=3.0,
        metadata={
            "help": "stop as diverged when the training loss exceeds this many times its running level and its "
            "level at the first step (char-rnn stops at 3 times the first); 0 = off (NaN or inf always stop)"
        },
    )
    threads: int = field(
        default=0,
        metadata={
            "help": "CPU threads while training; 0 = PyTorch's count, fewer while other processes keep cores busy "
            "(rnnlab.train.threads)"
        },
    )
    precision: str = field(
        default="fp32",
        metadata={
            "help": "fp32; or bf16: mixed precision, bfloat16 matrix products with float32 weights and state, "
            "for LSTM language models on CPUs with AVX-512 BF16 or AMX (see rnnlab.train.precision)"
        },
    )
    seed: int = field(default=1234, metadata={"help": "seed of every random stream"})

    def budget_seconds(self) -> float | None:
        """The time budget in seconds, or ``None``."""
        return parse_duration(self.time_budget)

    def validate(self) -> None:
        check_fields(self)
        for name in ("max_steps", "eval_every", "patience", "telemetry_every", "threads"):
            checks.non_negative_int(name, getattr(self, name))
        checks.non_negative("max_epochs", self.max_epochs)
        checks.seed("seed", self.seed)
        checks.choice("clock", self.clock, CLOCKS)
        checks.choice("precision", self.precision, PRECISIONS)
        if checks.non_negative("spike_factor", self.spike_factor) and self.spike_factor <= 1:
            checks.fail("spike_factor", "0 (off) or a factor above 1", self.spike_factor)
        if self.budget_seconds() is None and self.max_steps == 0 and self.max_epochs == 0:
            checks.fail("time_budget/max_steps/max_epochs", "a time budget, a step or an epoch limit", "neither")
        if self.stop_at_target and self.target is None:
            checks.fail("stop_at_target", "a --target to stop at", "no target")


# Each task's departures from the dataclass defaults, in one place. Language models: Adam at 5e-3
# with the norm clipped to 5 (Karpathy's char-rnn clips at 5) for a 150 s budget. Long-range tasks
# (Le et al. 2015; Arjovsky et al. 2016): Adam at 1e-3, norm clipped to 1, 5 minutes; see also
# rnnlab.tasks.sequence for per task and per cell. Classifier and tagger: Adam at 1e-3, clipped to
# 5, a pass at a time for at most 20, stopping after 5 without a better validation score. The
# guard against loss spikes is the language model's (char-rnn's); the other tasks stop on NaN or inf.
_NO_SPIKE_GUARD = {"spike_factor": 0.0}
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "lm": {},
    "sequence": {
        **{"lr": 1e-3, "batch_size": 50, "clip_norm": 1.0, "time_budget": "5m", "eval_every": 250, "seed": 0},
        **_NO_SPIKE_GUARD,
    },
    "classify": {
        **{"lr": 1e-3, "schedule": "constant", "time_budget": "", "max_epochs": 20.0, "eval_every": 0},
        **{"patience": 5, **_NO_SPIKE_GUARD},
    },
    "tag": {
        **{"lr": 1e-3, "batch_size": 16, "schedule": "constant", "time_budget": "", "max_epochs": 20.0},
        **{"eval_every": 0, "patience": 5, **_NO_SPIKE_GUARD},
    },
    "seq2seq": {
        **{"lr": 1e-3, "batch_size": 64, "schedule": "constant", "time_budget": "", "max_epochs": 20.0},
        **{"eval_every": 0, "patience": 5, "clip_norm": 5.0, **_NO_SPIKE_GUARD},
    },
    "caption": {
        **{"lr": 1e-3, "batch_size": 64, "schedule": "constant", "time_budget": "", "max_epochs": 20.0},
        **{"eval_every": 0, "patience": 5, "clip_norm": 5.0, **_NO_SPIKE_GUARD},
    },
    "tree": {
        **{"lr": 1e-3, "batch_size": 32, "schedule": "constant", "time_budget": "", "max_epochs": 20.0},
        **{"eval_every": 0, "patience": 5, "clip_norm": 5.0, **_NO_SPIKE_GUARD},
    },
}


def options(kind: str, given: dict[str, Any] | None = None) -> tuple[OptimConfig, RunConfig]:
    """The options of a task ``kind``: the dataclass defaults < :data:`TASK_DEFAULTS` < ``given``
    (field name -> value, for either class; other names are ignored). Not validated."""
    values = {**TASK_DEFAULTS[kind], **(given or {})}
    made = []
    for cls in (OptimConfig, RunConfig):
        names = {f.name for f in dataclasses.fields(cls)}
        made.append(cls(**{k: v for k, v in values.items() if k in names}))
    return made[0], made[1]


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
