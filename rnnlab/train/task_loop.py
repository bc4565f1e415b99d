"""Training on the long-range tasks of :mod:`rnnlab.data.tasks`, with per-task defaults.

A run directory holds::

    config.json          model config (travels with the weights) and training config, as run
    model.safetensors    the weights at the latest evaluation (safetensors; no pickle)
    metrics.jsonl        one JSON object per evaluation: step, elapsed_s, train/test loss and metric
    summary.json         final and best metrics, the baseline, when the target was first reached
    curve.png            the learning curve against the baseline

Every file is written atomically, except metrics.jsonl, which grows one line per evaluation.
"""

from __future__ import annotations

import json
import math
import signal
import time
from dataclasses import asdict
from pathlib import Path

import torch

from rnnlab import checks
from rnnlab.bptt import prepare_for
from rnnlab.configs import from_dict
from rnnlab.data.tasks import Task
from rnnlab.fileio import append_jsonl, atomic_write_json
from rnnlab.models.language_model import count_parameters
from rnnlab.models.sequence import SequenceConfig, SequenceModel, build_model
from rnnlab.rundir import claim_run_dir, release_run_dir, releasing_on_error
from rnnlab.train.checkpoint import load_weights, save_weights
from rnnlab.train.config import parse_duration
from rnnlab.train.optim import clip_and_report, learning_rate, make_optimizer
from rnnlab.train.progress import Progress, format_seconds
from rnnlab.train.task_config import TaskTrainConfig
from rnnlab.train.telemetry import PLOTS, STEPS, Telemetry, read_steps

CONFIG, WEIGHTS, METRICS, SUMMARY, CURVE = (
    "config.json",
    "model.safetensors",
    "metrics.jsonl",
    "summary.json",
    "curve.png",
)
RUN_FILES = (CONFIG, WEIGHTS, METRICS, SUMMARY, CURVE, STEPS, PLOTS[1])
RUN_FORMAT = "rnnlab-task-run/1"


@torch.no_grad()
def evaluate(model: SequenceModel, task: Task, split: str = "test") -> dict[str, float]:
    """Mean loss and metric of ``model`` over the task's evaluation batches of ``split``.

    Returns:
        ``{"loss": ..., <metric>: ...}``, means over sequences.
    """
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    count = 0
    for x, y in task.evaluation_batches(split):
        pred = model(x)
        n = x.shape[1]
        for key, value in {"loss": float(task.loss(pred, y)), **task.metrics(pred, y)}.items():
            totals[key] = totals.get(key, 0.0) + value * n
        count += n
    model.train(was_training)
    return {k: v / count for k, v in totals.items()}


def check_output(out: Path, force: bool) -> None:
    """Refuse ``out`` if it is a file, or holds a run and ``force`` is off."""
    claim_run_dir(out, RUN_FILES, force, "use --force to replace it", clear=False)


def reached(value: float, target: float | None, higher_is_better: bool) -> bool:
    """Whether a metric ``value`` meets ``target``."""
    if target is None or math.isnan(value):
        return False
    return value >= target if higher_is_better else value <= target


class TaskTrainer:
    """Trains a :class:`SequenceModel` on a task in a run directory.

    Args:
        out: the run directory (created; an existing run is refused unless ``force``).
        model_cfg: the model (``steps`` is filled in with the task's T).
        cfg: the training configuration.
        force: replace a run already in ``out``.
        progress: where to report (one line per evaluation).
    """

    def __init__(
        self,
        out: Path,
        model_cfg: SequenceConfig,
        cfg: TaskTrainConfig,
        force: bool = False,
        progress: Progress | None = None,
    ) -> None:
        cfg.validate()
        self.out, self.cfg, self.progress = Path(out), cfg, progress or Progress()
        check_output(self.out, force)
        torch.manual_seed(cfg.seed)
        self.model, self.task = build_model(model_cfg)
        self.model_cfg = model_cfg
        if self.task.kind == "classify" and cfg.batch_size > self.task.size("train"):
            checks.fail("batch_size", f"at most the {self.task.size('train')} training images", cfg.batch_size)
        self.optimizer = make_optimizer(self.model, cfg)  # reads optimizer, lr, weight_decay
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.records: list[dict] = []
        self.first_reached: dict | None = None
        self.plateau_scale = 1.0  # the plateau schedule's product of decays so far
        self._stop = False
        claim_run_dir(self.out, RUN_FILES, force, "use --force to replace it")  # checked above: now taken
        with releasing_on_error(self.out):
            self.telemetry = Telemetry(self.out)  # every step's gradient norm before clipping: steps.csv
            config = {"format": RUN_FORMAT, "model": asdict(model_cfg), "train": asdict(cfg)}
            atomic_write_json(self.out / CONFIG, config)

    def run(self) -> dict:
        """Train until the time budget, step limit, target (with ``stop_at_target``) or Ctrl-C.

        The run directory stays locked against other trainings until this returns or raises.

        Returns:
            The summary also written to ``summary.json``.
        """
        try:
            return self._run()
        finally:
            release_run_dir(self.out)

    def _run(self) -> dict:
        cfg, task = self.cfg, self.task
        budget = parse_duration(cfg.time_budget)
        self.progress.log(self.describe())
        prepare_for(self.model)  # a first build of the compiled loops is not paid from the budget
        previous = signal.signal(signal.SIGINT, self._on_interrupt)
        threads = torch.get_num_threads()
        if cfg.threads:
            # small recurrent models gain little from threads, and lose much when cores are shared
            torch.set_num_threads(cfg.threads)
        started, step, diverged = time.monotonic(), 0, False
        window = {"loss": 0.0, "metric": 0.0, "norm": 0.0, "steps": 0}
        try:
            self.model.train()
            self._evaluate(step, 0.0, window)
            while not self._stop and not diverged:
                elapsed = time.monotonic() - started
                if (cfg.max_steps and step >= cfg.max_steps) or (budget and elapsed >= budget):
                    break
                fraction = max(step / cfg.max_steps if cfg.max_steps else 0.0, elapsed / budget if budget else 0.0)
                for group in self.optimizer.param_groups:
                    group["lr"] = learning_rate(cfg, step, fraction, self.plateau_scale)
                x, y = task.batch(cfg.batch_size, self.generator)  # (T, B, D), targets
                pred = self.model(x)
                loss = task.loss(pred, y)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                norm, clipped = clip_and_report(self.model, cfg)  # reads clip_norm, clip_value
                diverged = not math.isfinite(loss.item()) or not math.isfinite(norm)
                if not diverged:
                    self.optimizer.step()
                step += 1
                self.telemetry.add_step(step, loss.item(), norm, clipped, self.optimizer.param_groups[0]["lr"])
                window["loss"] += loss.item()
                window["metric"] += task.metrics(pred.detach(), y)[task.metric]
                window["norm"] += norm
                window["steps"] += 1
                if step % cfg.eval_every == 0 or diverged:
                    self._evaluate(step, time.monotonic() - started, window)
                    window = {"loss": 0.0, "metric": 0.0, "norm": 0.0, "steps": 0}
                    if cfg.stop_at_target and self.first_reached is not None:
                        break
            if window["steps"]:
                self._evaluate(step, time.monotonic() - started, window)
        finally:
            signal.signal(signal.SIGINT, previous)
            torch.set_num_threads(threads)
        if diverged:
            self.progress.log(f"diverged at step {step} (loss or gradient not finite); try a smaller --lr")
        summary = self._summary(diverged)
        atomic_write_json(self.out / SUMMARY, summary)
        self._plot()
        record = self.records[-1]
        self.progress.log(
            f"{'interrupted' if self._stop else 'done'} at step {step} after {format_seconds(record['elapsed_s'])}: "
            f"test {task.metric} {record['test_' + task.metric]:.4g} (baseline {task.baseline[task.metric]:.4g})"
        )
        return summary

    def _on_interrupt(self, signum, frame) -> None:
        if self._stop:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self._stop = True
        self.progress.log("stopping: finishing this step and saving (Ctrl-C again to abort at once)")

    def _evaluate(self, step: int, elapsed: float, window: dict) -> dict:
        task, metric = self.task, self.task.metric
        n = window["steps"]
        t0 = time.monotonic()
        test = evaluate(self.model, task, "test")
        record = {
            "step": step,
            "elapsed_s": round(elapsed, 3),
            "train_loss": window["loss"] / n if n else None,
            "test_loss": test["loss"],
            f"train_{metric}": window["metric"] / n if n else None,
            f"test_{metric}": test[metric],
            "grad_norm": window["norm"] / n if n else None,
            "lr": self.optimizer.param_groups[0]["lr"],
            "eval_s": round(time.monotonic() - t0, 3),
        }
        self.records.append(record)
        self.telemetry.flush()
        append_jsonl(self.out / METRICS, record)
        save_weights(self.out / WEIGHTS, self.model, {"step": step, f"test_{metric}": test[metric]})
        if self.cfg.schedule == "plateau" and len(self.records) > 1:
            if test["loss"] >= min(r["test_loss"] for r in self.records[:-1]):
                self.plateau_scale *= self.cfg.lr_decay
        if self.first_reached is None and reached(test[metric], self.cfg.target, task.higher_is_better):
            self.first_reached = {"step": step, "seconds": round(elapsed, 3)}
        train = f"{record['train_loss']:.4g}" if n else "-"
        self.progress.log(
            f"step {step:>6}  {format_seconds(elapsed):>7}  train loss {train:>8}  test loss {test['loss']:.4g}  "
            f"test {metric} {test[metric]:.4g}"
        )
        return record

    def _summary(self, diverged: bool) -> dict:
        task, metric = self.task, self.task.metric
        key = f"test_{metric}"
        valid = [r for r in self.records if not math.isnan(r[key])] or self.records
        pick = max if task.higher_is_better else min
        best = pick(valid, key=lambda r: r[key])
        last = self.records[-1]

        def brief(r: dict) -> dict:
            return {"step": r["step"], "elapsed_s": r["elapsed_s"], "test_loss": r["test_loss"], metric: r[key]}

        target = None
        if self.cfg.target is not None:
            target = {"value": self.cfg.target, "reached": self.first_reached is not None, **(self.first_reached or {})}
        return {
            "task": task.name,
            "cell": self.model_cfg.cell,
            "T": task.steps,
            "length": task.length,
            "kind": task.kind,
            "metric": metric,
            "higher_is_better": task.higher_is_better,
            "final": brief(last),
            "best": brief(best),
            "baseline": task.baseline,
            "target": target,
            "steps": last["step"],
            "seconds": last["elapsed_s"],
            "parameters": count_parameters(self.model),
            "diverged": diverged,
            "interrupted": self._stop,
            "config": {"model": asdict(self.model_cfg), "train": asdict(self.cfg)},
        }

    def _plot(self) -> None:
        from rnnlab.viz.tasks import plot_task_curve
        from rnnlab.viz.training import plot_clipping

        plot_task_curve(self.records, self.task, self.out / CURVE, title=f"{self.task.name}, {self.model_cfg.cell}")
        if steps := read_steps(self.out):
            plot_clipping(steps, self.cfg.clip_norm, self.out / PLOTS[1])

    def describe(self) -> str:
        m, c, base = self.model_cfg, self.cfg, self.task.baseline
        budget = f"budget {c.time_budget}" if parse_duration(c.time_budget) else "no time budget"
        steps = f", at most {c.max_steps} steps" if c.max_steps else ""
        return (
            f"{self.task.describe()}\n"
            f"{m.cell} {m.num_layers}x{m.hidden_size}, {count_parameters(self.model):,} parameters; "
            f"batch {c.batch_size}, {c.optimizer} lr {c.lr:g} ({c.schedule}), clip {c.clip_norm:g}; "
            f"{budget}{steps}; run in {self.out}\n"
            f"baseline ({base['what']}): loss {base['loss']:.4g}, {self.task.metric} {base[self.task.metric]:.4g}"
        )


def load_task_run(out: Path) -> tuple[SequenceModel, Task, SequenceConfig, TaskTrainConfig]:
    """The model (with its saved weights, in eval mode), task and configs of a task run directory."""
    out = Path(out)
    path = out / CONFIG
    if not path.is_file():
        raise ValueError(f"run {out}: no {CONFIG}; is this a run directory made by 'rnnlab task'?")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != RUN_FORMAT:
            raise ValueError(f"format is {raw.get('format')!r}, expected {RUN_FORMAT!r}")
        model_cfg = from_dict(SequenceConfig, raw["model"], "model config")
        train_cfg = from_dict(TaskTrainConfig, raw["train"], "train config")
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"run {out}: {CONFIG} is damaged ({e})") from e
    model, task = build_model(model_cfg)
    load_weights(out / WEIGHTS, model)
    model.eval()
    return model, task, model_cfg, train_cfg
