"""Weights and training state in ``.safetensors`` files, without pickle.

Each file carries the SHA-256 of its tensor bytes in its metadata (``sha256``), checked on
loading, so a file damaged on disk is refused rather than trained on. Every file is written to
a temporary name, fsynced and renamed (:func:`rnnlab.fileio.atomic_write_bytes`): a crash leaves
the previous version. Loading reads tensors and JSON only; it never executes code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_bytes
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.fileio import atomic_write_bytes

DIGEST = "sha256"  # metadata key: the SHA-256 of a .safetensors file's tensor bytes


class CheckpointError(ValueError):
    """A run directory or checkpoint cannot be used; the message says why."""


def tensors_of(model: nn.Module) -> dict[str, Tensor]:
    """The model's state dict, ready to save: contiguous, each tied tensor stored once per name."""
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


def write_tensors(path: Path, tensors: dict[str, Tensor], meta: dict[str, str]) -> None:
    """Write ``tensors`` with string metadata ``meta`` (and the digest) atomically."""
    atomic_write_bytes(path, _with_digest(safetensors_bytes(tensors, meta)))


def read_tensors(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """The tensors and metadata of a ``.safetensors`` file, read once: the bytes checked against the
    digest they were written with (files without one pass) are the bytes parsed.

    Raises:
        CheckpointError: the file is missing, damaged, or not a checkpoint.
    """
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


def meta_json(path: Path, meta: dict[str, str], key: str, default: Any = None) -> Any:
    """The JSON value stored under ``key`` in a file's metadata (``default`` if absent)."""
    if key not in meta:
        return default
    try:
        return json.loads(meta[key])
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: damaged metadata ({e})") from e


def load_into(model: nn.Module, tensors: dict[str, Tensor], path: Path) -> None:
    """``model.load_state_dict(tensors)``, with a one-line error naming ``path``."""
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit the model in config.json ({first})") from e


def save_weights(path: Path, model: nn.Module, info: dict) -> None:
    """Write the model's weights with ``info`` (JSON) in the metadata."""
    write_tensors(path, tensors_of(model), {"info": json.dumps(info)})


def load_weights(path: Path, model: nn.Module, finite: bool = True, hint: str = "retrain with a lower --lr") -> dict:
    """Load weights saved by :func:`save_weights` (or the model part of :func:`save_state`) into
    ``model``; returns their ``info`` (a training state's counters).

    Raises:
        CheckpointError: the file is missing or damaged, or does not fit ``model``.
        ValueError: with ``finite``, weights that hold NaN or inf (a diverged training).
    """
    tensors, meta = read_tensors(path)
    if "trainer" in meta:  # a training state: its model part
        tensors = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        info = meta_json(path, meta, "trainer", {})
    else:
        info = meta_json(path, meta, "info", {})
    load_into(model, tensors, path)
    if finite:
        checks.finite_weights(model, str(path), hint)
    return info


def save_state(
    path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, extra: dict[str, Tensor], trainer: dict, task: dict
) -> None:
    """Everything needed to continue exactly: weights, optimizer state, the task's own tensors
    (``extra``: carried hidden state, data generators) and JSON (``task``), the global RNG and the
    trainer's counters (``trainer``)."""
    tensors = {"model." + k: v for k, v in tensors_of(model).items()}
    opt = optimizer.state_dict()
    scalars: dict[str, Any] = {}
    for idx, entry in opt["state"].items():
        for key, value in entry.items():
            if isinstance(value, Tensor):
                tensors[f"optim.{idx}.{key}"] = value.contiguous()
            else:
                scalars[f"{idx}.{key}"] = value
    tensors.update({"task." + k: v.detach().contiguous() for k, v in extra.items()})
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {
        "trainer": json.dumps(trainer),
        "task": json.dumps(task),
        "optim": json.dumps({"param_groups": opt["param_groups"], "scalars": scalars}),
    }
    write_tensors(path, tensors, meta)


def load_state(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict[str, Tensor], dict]:
    """Inverse of :func:`save_state`: restores the model, the optimizer and the global RNG; returns
    ``(trainer counters, task tensors, task JSON)``."""
    tensors, meta = read_tensors(path)
    trainer, optim_meta = meta_json(path, meta, "trainer"), meta_json(path, meta, "optim")
    if not isinstance(trainer, dict) or not isinstance(optim_meta, dict) or "rng.torch" not in tensors:
        raise CheckpointError(f"{path}: damaged training state (no counters, optimizer or random state)")
    load_into(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, path)
    checks.finite_weights(model, str(path), "start again with a lower --lr")
    state: dict[int, dict[str, Any]] = {}
    try:
        for key, value in tensors.items():
            if key.startswith("optim."):
                idx, name = key[6:].split(".", 1)
                state.setdefault(int(idx), {})[name] = value
        for key, value in optim_meta["scalars"].items():
            idx, name = key.split(".", 1)
            state.setdefault(int(idx), {})[name] = value
        optimizer.load_state_dict({"state": state, "param_groups": optim_meta["param_groups"]})
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: optimizer state does not fit ({e})") from e
    torch.set_rng_state(tensors["rng.torch"])
    extra = {k[5:]: v for k, v in tensors.items() if k.startswith("task.")}
    legacy_carry = {k: v for k, v in tensors.items() if k.startswith("carry.")}  # rnnlab-run/1 states
    extra.update(legacy_carry)
    return trainer, extra, meta_json(path, meta, "task", {})
