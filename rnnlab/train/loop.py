"""The training loop of a language model: truncated BPTT over parallel streams.

The hidden state is carried from chunk to chunk and detached at each boundary; the trainer's
whole state (step, elapsed time, data position, carried hidden state, optimizer, RNG) goes into
``last.safetensors`` at every evaluation and on Ctrl-C, so that ``--resume`` continues exactly.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

from rnnlab.bptt import GradientFlow, prepare_for
from rnnlab.data.corpora import DataError
from rnnlab.data.stream import StreamBatches
from rnnlab.engine import detach_state
from rnnlab.fileio import append_jsonl, atomic_write_json, read_jsonl, write_jsonl
from rnnlab.generate import generate
from rnnlab.models.language_model import LanguageModel, ModelConfig, count_parameters, loss_of
from rnnlab.rundir import claim_run_dir, lock_run_dir, release_run_dir, releasing_on_error
from rnnlab.train import checkpoint as ckpt
from rnnlab.train.config import TrainConfig
from rnnlab.train.data import load_run_data
from rnnlab.train.optim import clip_and_report, learning_rate, make_optimizer
from rnnlab.train.progress import Progress, format_seconds
from rnnlab.train.telemetry import GRADFLOW, PLOTS, STEPS, Telemetry

RESULTS = "results.json"
RUN_FILES = (ckpt.CONFIG, ckpt.BEST, ckpt.LAST, ckpt.METRICS, RESULTS, STEPS, GRADFLOW, *PLOTS)


def describe_loss(loss: float, unit: str) -> str:
    """``1.2345 nats/char (1.781 bits)``, or for words ``4.8000 nats/word (perplexity 121.5)``."""
    extra = f"perplexity {math.exp(loss):.1f}" if unit == "word" else f"{loss / math.log(2):.3f} bits"
    return f"{loss:.4f} nats/{unit} ({extra})"


@dataclass
class TrainerState:
    """Counters saved with every checkpoint (JSON)."""

    step: int = 0
    elapsed_s: float = 0.0
    data_position: int = 0
    best_val: float | None = None
    best_step: int = 0
    plateau_scale: float = 1.0


class _Window:
    """Training statistics since the last evaluation."""

    def __init__(self) -> None:
        self.loss = self.norm = self.seconds = 0.0
        self.steps = self.clipped = self.chars = 0

    def add(self, loss: float, norm: float, clipped: bool, chars: int, seconds: float) -> None:
        self.loss += loss
        self.norm += norm
        self.clipped += clipped
        self.chars += chars
        self.seconds += seconds
        self.steps += 1


@torch.no_grad()
def evaluate(model: LanguageModel, ids: Tensor, seq_len: int, batch_size: int = 32, exact: bool = False) -> float:
    """Mean cross-entropy (nats per token) over ``ids``, with the state carried throughout.

    The quick way (for the evaluations during training) reads ``batch_size`` parallel streams,
    each from a zero state, and leaves out the last few tokens that do not fill a chunk.
    ``exact`` reads one stream from the first token and predicts every later one: the figure to
    report (``rnnlab eval``, the test perplexity).
    """
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
        chunks = StreamBatches(ids, batch, seq_len, "validation text").all()
    for x, y in chunks:
        x = x[: len(y)]  # (T, B)
        logits, state = model(x, state)
        total += float(loss_of(logits, y)) * y.numel()
        count += y.numel()
    model.train(was_training)
    return total / count


def prepare_output(out: Path, force: bool) -> None:
    """Create ``out``; refuse a directory holding a run unless ``force`` (then clear its files)."""
    claim_run_dir(out, RUN_FILES, force, f"use --resume {out} to continue it or --force to replace it")


def _truncate_metrics(path: Path, step: int) -> list[dict]:
    """Drop the records written after the checkpoint we resume from (and a line torn by a kill);
    returns those kept."""
    kept = [r for r in read_jsonl(path) if isinstance(r.get("step"), int) and r["step"] <= step]
    if path.exists():
        write_jsonl(path, kept)
    return kept


class Trainer:
    """Trains a :class:`LanguageModel` in a run directory.

    Args:
        out: the run directory.
        model_cfg: the architecture (``vocab_size`` is filled in from the data).
        cfg: the training configuration.
        resume: continue the run in ``out`` (its config.json gives the architecture and vocabulary).
        force: replace a run already in ``out``.
        progress: where to report.
    """

    def __init__(
        self,
        out: Path,
        model_cfg: ModelConfig,
        cfg: TrainConfig,
        resume: bool = False,
        force: bool = False,
        progress: Progress | None = None,
    ) -> None:
        cfg.validate()
        self.out, self.cfg, self.progress = out, cfg, progress or Progress()
        saved_vocab = saved_info = None
        if resume:
            model_cfg, saved_vocab, _, saved_info = ckpt.read_config(out)
        data = load_run_data(cfg, saved_vocab, saved_info)
        vocab, data_info = data.vocab, data.info
        if not resume:
            model_cfg.vocab_size = len(vocab)
            model_cfg.validate()
        self.vocab, self.test_ids = vocab, data.ids.get("test")
        self.batches = StreamBatches(data.ids["train"], cfg.batch_size, cfg.seq_len, "training text")
        val_ids = self.full_val_ids = data.ids["valid"]
        self.val_ids = val_ids[: cfg.eval_chars + 1] if cfg.eval_chars else val_ids
        if len(self.val_ids) <= cfg.seq_len:
            raise DataError(
                f"data: the validation text has {len(self.val_ids)} {vocab.unit}s; sequence length "
                f"{cfg.seq_len} needs at least {cfg.seq_len + 1} (give more text or a larger --val-fraction)"
            )
        torch.manual_seed(cfg.seed)
        self.model = LanguageModel(model_cfg)
        self.optimizer = make_optimizer(self.model, cfg)
        self.state = TrainerState()
        self.carry: tuple[Tensor, ...] | None = None
        self.last_record: dict | None = None  # the latest evaluation on disk
        if resume:
            lock_run_dir(out, RUN_FILES)
        else:
            prepare_output(out, force)
        with releasing_on_error(out):
            if resume:
                self.carry, saved = ckpt.load_training_state(out / ckpt.LAST, self.model, self.optimizer)
                self.state = TrainerState(**saved)
                kept = _truncate_metrics(out / ckpt.METRICS, self.state.step)
                self.last_record = kept[-1] if kept and kept[-1]["step"] == self.state.step else None
            self.telemetry = Telemetry(out, self.state.step if resume else None)
            ckpt.write_config(out, model_cfg, vocab, cfg, data_info)  # the resolved config, as run
        self.batches.position = self.state.data_position
        self._stop = self._diverged = False

    # ------------------------------------------------------------------ loop
    def run(self) -> dict:
        """Train until the time budget or step limit (or Ctrl-C); returns a summary.

        The run directory stays locked against other trainings until this returns or raises.
        """
        try:
            return self._run()
        finally:
            release_run_dir(self.out)

    def _run(self) -> dict:
        cfg, st = self.cfg, self.state
        # covers the calling thread (and threads started later); see rnnlab.runtime
        torch.set_flush_denormal(True)
        self.progress.log(self.describe())
        prepare_for(self.model)  # a first build of the compiled loops is not paid from the budget
        budget, started, base = cfg.budget_seconds(), time.monotonic(), st.elapsed_s
        window, last_eval = _Window(), self.last_record
        previous = signal.signal(signal.SIGINT, self._on_interrupt)
        try:
            self.model.train()
            while not self._stop and not self._diverged:
                elapsed = base + time.monotonic() - started
                done_steps = cfg.max_steps and st.step >= cfg.max_steps
                epochs = st.step / len(self.batches)
                done_epochs = cfg.max_epochs and epochs >= cfg.max_epochs - 1e-9
                if done_steps or done_epochs or (budget and elapsed >= budget):
                    break
                fraction = max(
                    st.step / cfg.max_steps if cfg.max_steps else 0.0,
                    epochs / cfg.max_epochs if cfg.max_epochs else 0.0,
                    elapsed / budget if budget else 0.0,
                )
                t0 = time.monotonic()
                lr = learning_rate(cfg, st.step, fraction, st.plateau_scale, st.step // len(self.batches))
                loss, norm, clipped = self._step(lr)
                if self._diverged:
                    break
                seconds = time.monotonic() - t0
                window.add(loss, norm, clipped, cfg.batch_size * cfg.seq_len, seconds)
                self.telemetry.add_step(st.step, loss, norm, clipped, lr)
                left = self._time_left(elapsed, budget, window)
                speed = window.chars / max(window.seconds, 1e-9)
                self.progress.update(st.step, loss, speed, left, fraction, self.vocab.unit)
                if st.step % cfg.eval_every == 0:
                    st.elapsed_s = base + time.monotonic() - started
                    last_eval = self._evaluate(window) or last_eval
                    window = _Window()
            st.elapsed_s = base + time.monotonic() - started
            # a resumed run that had nothing left to do adds no record; a diverged one keeps its last checkpoint
            if (last_eval is None or window.steps) and not self._diverged:
                last_eval = self._evaluate(window) or last_eval
        finally:
            signal.signal(signal.SIGINT, previous)
        if self._diverged:
            self.telemetry.flush()
            kept = (
                f"the checkpoints keep the weights of step {last_eval['step']}: resume with a smaller --lr"
                if last_eval is not None
                else "no checkpoint was written: start again with a smaller --lr"
            )
            self.progress.log(f"diverged by step {st.step + 1} (loss, gradient or weights not finite); {kept}")
            return {"step": st.step, "best_val": st.best_val, "interrupted": False, "diverged": True, "last": last_eval}
        self._plot()
        best, how = st.best_val, "interrupted" if self._stop else "done"
        self.progress.log(
            f"{how} at step {st.step} after {format_seconds(st.elapsed_s)}; best validation loss "
            f"{describe_loss(best, self.vocab.unit)} at step {st.best_step}"
        )
        summary = {"step": st.step, "best_val": best, "interrupted": self._stop, "diverged": False, "last": last_eval}
        if self.test_ids is not None and not self._stop:
            summary.update(self._test())
        return summary

    def _test(self) -> dict:
        """The best weights' loss on the whole validation and test splits (every token, one stream),
        written to ``results.json``."""
        best = LanguageModel(self.model.config)
        ckpt.load_weights(self.out / ckpt.BEST, best)
        val = evaluate(best, self.full_val_ids, self.cfg.seq_len, exact=True)
        test = evaluate(best, self.test_ids, self.cfg.seq_len, exact=True)
        result = {
            "best_step": self.state.best_step,
            "val_loss": val,
            "val_perplexity": math.exp(val),
            "val_tokens": len(self.full_val_ids) - 1,
            "test_loss": test,
            "test_perplexity": math.exp(test),
            "test_tokens": len(self.test_ids) - 1,
        }
        atomic_write_json(self.out / RESULTS, result)
        self.progress.log(f"test (best weights, step {self.state.best_step}): {describe_loss(test, self.vocab.unit)}")
        return result

    def _step(self, lr: float) -> tuple[float, float, bool]:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x, y, new_pass = self.batches.next()
        if new_pass:
            self.carry = None  # a new pass over the text starts from a fresh state
        every = self.cfg.telemetry_every
        flow = GradientFlow() if every and (self.state.step + 1) % every == 0 else None
        with flow or contextlib.nullcontext():
            logits, carry = self.model(x, self.carry)  # (T, B, V)
        self.carry = detach_state(carry)  # truncated BPTT boundary
        loss = loss_of(logits, y)  # nats per token, what is reported
        self.optimizer.zero_grad(set_to_none=True)
        # "sum": summed over the chunk's steps, averaged over the streams (Zaremba et al. 2014)
        (loss * x.shape[0] if self.cfg.loss == "sum" else loss).backward()
        norm, clipped = clip_and_report(self.model, self.cfg)
        value = loss.item()
        if not (math.isfinite(value) and math.isfinite(norm)):
            self._diverged = True  # no step: the weights stay finite
            return value, norm, clipped
        self.optimizer.step()
        self.state.step += 1
        if flow is not None:
            self.telemetry.add_profile(self.state.step, flow.norms)
        self.state.data_position = self.batches.position
        return value, norm, clipped

    def _time_left(self, elapsed: float, budget: float | None, window: _Window) -> float | None:
        lefts = []
        if budget:
            lefts.append(budget - elapsed)
        per_step = window.seconds / window.steps if window.steps else None
        if self.cfg.max_steps and per_step:
            lefts.append((self.cfg.max_steps - self.state.step) * per_step)
        if self.cfg.max_epochs and per_step:
            lefts.append((self.cfg.max_epochs * len(self.batches) - self.state.step) * per_step)
        return min(lefts) if lefts else None

    def _on_interrupt(self, signum, frame) -> None:
        if self._stop:  # a second Ctrl-C: stop now (checkpoint files are written atomically)
            raise KeyboardInterrupt
        self._stop = True
        self.progress.log("stopping: finishing this step and saving (Ctrl-C again to abort at once)")

    # ------------------------------------------------------------------ evaluation and saving
    def _evaluate(self, window: _Window) -> dict | None:
        """Evaluate, record and checkpoint; ``None`` (nothing written) if a step made the weights
        non-finite (a finite gradient times a huge learning rate can), which ends the run as diverged."""
        cfg, st = self.cfg, self.state
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            self._diverged = True
            return None
        val = evaluate(self.model, self.val_ids, cfg.seq_len)
        improved = st.best_val is None or val < st.best_val
        if cfg.schedule == "plateau" and not improved:
            st.plateau_scale *= cfg.lr_decay
        record = {
            "step": st.step,
            "elapsed_s": round(st.elapsed_s, 3),
            "train_loss": window.loss / window.steps if window.steps else None,
            "val_loss": val,
            "val_bpc": val / math.log(2),
            "lr": self.optimizer.param_groups[0]["lr"],
            "grad_norm": window.norm / window.steps if window.steps else None,
            "clipped_fraction": window.clipped / window.steps if window.steps else None,
            "chars_per_s": window.chars / window.seconds if window.seconds else None,
            "epoch": st.data_position / len(self.batches),
        }
        append_jsonl(self.out / ckpt.METRICS, record)
        self.telemetry.flush()
        if improved:
            st.best_val, st.best_step = val, st.step
            ckpt.save_weights(self.out / ckpt.BEST, self.model, {"step": st.step, "val_loss": val})
        ckpt.save_training_state(self.out / ckpt.LAST, self.model, self.optimizer, self.carry, asdict(st))
        train = f"{record['train_loss']:.4f}" if window.steps else "-"
        self.progress.log(
            f"step {st.step}: train {train}  val {describe_loss(val, self.vocab.unit)}  "
            f"lr {record['lr']:.2e}  {format_seconds(st.elapsed_s)}"
        )
        if cfg.sample_chars:
            gen = torch.Generator().manual_seed(cfg.seed + st.step)
            text = "".join(generate(self.model, self.vocab, "", cfg.sample_chars, 0.8, generator=gen))
            self.progress.log("---- sample ----\n" + text.strip("\n") + "\n----------------")
        return record

    def _plot(self) -> None:
        from rnnlab.viz.training import plot_run

        plot_run(self.out, self.cfg.clip_norm)

    def describe(self) -> str:
        m, c = self.model.config, self.cfg
        return (
            f"{m.cell} {m.num_layers}x{m.hidden_size}, {count_parameters(self.model):,} parameters, "
            f"vocabulary {m.vocab_size}; {len(self.batches) * c.batch_size * c.seq_len:,} training {self.vocab.unit}s, "
            f"{len(self.val_ids) - 1:,} for validation; batch {c.batch_size} x {c.seq_len}; "
            f"{c.optimizer} lr {c.lr} ({c.schedule}); run in {self.out}"
        )
