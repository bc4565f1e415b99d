"""The one training loop: any :class:`~rnnlab.train.task.Task`, in a run directory.

Per step: the task's next batch and loss, backward, clipping (with its telemetry), a check that
loss and gradient are finite (else the run stops as diverged, without taking the step), the
optimizer step. Every ``eval_every`` steps (or after every pass): the task's scores, a line of
``metrics.jsonl``, the best weights (``model.safetensors``) and the whole training state
(``last.safetensors``), so that ``resume`` continues exactly. It stops at the time budget, a step
or epoch limit, the patience of early stopping, a target, or Ctrl-C / SIGTERM (the first finishes
the step and saves; a second Ctrl-C stops at once). It emits records and draws nothing.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from dataclasses import asdict
from pathlib import Path

import torch

from rnnlab import path_choice
from rnnlab.bptt import GradientFlow, prepare_for
from rnnlab.checkpoint import load_state, load_weights, save_state, save_weights
from rnnlab.fileio import append_jsonl, atomic_write_json
from rnnlab.models.language_model import count_parameters
from rnnlab.rundir import claim_run_dir, lock_run_dir, release_run_dir, releasing_on_error
from rnnlab.runs import BEST, LAST, METRICS, RESULTS, RUN_FILES, SAMPLES, records_until, truncate_records, write_config
from rnnlab.train import distributed
from rnnlab.train.clock import budget_clock
from rnnlab.train.guard import check_step, diverged_message
from rnnlab.train.optim import clip_and_report, learning_rate, make_optimizer
from rnnlab.train.options import OptimConfig, RunConfig
from rnnlab.train.precision import autocast, check_precision
from rnnlab.train.progress import Progress, format_seconds
from rnnlab.train.signals import handled
from rnnlab.train.state import TrainerState, Window, better, reached
from rnnlab.train.task import Task
from rnnlab.train.telemetry import Telemetry
from rnnlab.train.threads import Threads

HINT = "use --resume {out} to continue it or --force to replace it"
EPOCH_SLACK = 1e-9  # a resumed run's epochs are whole within this
WEIGHTS = "the weights are not finite"  # after a step with a finite gradient (a huge learning rate)


def check_out(out: Path, force: bool) -> None:
    """Refuse ``out`` now (nothing is created) if a new run could not be started in it."""
    claim_run_dir(out, RUN_FILES, force, HINT.format(out=out), clear=False)


class Trainer:
    """Trains ``task.model`` in the run directory ``out``.

    Args:
        task: what to train (its model is built, seeded, by the task).
        out: the run directory (a run already there is refused unless ``force``, or ``resume``).
        optim: how to step.
        run: when to evaluate, save and stop.
        progress: where to report.
        force: replace a run already in ``out``.
        resume: continue the run in ``out`` from its ``last.safetensors``.
        final_results: at the end, score the best weights with the task's ``results`` (for a
            language model, the whole validation and test splits); a caller that needs only the
            evaluations during training (the cell search) leaves them out.
    """

    def __init__(
        self,
        task: Task,
        out: Path,
        optim: OptimConfig,
        run: RunConfig,
        progress: Progress | None = None,
        force: bool = False,
        resume: bool = False,
        final_results: bool = True,
    ) -> None:
        optim.validate()
        run.validate()
        self._check_epochs(task, optim, run)
        if task.batch_size != optim.batch_size:
            raise ValueError(
                f"batch_size: the task was built for {task.batch_size}, the options say {optim.batch_size}"
            )
        check_precision(run.precision, task.kind, task.model)
        self.task, self.out, self.optim, self.cfg = task, Path(out), optim, run
        self.final_results = final_results
        self.world = distributed.current()  # rank 0 alone writes the run's files
        if self.world.size > 1 and not task.parallel:
            raise ValueError(f"--nproc: {task.kind} runs train in one process")
        self.progress = progress or Progress()
        self.model = task.model  # the replica of each process trains it (in DDP when there are several)
        self.optimizer = make_optimizer(task.model, optim)
        self.state = TrainerState()
        self.records: list[dict] = []
        if self.world.writer and resume:
            lock_run_dir(self.out, RUN_FILES)
        elif self.world.writer:
            claim_run_dir(self.out, RUN_FILES, force, HINT.format(out=self.out))
        tensors: dict = {}
        with releasing_on_error(self.out) if self.world.writer else contextlib.nullcontext():
            if resume:
                counters, tensors, info = load_state(self.out / LAST, task.model, self.optimizer)
                task.load_state_dict(tensors, info or {"position": counters.get("data_position", 0)})
                counters.setdefault("best", counters.pop("best_val", None))  # as earlier versions saved it
                self.state = TrainerState(**{k: v for k, v in counters.items() if k in TrainerState.__annotations__})
                path_choice.preset(self.state.paths or {})  # the paths the run took, bit for bit
                if self.state.epochs is None:  # a checkpoint of before the count was kept
                    bpe = task.batches_per_epoch
                    self.state.epochs = self.state.step / bpe if bpe else 0.0
                if self.world.writer:
                    self.records = truncate_records(self.out, self.state.step)
                    (self.out / RESULTS).unlink(missing_ok=True)  # the results of the segment before, now stale
                else:  # the same records, left to the writer to rewrite
                    self.records = records_until(self.out, self.state.step)
            if self.world.writer:
                sections = {**task.sections(), "optim": optim, "run": run}
                write_config(self.out, task.kind, sections, task.tables())  # the resolved config, as run
        self._epoch_base = (self.state.step, self.state.epochs or 0.0)  # (step, epochs) this segment starts at
        self.telemetry = Telemetry(self.out if self.world.writer else None)
        self.replica = distributed.replicate(task.model)
        distributed.seed_processes(run.seed, tensors, self.state.step)  # each process its own dropout masks
        self._stop = False
        self._diverged = ""  # why the run diverged (a step not taken, or WEIGHTS)

    @staticmethod
    def _check_epochs(task: Task, optim: OptimConfig, run: RunConfig) -> None:
        if task.batches_per_epoch is None:
            for name, used in (("eval_every", run.eval_every == 0), ("max_epochs", run.max_epochs > 0)):
                if used:
                    raise ValueError(f"{name}: this task's data is an endless stream; it has no passes (epochs)")
            if optim.schedule == "epoch":
                raise ValueError("schedule: epoch needs data with passes (epochs); this task's is an endless stream")

    # ------------------------------------------------------------------ the loop
    def run(self) -> dict:
        """Train until a limit, the budget, early stopping or Ctrl-C; returns the summary (also in
        ``results.json`` with the task's results, unless the run diverged).

        The run directory stays locked against other trainings until this returns or raises.
        """
        try:
            return self._run()
        finally:
            if self.world.writer:
                release_run_dir(self.out)

    def _run(self) -> dict:
        task, cfg, st = self.task, self.cfg, self.state
        torch.set_flush_denormal(True)  # covers the calling thread (and threads started later)
        self.progress.log(self.describe())
        prepare_for(task.model)  # a first build of the compiled loops is not paid from the budget
        threads = Threads(cfg.threads, self.world.size, self.progress.log)  # fewer while others use the cores
        clock = budget_clock(cfg.clock)
        budget, started, base = cfg.budget_seconds(), clock(), st.elapsed_s
        window, last = Window(), self.records[-1] if self.records else None
        if last is not None and last["step"] != st.step:
            last = None
        stopped = "interrupted"
        with handled(self._on_signal):
            try:
                task.model.train()
                if task.evaluate_first and st.step == 0 and last is None:
                    last = self._evaluate(window) or last
                while not self._diverged:  # a signal stops the loop here, agreed by every process
                    st.elapsed_s, signalled = distributed.agree(base + clock() - started, self._stop)
                    stopped = self._limit(budget)
                    if stopped or signalled:  # what was agreed only: a signal that lands after it waits a step
                        self._stop = self._stop or signalled
                        break
                    fraction = self._fraction(budget)
                    t0 = time.monotonic()
                    lr = learning_rate(self.optim, st.step, fraction, st.plateau_scale, self._epoch_index())
                    figures, norm, clipped = self._step(lr)
                    if self._diverged:
                        break
                    window.add(figures, norm, clipped, time.monotonic() - t0)
                    threads.tick()
                    self.telemetry.add_step(st.step, figures["loss"], norm, clipped, lr)
                    left = self._time_left(budget, window)
                    speed = window.tokens / max(window.seconds, 1e-9)
                    self.progress.update(st.step, figures["loss"], speed, left, fraction, task.unit)
                    if self._due():
                        st.elapsed_s = base + clock() - started
                        last = self._evaluate(window) or last
                        window = Window()
                        stopped = self._early_stop()
                        if stopped:
                            break
                st.elapsed_s = base + clock() - started
                # a resumed run that had nothing left to do adds no record; a diverged one keeps its last checkpoint
                if (last is None or window.steps) and not self._diverged:
                    last = self._evaluate(window) or last
            finally:
                threads.restore()
        return self._finish(last, "interrupted" if self._stop else stopped)

    def _finish(self, last: dict | None, stopped: str) -> dict:
        task, st = self.task, self.state
        self.telemetry.flush()
        if self._diverged:
            where = st.step if self._diverged == WEIGHTS else st.step + 1  # a step taken, or one not taken
            kept = last["step"] if last is not None else None
            self.progress.log(diverged_message(where, self._diverged, kept, self.out, self.optim))
            return self._summary(last, "diverged")
        best = task.format_scores({task.metric: st.best}) if st.best is not None else "none"
        how = "interrupted" if self._stop else "done"
        self.progress.log(
            f"{how} at step {st.step} after {format_seconds(st.elapsed_s)} ({stopped}); "
            f"best {best} at step {st.best_step}"
        )
        summary = self._summary(last, stopped)
        if not self.world.writer:
            return summary
        # none if every score was NaN; an interrupted run leaves them to the run that finishes it
        if self.final_results and (self.out / BEST).exists() and not self._stop:
            model = task.new_model()
            load_weights(self.out / BEST, model)
            model.eval()
            with torch.no_grad():
                summary.update(task.results(model))
        atomic_write_json(self.out / RESULTS, summary)
        return summary

    def _summary(self, last: dict | None, stopped: str) -> dict:
        task, st, bpe = self.task, self.state, self.task.batches_per_epoch
        best = next((r for r in self.records if r["step"] == st.best_step), None)
        target = None
        if self.cfg.target is not None:
            target = {"value": self.cfg.target, "reached": st.reached is not None, **(st.reached or {})}
        return {
            "kind": task.kind,
            "metric": task.metric,
            "higher_is_better": task.higher_is_better,
            "steps": st.step,
            "epochs": self._epochs() if bpe else None,
            "seconds": round(st.elapsed_s, 3),
            "best_step": st.best_step,
            "best_epoch": self._best_epoch(best),
            "best": best,
            "final": last,
            "target": target,
            "parameters": count_parameters(task.model),
            "stopped": stopped,
            "interrupted": self._stop,
            "diverged": bool(self._diverged),
            "divergence": self._diverged or None,
        }

    def _step(self, lr: float) -> tuple[dict[str, float], float, bool]:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = self.task.next_batch()
        every = self.cfg.telemetry_every
        flow = GradientFlow() if every and (self.state.step + 1) % every == 0 else None
        self.task.model = self.replica  # the forward of DDP, which then averages the gradients
        try:  # the steps that record dL/dh_t run in fp32 (rnnlab.train.precision)
            with flow or contextlib.nullcontext(), autocast(self.model, "fp32" if flow else self.cfg.precision):
                objective, figures = self.task.loss(batch)
            self.optimizer.zero_grad(set_to_none=True)
            objective.backward()
        finally:
            self.task.model = self.model
        figures = distributed.global_figures(figures)
        norm, clipped = clip_and_report(self.task.model, self.optim)
        reason = check_step(figures["loss"], norm, self.state, self.cfg.spike_factor)
        if reason:
            self._diverged = reason  # no step: the weights stay those before it
            return figures, norm, clipped
        self.optimizer.step()
        self.state.step += 1
        if flow is not None:
            self.telemetry.add_profile(self.state.step, flow.norms)
        return figures, norm, clipped

    # ------------------------------------------------------------------ limits and cadence
    # Epochs count on from where a segment starts, so that a resumed run whose passes hold another
    # number of batches (a new --seq-len) goes on from the count it had.
    def _epochs(self, step: int | None = None) -> float:
        """The epochs run by ``step`` (default: now) of this segment."""
        bpe, (base_step, base_epochs) = self.task.batches_per_epoch, self._epoch_base
        step = self.state.step if step is None else step
        return base_epochs + (step - base_step) / bpe if bpe else 0.0

    def _epoch_index(self) -> int:
        """The epochs completed."""
        return math.floor(self._epochs() + EPOCH_SLACK)

    def _best_epoch(self, best: dict | None) -> int | None:
        """The epoch of the best evaluation: from its record, which counted across resumes."""
        bpe = self.task.batches_per_epoch
        if not bpe:
            return None
        if best and best.get("epoch") is not None:
            return self._epoch_number(best["epoch"])
        return math.ceil(self.state.best_step / bpe)  # no evaluation yet

    @staticmethod
    def _epoch_number(epochs: float) -> int:
        """Which epoch (from 1) the step that ended at ``epochs`` belongs to."""
        return math.ceil(epochs - EPOCH_SLACK)

    def _limit(self, budget: float | None) -> str | None:
        cfg, st = self.cfg, self.state
        if cfg.max_steps and st.step >= cfg.max_steps:
            return "step limit"
        if cfg.max_epochs and self._epochs() >= cfg.max_epochs - EPOCH_SLACK:
            return "epoch limit"
        if budget and st.elapsed_s >= budget:
            return "time budget"
        return None

    def _fraction(self, budget: float | None) -> float:
        cfg, st = self.cfg, self.state
        return max(
            st.step / cfg.max_steps if cfg.max_steps else 0.0,
            self._epochs() / cfg.max_epochs if cfg.max_epochs else 0.0,
            st.elapsed_s / budget if budget else 0.0,
        )

    def _due(self) -> bool:
        """Whether this step ends an evaluation period: ``eval_every`` steps, else an epoch (as
        counted across resumes, so after a new --seq-len where the count passes a whole number)."""
        if self.cfg.eval_every:
            return self.state.step % self.cfg.eval_every == 0
        return self._epoch_index() > math.floor(self._epochs(self.state.step - 1) + EPOCH_SLACK)

    def _early_stop(self) -> str | None:
        cfg, st = self.cfg, self.state
        if cfg.patience and st.stale >= cfg.patience:
            return f"no better score for {cfg.patience} evaluations"
        if cfg.stop_at_target and st.reached is not None:
            return "target reached"
        return None

    def _time_left(self, budget: float | None, window: Window) -> float | None:
        cfg, st = self.cfg, self.state
        lefts = [budget - st.elapsed_s] if budget else []
        per_step = window.seconds / window.steps if window.steps else None
        bpe = self.task.batches_per_epoch
        if cfg.max_steps and per_step:
            lefts.append((cfg.max_steps - st.step) * per_step)
        if cfg.max_epochs and bpe and per_step:
            lefts.append((cfg.max_epochs - self._epochs()) * bpe * per_step)
        return min(lefts) if lefts else None

    def _on_signal(self, signum, frame) -> None:
        """Ctrl-C and SIGTERM finish the step and save."""
        if self._stop and signum == signal.SIGINT:  # a second Ctrl-C: stop now (files are written atomically)
            raise KeyboardInterrupt
        self._stop = True
        self.progress.log("stopping: finishing this step and saving (Ctrl-C again to abort at once)")

    # ------------------------------------------------------------------ evaluation and saving
    def _evaluate(self, window: Window) -> dict | None:
        """Score, record and checkpoint; ``None`` (nothing written) if a step made the weights
        non-finite (a finite gradient times a huge learning rate can), which ends the run as diverged."""
        task, cfg, st, model = self.task, self.cfg, self.state, self.task.model
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            self._diverged = WEIGHTS
            return None
        t0 = time.monotonic()
        model.eval()
        with torch.no_grad():
            scores = task.evaluate()
        model.train()
        value = scores[task.metric]
        improved = better(value, st.best, task.higher_is_better)
        if self.optim.schedule == "plateau" and not improved:
            st.plateau_scale *= self.optim.lr_decay
        train = {f"train_{k}": window.mean(k) for k in window.sums}
        record = {
            "step": st.step,
            "elapsed_s": round(st.elapsed_s, 3),
            **(train or {"train_loss": None}),
            **scores,
            "lr": self.optimizer.param_groups[0]["lr"],
            "grad_norm": window.norm / window.steps if window.steps else None,
            "clipped_fraction": window.clipped / window.steps if window.steps else None,
            task.speed_key: window.tokens / window.seconds if window.seconds else None,
            "epoch": self._epochs() if task.batches_per_epoch else None,
            "eval_s": round(time.monotonic() - t0, 3),
        }
        self.records.append(record)
        writer = self.world.writer
        tensors, info = task.state_dict()  # first, on every process (a task may gather its parts from all)
        tensors.update(distributed.random_states())
        text = task.sample(record) if writer else None
        if writer:  # the records before the checkpoint: a kill after it loses none of them
            append_jsonl(self.out / METRICS, record)
            if text:
                append_jsonl(
                    self.out / SAMPLES, {"step": st.step, "elapsed_s": record["elapsed_s"], **scores, "text": text}
                )
        self.telemetry.flush()
        if improved:
            st.best, st.best_step, st.stale = value, st.step, 0
            if writer:
                save_weights(self.out / BEST, model, {"step": st.step, task.metric: value})
        else:
            st.stale += 1
        if st.reached is None and reached(value, cfg.target, task.higher_is_better):
            st.reached = {"step": st.step, "seconds": round(st.elapsed_s, 3)}
        if writer:
            st.epochs, st.paths = self._epochs(), path_choice.record()
            save_state(self.out / LAST, model, self.optimizer, tensors, asdict(st), info)
        mean = window.mean("loss")
        where = (
            f"epoch {self._epoch_number(self._epochs())}, step {st.step}" if not cfg.eval_every else f"step {st.step}"
        )
        self.progress.log(
            f"{where}: train {'-' if mean is None else f'{mean:.4f}'}  {task.format_scores(scores)}  "
            f"lr {record['lr']:.2e}  {format_seconds(st.elapsed_s)}{'  (best)' if improved else ''}"
        )
        if text:
            self.progress.log(f"---- sample ----\n{text.strip(chr(10))}\n----------------")
        return record

    def describe(self) -> str:
        o, c = self.optim, self.cfg
        limits = [f"budget {c.time_budget}" if c.budget_seconds() else "no time budget"]
        limits += [f"at most {c.max_steps} steps"] if c.max_steps else []
        limits += [f"at most {c.max_epochs:g} epochs"] if c.max_epochs else []
        limits += ["bf16 matrix products"] if c.precision == "bf16" else []
        return (
            f"{self.task.describe()}\n"
            f"batch {o.batch_size}, {o.optimizer} lr {o.lr:g} ({o.schedule}), clip {o.clip_norm:g}; "
            f"{', '.join(limits)}; run in {self.out}"
        )
