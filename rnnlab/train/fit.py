"""The epoch loop of the classifier and the tagger: minibatch steps, a validation score after each
epoch, the best weights kept on disk, early stopping, a time budget, and Ctrl-C.

The best weights are written (atomically) to ``OUT/model.safetensors`` whenever the validation
score improves, and every epoch's scores are appended to ``OUT/metrics.jsonl``, so an interrupted
or crashed run keeps its best model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnlab.bptt import prepare_for
from rnnlab.fileio import append_jsonl
from rnnlab.train import checkpoint as ckpt
from rnnlab.train.optim import clip_and_report, make_optimizer
from rnnlab.train.progress import Progress, format_seconds
from rnnlab.train.text_config import FitConfig


def fit(
    model: nn.Module,
    cfg: FitConfig,
    out: Path,
    batches: Callable[[int], Iterable[tuple[Any, int]]],
    loss_of: Callable[[Any], Tensor],
    validate: Callable[[], dict],
    key: str,
    progress: Progress,
    describe: Callable[[dict], str],
) -> dict:
    """Train ``model`` and keep its best weights by ``validate()[key]`` (higher is better).

    Args:
        batches: ``batches(epoch)`` yields ``(batch, tokens)`` for one shuffled pass.
        loss_of: the scalar loss of a batch.
        validate: scores of the current weights on the validation split (the model is in eval mode).
        key: which score picks the best weights.
        describe: one line of text for a dict of scores.

    Returns:
        ``{"best_epoch", "best", "epochs", "steps", "interrupted", "stopped", "elapsed_s"}``.
    """
    optimizer = make_optimizer(model, cfg)
    prepare_for(model)  # a first build of the compiled loops is not paid from the budget
    budget, start = cfg.budget_s, time.monotonic()
    best, best_epoch, stale, step, epoch = -math.inf, 0, 0, 0, 0
    stopped, interrupted = "epochs", False
    (out / ckpt.METRICS).unlink(missing_ok=True)

    def evaluate(epoch: int, train_loss: float) -> None:
        nonlocal best, best_epoch, stale
        model.eval()
        with torch.no_grad():
            scores = validate()
        model.train()
        improved = scores[key] > best
        if improved:
            best, best_epoch, stale = scores[key], epoch, 0
            ckpt.save_weights(out / ckpt.BEST, model, {"epoch": epoch, "step": step, key: scores[key]})
        else:
            stale += 1
        elapsed = time.monotonic() - start
        append_jsonl(out / ckpt.METRICS, {"epoch": epoch, "step": step, "train_loss": train_loss, **scores})
        mark = "  (best)" if improved else ""
        progress.log(
            f"epoch {epoch}: train loss {train_loss:.4f}  val {describe(scores)}  {format_seconds(elapsed)}{mark}"
        )

    model.train()
    try:
        for epoch in range(1, cfg.epochs + 1):
            total, count, tokens, tick = 0.0, 0, 0, time.monotonic()
            for batch, n_tokens in batches(epoch):
                optimizer.zero_grad(set_to_none=True)
                loss = loss_of(batch)
                if not torch.isfinite(loss):
                    raise ValueError(f"training diverged at step {step + 1} (loss {float(loss)}); try a lower --lr")
                loss.backward()
                clip_and_report(model, cfg)
                optimizer.step()
                step, total, count, tokens = step + 1, total + float(loss.detach()), count + 1, tokens + n_tokens
                elapsed = time.monotonic() - start
                rate = tokens / max(time.monotonic() - tick, 1e-9)
                left = budget - elapsed if budget else None
                progress.update(step, total / count, rate, left, (epoch - 1) / cfg.epochs, unit="token")
                if budget and elapsed >= budget:
                    stopped = "time budget"
                    break
            evaluate(epoch, total / max(count, 1))
            if stopped == "time budget":
                break
            if cfg.patience and stale >= cfg.patience:
                stopped = f"no better validation score for {cfg.patience} epochs"
                break
    except KeyboardInterrupt:
        interrupted, stopped = True, "interrupted"
        if best_epoch == 0:  # nothing saved yet: keep what there is
            evaluate(epoch, float("nan"))
    return {
        "best_epoch": best_epoch,
        "best": best,
        "epochs": epoch,
        "steps": step,
        "stopped": stopped,
        "interrupted": interrupted,
        "elapsed_s": time.monotonic() - start,
    }
