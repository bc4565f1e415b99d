"""Optimizers and learning-rate schedules for the trainer."""

from __future__ import annotations

import math

import torch
from torch import nn

from rnnlab.train.config import TrainConfig


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer named by ``cfg.optimizer``."""
    params, wd = model.parameters(), cfg.weight_decay
    makers = {
        "adam": lambda: torch.optim.Adam(params, lr=cfg.lr, weight_decay=wd),
        "sgd": lambda: torch.optim.SGD(params, lr=cfg.lr, weight_decay=wd),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=wd),
        "adagrad": lambda: torch.optim.Adagrad(params, lr=cfg.lr, weight_decay=wd),
    }
    return makers[cfg.optimizer]()


def learning_rate(cfg: TrainConfig, step: int, progress: float, plateau_scale: float) -> float:
    """Learning rate for ``step`` (0-based).

    Args:
        progress: fraction of the run's budget spent (steps or time, whichever is further).
        plateau_scale: product of the decays the plateau schedule has applied so far.
    """
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
    if cfg.schedule == "cosine":
        scale = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    elif cfg.schedule == "step":
        scale = cfg.lr_decay ** (step // cfg.decay_every)
    elif cfg.schedule == "plateau":
        scale = plateau_scale
    else:
        scale = 1.0
    return cfg.lr * warm * scale


def clip_gradients(model: nn.Module, cfg: TrainConfig) -> float:
    """Clip by value and/or by global norm; return the global norm before clipping."""
    params = [p for p in model.parameters() if p.grad is not None]
    norm = nn.utils.get_total_norm([p.grad for p in params])
    if cfg.clip_value > 0:
        nn.utils.clip_grad_value_(params, cfg.clip_value)
    if cfg.clip_norm > 0:
        after = norm if cfg.clip_value == 0 else nn.utils.get_total_norm([p.grad for p in params])
        nn.utils.clip_grads_with_norm_(params, cfg.clip_norm, after)
    return float(norm)
