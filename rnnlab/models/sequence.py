"""A recurrent model for the long-range tasks of :mod:`rnnlab.data.tasks`: Recurrent -> linear readout.

The readout depends on the task's kind (a registry, :data:`READOUTS`): ``"regression"`` and
``"classify"`` read the top layer's output at the last step (many-to-one), ``"classify-every"``
reads every step (many-to-many).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from rnnlab import checks
from rnnlab.cells import NAMES_HELP, check_cell
from rnnlab.cells.named import ResolvesCell
from rnnlab.configs import check_fields
from rnnlab.data.tasks import TASKS, Task, make_task
from rnnlab.layers import Recurrent


@dataclass
class SequenceConfig(ResolvesCell):
    """What a task run's model is; saved in the run's ``config.json`` with the weights."""

    task: str = field(default="adding", metadata={"help": "task: " + ", ".join(TASKS)})
    steps: int | None = field(
        default=None,
        metadata={
            "help": "T (default 150 for adding; copy: the delay, default 100, T + 20 input steps; arithmetic: "
            "digits per number, default 3; xml: characters, default 32; images: fixed)",
            "flags": ("-T", "--steps"),
            "metavar": "N",
        },
    )
    data_seed: int = field(default=0, metadata={"help": "seed of the task's evaluation sets, split and permutation"})
    cell: str = field(default="lstm", metadata={"help": "recurrent cell: " + NAMES_HELP})
    hidden_size: int = field(default=128, metadata={"help": "units per layer", "flags": ("--hidden",)})
    num_layers: int = field(default=1, metadata={"help": "stacked recurrent layers", "flags": ("--layers",)})
    cell_options: dict = field(default_factory=dict, metadata={"help": "cell options as JSON, e.g. '{\"scale\": 0.9}'"})

    def validate(self) -> None:
        check_fields(self)
        if self.task not in TASKS:
            raise ValueError(f"task: unknown {self.task!r}; known tasks: {', '.join(TASKS)}")
        check_cell("cell", self.cell, self.cell_options)
        checks.positive_int("hidden_size", self.hidden_size)
        checks.positive_int("num_layers", self.num_layers)
        checks.seed("data_seed", self.data_seed)
        checks.fits_in_memory(self.min_parameters())

    def min_parameters(self) -> int:
        """A lower bound on the parameter count (the recurrent weights of one input and output unit)."""
        return checks.recurrent_parameters(1, self.hidden_size, self.num_layers) + self.hidden_size + 1


def build_model(config: SequenceConfig) -> tuple[SequenceModel, Task]:
    """The task and a freshly initialised model for ``config`` (whose ``steps`` is set to the task's T).

    Returns:
        ``(model, task)``.
    """
    config.validate()
    task = make_task(config.task, config.steps, config.data_seed)
    config.steps = task.steps
    model = SequenceModel(task, config.cell, config.hidden_size, config.num_layers, **config.cell_options)
    return model, task


def _last_scalar(outputs: Tensor, head: nn.Linear) -> Tensor:
    return head(outputs[-1]).squeeze(-1)  # (B,)


def _last(outputs: Tensor, head: nn.Linear) -> Tensor:
    return head(outputs[-1])  # (B, C)


def _every(outputs: Tensor, head: nn.Linear) -> Tensor:
    return head(outputs)  # (T, B, C)


READOUTS: dict[str, Callable[[Tensor, nn.Linear], Tensor]] = {
    "regression": _last_scalar,
    "classify": _last,
    "classify-every": _every,
}


class SequenceModel(nn.Module):
    """A stack of any registered cell with a linear readout shaped by the task.

    Args:
        task: the :class:`rnnlab.data.tasks.Task` (gives ``input_size``, ``output_size`` and ``kind``).
        cell: a name from :data:`rnnlab.cells.CELLS`.
        hidden_size: units per layer.
        num_layers: stacked layers.
        **cell_options: options of the cell (``scale`` for IRNN, ``forget_bias`` for LSTM, ...).

    Shapes:
        input ``x (T, B, input_size)``; output what ``task.loss`` takes: ``(B,)`` for regression,
        ``(B, C)`` for ``classify``, ``(T, B, C)`` for ``classify-every``.
    """

    @checks.refuse_allocation_failure
    def __init__(
        self, task: Task, cell: str = "lstm", hidden_size: int = 128, num_layers: int = 1, **cell_options: Any
    ):
        super().__init__()
        if task.kind not in READOUTS:
            raise ValueError(f"task kind: expected one of {', '.join(READOUTS)}, got {task.kind!r}")
        self.kind = task.kind
        self.rnn = Recurrent(cell, task.input_size, hidden_size, num_layers=num_layers, **cell_options)
        self.head = nn.Linear(self.rnn.output_size, task.output_size)

    def readout(self, outputs: Tensor) -> Tensor:
        """The prediction from the top layer's outputs ``(T, B, H)`` (the last step for many-to-one kinds).

        Args:
            outputs: ``(T, B, H)``, the first element of ``model.rnn(x)``.

        Returns:
            The prediction, shaped as the class docstring says.
        """
        return READOUTS[self.kind](outputs, self.head)

    def forward(self, x: Tensor) -> Tensor:
        """``x (T, B, input_size)`` -> prediction (see :meth:`readout`)."""
        outputs, _ = self.rnn(x)  # (T, B, H)
        return self.readout(outputs)
