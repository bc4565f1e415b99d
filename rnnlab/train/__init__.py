"""Training: one :class:`Trainer` over the :class:`Task` protocol, its options, optimizers and records."""

from rnnlab.train.options import OptimConfig, RunConfig
from rnnlab.train.task import Task
from rnnlab.train.trainer import Trainer

__all__ = ["OptimConfig", "RunConfig", "Task", "Trainer"]
