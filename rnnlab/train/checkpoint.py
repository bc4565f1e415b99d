"""Run directories and checkpoints, without pickle.

A run directory holds::

    config.json          model config, vocabulary, training config, corpus fingerprint
    model.safetensors    the best weights so far (by validation loss); what ``sample`` uses
    last.safetensors     the latest weights, optimizer state, carried hidden state, RNG state
                         and trainer state (JSON in the file's metadata): what ``--resume`` uses
    metrics.jsonl        one JSON object per evaluation
    loss.png             the loss curves

Every file is written to a temporary name, fsynced and renamed, so a crash leaves the previous
version intact. Each ``.safetensors`` file carries the SHA-256 of its tensor bytes in its
metadata (``sha256``), checked on loading, so a file damaged on disk is refused rather than
trained on. Loading reads tensors and JSON only; it never executes code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_bytes
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.configs import from_dict
from rnnlab.data.vocab import Vocab, vocab_from_json
from rnnlab.fileio import atomic_write_bytes, atomic_write_json
from rnnlab.models.language_model import LanguageModel, ModelConfig
from rnnlab.rundir import run_format
from rnnlab.train.config import TrainConfig

CONFIG, BEST, LAST, METRICS = "config.json", "model.safetensors", "last.safetensors", "metrics.jsonl"
RUN_FORMAT = "rnnlab-run/1"
DIGEST = "sha256"  # metadata key: the SHA-256 of a .safetensors file's tensor bytes
TASK_FORMATS = {"classify": "rnnlab-classify/1", "tag": "rnnlab-tag/1"}  # runs of rnnlab train --task ...
OTHER_RUNS = {  # named in the error a language-model command gives for them
    TASK_FORMATS["classify"]: "a classifier (rnnlab train --task classify; use it with rnnlab predict)",
    TASK_FORMATS["tag"]: "a tagger (rnnlab train --task tag; use it with rnnlab tag)",
}


class CheckpointError(ValueError):
    """A run directory or checkpoint cannot be used; the message says why."""


def write_config(out: Path, model: ModelConfig, vocab: Vocab, train: TrainConfig, data: dict) -> None:
    atomic_write_json(
        out / CONFIG,
        {
            "format": RUN_FORMAT,
            "model": asdict(model),
            "vocab": vocab.to_json(),
            "train": asdict(train),
            "data": data,
        },
    )


def task_of_run(out: Path) -> str | None:
    """``"classify"`` or ``"tag"`` for a run of ``rnnlab train --task ...``, else ``None``."""
    return {v: k for k, v in TASK_FORMATS.items()}.get(run_format(out))


def check_tables(path: Path, **tables: tuple[int, int]) -> None:
    """Refuse a config whose tables (``name=(entries, entries the model has)``) do not fit its model,
    as an edited ``config.json`` may: every index the model produces must name an entry.

    Raises:
        CheckpointError: naming the file and the first table that does not fit.
    """
    for name, (entries, expected) in tables.items():
        if entries != expected:
            raise CheckpointError(f"{path} is damaged ({name}: {entries} entries for a model of {expected})")


def read_config(out: Path) -> tuple[ModelConfig, Vocab, TrainConfig, dict]:
    """Parse ``config.json`` of a run."""
    path = out / CONFIG
    if not out.is_dir():
        raise CheckpointError(f"run {out}: no such directory")
    if not path.is_file():
        raise CheckpointError(f"run {out}: no {CONFIG}; is this a run directory made by 'rnnlab train'?")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        other = OTHER_RUNS.get(raw.get("format"))
        if other:
            raise CheckpointError(f"run {out} is {other}, not a language model")
        if raw.get("format") != RUN_FORMAT:
            raise ValueError(f"format is {raw.get('format')!r}, expected {RUN_FORMAT!r}")
        model = from_dict(ModelConfig, raw["model"], "model config")
        model.validate()
        train = from_dict(TrainConfig, raw["train"], "train config")
        vocab = vocab_from_json(raw["vocab"])
        check_tables(path, vocabulary=(len(vocab), model.vocab_size))
        return model, vocab, train, raw.get("data", {})
    except CheckpointError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(f"run {out}: {CONFIG} is damaged ({e})") from e


def _tensors_of(model: nn.Module) -> dict[str, Tensor]:
    tensors, seen = {}, set()
    for k, v in model.state_dict().items():
        v = v.detach().contiguous()
        tensors[k] = v.clone() if v.data_ptr() in seen else v  # tied weights: safetensors stores each once
        seen.add(v.data_ptr())
    return tensors


def _with_digest(data: bytes) -> bytes:
    """A safetensors file's bytes with the SHA-256 of its tensor bytes added to its metadata.

    The layout is an 8-byte little-endian header length, the JSON header, then the tensor bytes
    (their offsets count from the end of the header, so a longer header leaves them valid).
    """
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    header.setdefault("__metadata__", {})[DIGEST] = hashlib.sha256(memoryview(data)[8 + n :]).hexdigest()
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes
    return len(text).to_bytes(8, "little") + text + data[8 + n :]


def _write(path: Path, tensors: dict[str, Tensor], meta: dict[str, str]) -> None:
    atomic_write_bytes(path, _with_digest(safetensors_bytes(tensors, meta)))


def save_weights(path: Path, model: nn.Module, info: dict) -> None:
    """Write the model's weights with ``info`` (JSON) in the metadata."""
    _write(path, _tensors_of(model), {"info": json.dumps(info)})


def _read(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """The tensors and metadata of a ``.safetensors`` file, read once: the bytes checked against the
    digest they were written with (files without one pass) are the bytes parsed."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        data = path.read_bytes()
        n = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8 : 8 + n]).get("__metadata__") or {}
        tensors = safetensors_load(data)
    except Exception as e:  # safetensors reports damage with several exception types
        raise CheckpointError(f"{path}: damaged or not a checkpoint ({e})") from e
    if DIGEST in meta and hashlib.sha256(memoryview(data)[8 + n :]).hexdigest() != meta[DIGEST]:
        raise CheckpointError(f"{path}: damaged (its tensor bytes do not match the SHA-256 it was saved with)")
    return tensors, meta


def _load_into(model: nn.Module, tensors: dict[str, Tensor], path: Path) -> None:
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit the model in {CONFIG} ({first})") from e


def load_weights(path: Path, model: nn.Module) -> dict:
    """Load the weights saved by :func:`save_weights` into ``model``; returns their ``info``.

    Raises:
        CheckpointError: the file is missing or damaged, or does not fit ``model``.
        ValueError: the weights hold NaN or inf (a diverged training).
    """
    tensors, meta = _read(path)
    _load_into(model, tensors, path)
    checks.finite_weights(model, str(path))
    try:
        return json.loads(meta.get("info", "{}"))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: damaged metadata ({e})") from e


def load_model(
    out: Path, which: str = "best", finite: bool = True
) -> tuple[LanguageModel, Vocab, ModelConfig, TrainConfig, dict]:
    """The model of a run, with its vocabulary, configs and the checkpoint's info.

    Args:
        which: ``"best"`` (``model.safetensors``, falling back to the last state) or ``"last"``.
        finite: refuse weights that hold NaN or inf (a diverged training), naming the file.
    """
    model_cfg, vocab, train_cfg, _ = read_config(out)
    path = out / BEST if which == "best" and (out / BEST).exists() else out / LAST
    tensors, meta = _read(path)
    model = LanguageModel(model_cfg)
    if path.name == LAST:
        tensors = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        info = json.loads(meta.get("trainer", "{}"))
    else:
        info = json.loads(meta.get("info", "{}"))
    _load_into(model, tensors, path)
    if finite:
        hint = "retrain with a lower --lr"
        if path.name == LAST and (out / BEST).exists():
            hint = "use --checkpoint best (the best weights before it diverged) or " + hint
        checks.finite_weights(model, str(path), hint)
    model.eval()
    return model, vocab, model_cfg, train_cfg, info


def save_training_state(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    carry: tuple[Tensor, ...] | None,
    trainer: dict,
) -> None:
    """Everything needed to continue exactly: weights, optimizer, carried state, RNG, counters."""
    tensors = {"model." + k: v for k, v in _tensors_of(model).items()}
    opt = optimizer.state_dict()
    scalars: dict[str, Any] = {}
    for idx, entry in opt["state"].items():
        for key, value in entry.items():
            if isinstance(value, Tensor):
                tensors[f"optim.{idx}.{key}"] = value.contiguous()
            else:
                scalars[f"{idx}.{key}"] = value
    for k, s in enumerate(carry or ()):
        tensors[f"carry.{k}"] = s.detach().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {
        "trainer": json.dumps(trainer),
        "optim": json.dumps({"param_groups": opt["param_groups"], "scalars": scalars}),
    }
    _write(path, tensors, meta)


def load_training_state(
    path: Path, model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[tuple[Tensor, ...] | None, dict]:
    """Inverse of :func:`save_training_state`; returns ``(carry, trainer)`` and restores RNG."""
    tensors, meta = _read(path)
    try:
        trainer = json.loads(meta["trainer"])
        optim_meta = json.loads(meta["optim"])
    except (KeyError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: damaged training state ({e})") from e
    _load_into(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, path)
    checks.finite_weights(model, str(path), "start again with a lower --lr")
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            idx, name = key[6:].split(".", 1)
            state.setdefault(int(idx), {})[name] = value
    for key, value in optim_meta["scalars"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": optim_meta["param_groups"]})
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: optimizer state does not fit ({e})") from e
    carry_keys = sorted((k for k in tensors if k.startswith("carry.")), key=lambda k: int(k[6:]))
    carry = tuple(tensors[k] for k in carry_keys) or None
    torch.set_rng_state(tensors["rng.torch"])
    return carry, trainer
