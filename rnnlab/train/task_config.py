"""How a task model is trained: the configuration and the per-task and per-cell defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rnnlab import checks
from rnnlab.configs import check_fields
from rnnlab.models.sequence import SequenceConfig
from rnnlab.train.config import OPTIMIZERS, SCHEDULES, check_optimisation, parse_duration


@dataclass
class TaskTrainConfig:
    """How a task model is trained (saved in the run, does not travel with the weights).

    ``make_optimizer``, ``learning_rate`` and ``clip_gradients`` of :mod:`rnnlab.train.optim` read the
    fields it shares with :class:`rnnlab.train.config.TrainConfig` (optimizer, lr, schedule, ...).
    """

    batch_size: int = field(default=50, metadata={"help": "sequences per step"})
    optimizer: str = field(default="adam", metadata={"help": ", ".join(OPTIMIZERS)})
    lr: float = field(default=1e-3, metadata={"help": "learning rate"})
    schedule: str = field(
        default="cosine",
        metadata={"help": "constant; cosine (to 0 over the budget, by the clock or max_steps); step; plateau"},
    )
    lr_decay: float = field(default=0.5, metadata={"help": "factor of the step and plateau schedules"})
    decay_every: int = field(default=1000, metadata={"help": "steps between decays of the step schedule"})
    warmup_steps: int = field(default=0, metadata={"help": "linear warm-up steps"})
    weight_decay: float = field(default=0.0, metadata={"help": "L2 weight decay"})
    clip_norm: float = field(default=1.0, metadata={"help": "clip the gradient's global norm to this; 0 = off"})
    clip_value: float = field(default=0.0, metadata={"help": "clip each gradient entry to [-v, v]; 0 = off"})
    time_budget: str = field(default="5m", metadata={"help": "stop after this long, e.g. 100s, 5m; '' = none"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many steps; 0 = no limit"})
    eval_every: int = field(default=250, metadata={"help": "steps between evaluations on the test set"})
    seed: int = field(default=0, metadata={"help": "seed of the initial weights and the training batches"})
    target: float | None = field(default=None, metadata={"help": "report when the test metric first reaches this"})
    stop_at_target: bool = field(default=False, metadata={"help": "stop once the target is reached"})
    threads: int = field(default=0, metadata={"help": "CPU threads while training; 0 = PyTorch's choice"})

    def validate(self) -> None:
        check_fields(self)
        for name in ("batch_size", "eval_every", "decay_every"):
            checks.positive_int(name, getattr(self, name))
        for name in ("max_steps", "threads"):
            checks.non_negative_int(name, getattr(self, name))
        checks.choice("schedule", self.schedule, SCHEDULES)
        check_optimisation(self)
        if parse_duration(self.time_budget) is None and self.max_steps == 0:
            checks.fail("time_budget/max_steps", "a time budget or a step limit", "neither")
        if self.stop_at_target and self.target is None:
            checks.fail("stop_at_target", "a --target to stop at", "no target")


# Per-task defaults over the dataclass defaults (fields of SequenceConfig or TaskTrainConfig). The
# papers ran plain SGD for 10^5-10^6 steps; with minutes on a CPU we use Adam, clipping the gradient
# norm to 1, a cosine schedule (as Keras/char-rnn users would) and the papers' model sizes.
_IMAGES = {"hidden_size": 128, "batch_size": 32, "lr": 2e-3, "eval_every": 200}
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    # Le et al. 2015: 100 hidden units, minibatch 16, lr and clipping grid-searched, T = 150..400.
    "adding": {"hidden_size": 100, "batch_size": 50, "lr": 3e-3},
    # Arjovsky et al. 2016: RMSprop lr 1e-3, minibatch 20; LSTM with 40 units (uRNN 128), T = 100..500.
    "copy": {"hidden_size": 128, "batch_size": 50, "lr": 1e-3},
    # Le et al. 2015 (pixel MNIST): 100 hidden units, minibatch 16; digits is the 8x8 stand-in.
    **dict.fromkeys(("digits", "digits-permuted", "mnist", "mnist-permuted", "mnist-rows"), _IMAGES),
}
# Per-cell changes. IRNN's identity recurrence passes every step undamped, so large steps blow it
# up (Le et al. needed lr 1e-4..1e-2 with SGD); with Adam, 3e-4 is stable on adding and digits.
CELL_DEFAULTS: dict[str, dict[str, Any]] = {"irnn": {"lr": 3e-4}}
# Per task and cell. IRNN's input weights start at N(0, 0.001^2) (Le et al.'s adding setup): one
# pixel per step then barely moves the state, and on 8x8 digits it plateaus near 30% accuracy;
# N(0, 1) for one pixel (and 1/sqrt(28) for a row of 28) reaches 95%.
TASK_CELL_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    **{
        (t, "irnn"): {"cell_options": {"input_std": 1.0}}
        for t in ("digits", "digits-permuted", "mnist", "mnist-permuted")
    },
    ("mnist-rows", "irnn"): {"cell_options": {"input_std": 28**-0.5}},
}


def resolve_configs(task: str, cell: str, given: dict[str, Any]) -> tuple[SequenceConfig, TaskTrainConfig]:
    """Dataclass defaults < :data:`TASK_DEFAULTS` < :data:`CELL_DEFAULTS` < :data:`TASK_CELL_DEFAULTS` < ``given``.

    Args:
        task: a task name.
        cell: a cell name.
        given: fields of either config that the user set explicitly.

    Returns:
        ``(model_config, train_config)``, validated.
    """
    defaults = {
        **TASK_DEFAULTS.get(task, {}),
        **CELL_DEFAULTS.get(cell, {}),
        **TASK_CELL_DEFAULTS.get((task, cell), {}),
    }
    values = {**defaults, **given, "task": task, "cell": cell}
    model_names = SequenceConfig.__dataclass_fields__
    unknown = sorted(set(values) - set(model_names) - set(TaskTrainConfig.__dataclass_fields__))
    if unknown:
        raise ValueError(f"config: unknown field(s) {', '.join(unknown)}")
    model_cfg = SequenceConfig(**{k: v for k, v in values.items() if k in model_names})
    train_cfg = TaskTrainConfig(**{k: v for k, v in values.items() if k not in model_names})
    model_cfg.validate()
    train_cfg.validate()
    return model_cfg, train_cfg
