"""Run directories of classifiers and taggers.

A run holds ``config.json`` (``format`` ``rnnlab-classify/1`` or ``rnnlab-tag/1``; the model
config, the training settings, the vocabularies and the label or tag names), ``model.safetensors``
(the best weights by validation score), ``metrics.jsonl`` (one line per epoch) and, at the end,
``results.json`` (validation and test scores of the best weights, and the baseline's). Loading
reads JSON and tensors only.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from torch import nn

from rnnlab.configs import from_dict
from rnnlab.fileio import atomic_write_json
from rnnlab.rundir import claim_run_dir
from rnnlab.train import checkpoint as ckpt

FORMATS = ckpt.TASK_FORMATS
RESULTS = "results.json"
RUN_FILES = (ckpt.CONFIG, ckpt.BEST, ckpt.LAST, ckpt.METRICS, RESULTS, "confusion.png", "curves.png")


def prepare_out(out: Path, force: bool) -> None:
    """Create ``out``; refuse one that holds a run unless ``force`` (then remove the run's files)."""
    claim_run_dir(out, RUN_FILES, force, "use --force to replace it")


def write_run(out: Path, task: str, model: Any, train: Any, **tables: Any) -> None:
    """``config.json`` of a run: the model and training configs and the named ``tables``."""
    atomic_write_json(
        out / ckpt.CONFIG, {"format": FORMATS[task], "model": asdict(model), "train": asdict(train), **tables}
    )


def read_run(out: Path, task: str, model_cls: type, train_cls: type) -> tuple[Any, Any, dict]:
    """``(model config, train config, raw config)`` of a run made by ``rnnlab train --task TASK``."""
    path = out / ckpt.CONFIG
    if not path.is_file():
        raise ValueError(f"OUT: {out} is not a run directory (no {ckpt.CONFIG})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"OUT: {path} is damaged ({e})") from e
    if not isinstance(raw, dict) or raw.get("format") != FORMATS[task]:
        made = ckpt.task_of_run(out)
        hint = f"rnnlab train --task {made}" if made else "rnnlab train (a language model)"
        raise ValueError(f"OUT: {out} holds a run of {hint}, not of rnnlab train --task {task}")
    try:
        return (
            from_dict(model_cls, raw["model"], "model config"),
            from_dict(train_cls, raw["train"], "train config"),
            raw,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"OUT: {path} is damaged ({e})") from e


def load_weights(out: Path, model: nn.Module) -> dict:
    """Load the best weights of the run into ``model`` (put in eval mode); returns their info."""
    path = out / ckpt.BEST
    if not path.is_file():
        raise ValueError(f"OUT: {out} has no {ckpt.BEST} yet (training has not finished an epoch)")
    info = ckpt.load_weights(path, model)
    model.eval()
    return info
