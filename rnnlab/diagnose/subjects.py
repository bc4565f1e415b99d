"""What the diagnostics look at: a recurrent stack, real input sequences and a loss at their last step.

A subject is made from a model already in memory: a character model on windows of a text
(:func:`language_subject`) or a sequence model on a batch of its task (:func:`task_subject`).
Freshly initialised cells are built here too, on a corpus or a long-range task; reading a trained
model from its run directory is the command layer's job.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from rnnlab.data.corpora import load_corpus
from rnnlab.data.stream import split_text
from rnnlab.data.vocab import CharVocab
from rnnlab.layers import Recurrent
from rnnlab.models.language_model import LanguageModel, ModelConfig

if TYPE_CHECKING:
    from rnnlab.data.tasks import Task
    from rnnlab.models.sequence import SequenceModel


@dataclass
class Subject:
    """A stack to diagnose, in float64.

    Attributes:
        label: how figures and tables name it.
        rnn: the recurrent stack.
        x: input sequences ``(T, B, D)``, as the stack reads them (embedded).
        loss_at_end: top outputs ``(T, B, O)`` -> the loss at the last step, summed over the batch.
        source: where the weights and data came from.
    """

    label: str
    rnn: Recurrent
    x: Tensor
    loss_at_end: Callable[[Tensor], Tensor]
    source: str


def _windows(ids: Tensor, steps: int, batch: int, seed: int) -> Tensor:
    """``batch`` windows of ``steps + 1`` ids at seeded random positions: ``(steps + 1, batch)``."""
    if len(ids) < steps + 1:
        raise ValueError(f"T: the text has {len(ids)} characters, fewer than T + 1 = {steps + 1}")
    gen = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - steps, (batch,), generator=gen)
    return torch.stack([ids[s : s + steps + 1] for s in starts.tolist()], dim=1)


def language_subject(
    label: str, model: LanguageModel, ids: Tensor, steps: int, batch: int, seed: int, source: str
) -> Subject:
    """A language model on ``batch`` windows of ``ids`` at seeded random positions; the loss is the
    cross-entropy of the character after each window.

    Args:
        label: how figures and tables name the subject.
        model: the model; a float64 copy is diagnosed, the model itself is left as it is.
        ids: ``(N,)`` the text the windows are cut from, encoded in the model's vocabulary.
        steps: ``T``, the length of a window.
        batch: how many windows.
        seed: where the windows start.
        source: where the weights and the text came from (kept in the report).

    Returns:
        The subject: the model's stack reading the embedded windows ``(T, B, E)``.

    Raises:
        ValueError: ``ids`` shorter than ``steps + 1``.
    """
    model = copy.deepcopy(model).double().eval()
    window = _windows(ids, steps, batch, seed)  # (T + 1, B)
    with torch.no_grad():
        x = model.embed(window[:-1])  # (T, B, E)
    target = window[-1]

    def loss_at_end(out: Tensor) -> Tensor:
        return nn.functional.cross_entropy(model.readout(out[-1]), target, reduction="sum")

    return Subject(label, model.rnn, x, loss_at_end, source)


def task_subject(label: str, model: SequenceModel, task: Task, batch: int, seed: int, source: str) -> Subject:
    """A sequence model on a seeded batch of its task's test data; the loss is the task's at the last step.

    Args:
        label: how figures and tables name the subject.
        model: the model; a float64 copy is diagnosed, the model itself is left as it is.
        task: the task the model reads (its test split).
        batch: how many sequences.
        seed: which sequences.
        source: where the weights and the data came from (kept in the report).

    Returns:
        The subject: the model's stack reading the task's inputs ``(T, B, input_size)``.
    """
    model = copy.deepcopy(model).double().eval()
    x, y = task.batch(batch, torch.Generator().manual_seed(seed), split="test")

    def loss_at_end(out: Tensor) -> Tensor:
        pred = model.readout(out[-1:])  # the last step only
        target = y[-1:] if task.kind == "classify-every" else y
        return task.loss(pred, target) * x.shape[1]  # the task's mean loss, summed over the batch

    return Subject(label, model.rnn, x.double(), loss_at_end, source)


def fresh_on_corpus(
    cells: list[str], data: str, steps: int, hidden: int, layers: int, batch: int, seed: int
) -> list[Subject]:
    """Freshly initialised character models (one per cell, same seed) on windows of ``data``.

    Args:
        cells: registered cell names, one subject each.
        data: the corpus (a file, or a named corpus); the windows come from its last tenth.
        steps, batch, seed: as in :func:`language_subject`.
        hidden, layers: the size of every model.

    Returns:
        A subject per cell, in the order of ``cells``.
    """
    text = load_corpus(data)
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(split_text(text, 0.1)[1])
    subjects = []
    for cell in cells:
        torch.manual_seed(seed)
        config = ModelConfig(vocab_size=len(vocab), cell=cell, hidden_size=hidden, num_layers=layers)
        model = LanguageModel(config)
        subjects.append(language_subject(f"{cell} (initial)", model, ids, steps, batch, seed, f"fresh, {data}"))
    return subjects


def fresh_on_task(
    cells: list[str], task_name: str, steps: int | None, hidden: int, layers: int, batch: int, seed: int
) -> list[Subject]:
    """Freshly initialised sequence models (one per cell, same seed) on a batch of a long-range task.

    Args:
        cells: registered cell names, one subject each.
        task_name: a task of :func:`rnnlab.data.tasks.make_task`.
        steps: the task's length (``None``: the task's own).
        hidden, layers: the size of every model.
        batch, seed: as in :func:`task_subject`.

    Returns:
        A subject per cell, in the order of ``cells``.
    """
    from rnnlab.data.tasks import make_task
    from rnnlab.models.sequence import SequenceModel

    task = make_task(task_name, steps=steps, seed=seed)
    subjects = []
    for cell in cells:
        torch.manual_seed(seed)
        model = SequenceModel(task, cell=cell, hidden_size=hidden, num_layers=layers)
        source = f"fresh, task {task_name} T={task.steps}"
        subjects.append(task_subject(f"{cell} (initial)", model, task, batch, seed, source))
    return subjects
