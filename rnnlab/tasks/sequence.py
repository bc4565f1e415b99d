"""The long-range tasks of :mod:`rnnlab.data.tasks` (``rnnlab task``): adding, copy, arithmetic, xml, digits.

Batches are drawn from the task with the run's own generator (saved for resume); every evaluation
scores the task's fixed test set, against the task's baseline. Defaults are per task and per cell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnlab import checks
from rnnlab.checkpoint import load_weights
from rnnlab.data import tasks as longrange
from rnnlab.models.language_model import count_parameters
from rnnlab.models.sequence import SequenceConfig, SequenceModel, build_model
from rnnlab.runs import RunConfig, read_config, weights_path
from rnnlab.tasks.common import legacy_sections
from rnnlab.train.distributed import ALONE, World, all_sum, current
from rnnlab.train.options import OptimConfig, options
from rnnlab.train.options import RunConfig as RunOptions
from rnnlab.train.task import Task

# Per-task defaults over the trainer's (rnnlab.train.options.TASK_DEFAULTS["sequence"]), as fields
# of SequenceConfig, OptimConfig or RunConfig. The papers ran plain SGD for 10^5-10^6 steps; with
# minutes on a CPU we use Adam, clipping the gradient norm to 1, a cosine schedule (as Keras /
# char-rnn users would) and the papers' model sizes.
_IMAGES = {"hidden_size": 128, "batch_size": 32, "lr": 2e-3, "eval_every": 200}
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    # Le et al. 2015: 100 hidden units, minibatch 16, lr and clipping grid-searched, T = 150..400.
    "adding": {"hidden_size": 100, "batch_size": 50, "lr": 3e-3},
    # Arjovsky et al. 2016: RMSprop lr 1e-3, minibatch 20; LSTM with 40 units (uRNN 128), T = 100..500.
    "copy": {"hidden_size": 128, "batch_size": 50, "lr": 1e-3},
    # Jozefowicz et al. 2015 grid-searched sizes and rates per cell; here one setting that a GRU learns
    # in about a minute (measured on 2 cores, see the README), for ranking cells by a short run.
    "arithmetic": {"hidden_size": 128, "batch_size": 50, "lr": 3e-3, "eval_every": 200},
    # xml: at 3e-3 a GRU stays at the baseline for 90 s; at 1e-2 it learns the closing tags.
    "xml": {"hidden_size": 128, "batch_size": 50, "lr": 1e-2, "eval_every": 200},
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
_SECTIONS = (SequenceConfig, OptimConfig, RunOptions)


def resolve_configs(task: str, cell: str, given: dict[str, Any]) -> tuple[SequenceConfig, OptimConfig, RunOptions]:
    """Defaults < :data:`TASK_DEFAULTS` < :data:`CELL_DEFAULTS` < :data:`TASK_CELL_DEFAULTS` < ``given``.

    Args:
        task: a task name.
        cell: a cell name.
        given: fields of any of the three configs that the user set explicitly.

    Returns:
        ``(model config, optimisation, run options)``, validated.
    """
    defaults = {
        **TASK_DEFAULTS.get(task, {}),
        **CELL_DEFAULTS.get(cell, {}),
        **TASK_CELL_DEFAULTS.get((task, cell), {}),
    }
    values = {**defaults, **given, "task": task, "cell": cell}
    known = {name for cls in _SECTIONS for name in cls.__dataclass_fields__}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"config: unknown field(s) {', '.join(unknown)}")
    model_names = SequenceConfig.__dataclass_fields__
    model_cfg = SequenceConfig(**{k: v for k, v in values.items() if k in model_names})
    optim, run = options("sequence", values)
    for cfg in (model_cfg, optim, run):
        cfg.validate()
    return model_cfg, optim, run


@torch.no_grad()
def evaluate(model: SequenceModel, task: longrange.Task, split: str = "test", world: World = ALONE) -> dict[str, float]:
    """Mean loss and metric of ``model`` over the task's evaluation batches of ``split`` (each process
    of ``world`` takes every ``size``-th batch, and the processes add up their sums).

    Returns:
        ``{"loss": ..., <metric>: ...}``, means over sequences.
    """
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {"loss": 0.0, task.metric: 0.0}
    count = 0
    for k, (x, y) in enumerate(task.evaluation_batches(split)):
        if k % world.size != world.rank:
            continue
        pred = model(x)
        n = x.shape[1]
        for key, value in {"loss": float(task.loss(pred, y)), **task.metrics(pred, y)}.items():
            totals[key] = totals.get(key, 0.0) + value * n
        count += n
    model.train(was_training)
    keys = sorted(totals)
    *sums, count = all_sum([*(totals[k] for k in keys), count], world)
    totals = dict(zip(keys, sums))
    return {k: v / count for k, v in totals.items()}


class SequenceTask(Task):
    """A :class:`SequenceModel` on a long-range task.

    Args:
        model_cfg: the model and task (``steps`` is filled in with the task's T).
        batch_size: sequences per step.
        seed: seeds the initial weights and the training batches.
    """

    kind = "sequence"
    parallel = True
    unit = "sequence"
    speed_key = "sequences_per_s"
    evaluate_first = True  # the learning curve starts at the untrained model, beside the baseline

    def __init__(self, model_cfg: SequenceConfig, batch_size: int, seed: int) -> None:
        torch.manual_seed(seed)
        self.model_cfg = model_cfg
        self.model, self.task = build_model(model_cfg)
        if self.task.kind == "classify" and batch_size > self.task.size("train"):
            checks.fail("batch_size", f"at most the {self.task.size('train')} training images", batch_size)
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.metric, self.higher_is_better = f"test_{self.task.metric}", self.task.higher_is_better

    @classmethod
    def from_run(cls, run: RunConfig, batch_size: int, seed: int) -> SequenceTask:
        return cls(run.section("model", SequenceConfig), batch_size, seed)

    def next_batch(self):
        x, y = self.task.batch(self.batch_size, self.generator)  # (T, B, D), targets: alike on every process
        mine, weight = current().take(list(range(self.batch_size)))  # this process's part of the sequences
        at, n = mine[0], len(mine)
        return x.narrow(1, at, n), y.narrow(y.dim() - 1, at, n), weight

    def loss(self, batch):
        x, y, weight = batch
        pred = self.model(x)
        loss = self.task.loss(pred, y)
        metric = self.task.metrics(pred.detach(), y)[self.task.metric]
        figures = {"loss": loss.item(), self.task.metric: metric, "tokens": x.shape[1] if weight else 0}
        return loss * weight, {**figures, "weight": weight}

    def evaluate(self) -> dict[str, float]:
        return {f"test_{k}": v for k, v in evaluate(self.model, self.task, "test", current()).items()}

    def format_scores(self, scores: dict[str, float]) -> str:
        return "  ".join(f"{k.replace('_', ' ')} {v:.4g}" for k, v in scores.items())

    def state_dict(self) -> tuple[dict[str, Tensor], dict]:
        return {"generator": self.generator.get_state()}, {}

    def load_state_dict(self, tensors, info) -> None:
        if "generator" in tensors:
            self.generator.set_state(tensors["generator"])

    def sections(self):
        return {"model": self.model_cfg}

    def new_model(self) -> SequenceModel:
        return build_model(self.model_cfg)[0]

    def results(self, best: SequenceModel) -> dict:
        task = self.task
        return {
            "task": task.name,
            "cell": self.model_cfg.cell,
            "T": task.steps,
            "length": task.length,
            "task_kind": task.kind,
            "baseline": task.baseline,
        }

    def describe(self) -> str:
        m, base = self.model_cfg, self.task.baseline
        return (
            f"{self.task.describe()}\n"
            f"{m.cell} {m.num_layers}x{m.hidden_size}, {count_parameters(self.model):,} parameters; "
            f"baseline ({base['what']}): loss {base['loss']:.4g}, {self.task.metric} {base[self.task.metric]:.4g}"
        )


def load_sequence_run(out: Path, finite: bool = True) -> tuple[SequenceModel, longrange.Task, SequenceConfig]:
    """The model (with its best weights, in eval mode), task and model config of a task run
    (``finite=False`` also takes weights that hold NaN or inf, for ``rnnlab inspect``)."""
    run = read_config(Path(out), "sequence", legacy_sections(None))
    model_cfg = run.section("model", SequenceConfig)
    model, task = build_model(model_cfg)
    load_weights(weights_path(run.out), model, finite)
    model.eval()
    return model, task, model_cfg
