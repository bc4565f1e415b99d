"""What the diagnostics look at: a recurrent stack, real input sequences and a loss at their last step.

Three sources: a trained character-model run, freshly initialised cells reading a corpus through a
random embedding and readout, and freshly initialised cells on a long-range task.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from rnnlab.data.corpora import load_corpus
from rnnlab.data.stream import split_text
from rnnlab.data.vocab import CharVocab
from rnnlab.layers import Recurrent
from rnnlab.models.language_model import LanguageModel, ModelConfig
from rnnlab.runs import kind_of
from rnnlab.tasks.lm import load_ids, load_model


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


def _language_subject(label: str, model: LanguageModel, ids: Tensor, steps: int, batch: int, seed: int, source: str):
    model = copy.deepcopy(model).double().eval()
    window = _windows(ids, steps, batch, seed)  # (T + 1, B)
    with torch.no_grad():
        x = model.embed(window[:-1])  # (T, B, E)
    target = window[-1]

    def loss_at_end(out: Tensor) -> Tensor:
        return nn.functional.cross_entropy(model.readout(out[-1]), target, reduction="sum")

    return Subject(label, model.rnn, x, loss_at_end, source)


def from_run(run: Path, steps: int, batch: int, seed: int) -> Subject:
    """A trained run: a character model on windows of its own validation text (``steps`` long),
    or a task model (``rnnlab task``) on a batch of its task's test data."""
    if not run.is_dir():
        raise ValueError(f"run: {run} is not a run directory")
    if kind_of(run) == "sequence":
        from rnnlab.tasks.sequence import load_sequence_run

        model, task, cfg = load_sequence_run(run)
        return _task_subject(f"{run.name} ({cfg.cell}, trained)", model, task, batch, seed, f"run {run}")
    model, vocab, cfg, train_cfg, _ = load_model(run, "best")
    ids = load_ids(train_cfg, vocab, only=("valid",))[1]["valid"]
    label = f"{run.name} ({cfg.cell}, trained)"
    return _language_subject(label, model, ids, steps, batch, seed, f"run {run}, validation text of {train_cfg.data}")


def fresh_on_corpus(cells: list[str], data: str, steps: int, hidden: int, layers: int, batch: int, seed: int):
    """Freshly initialised character models (one per cell, same seed) on windows of ``data``."""
    text = load_corpus(data)
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(split_text(text, 0.1)[1])
    subjects = []
    for cell in cells:
        torch.manual_seed(seed)
        config = ModelConfig(vocab_size=len(vocab), cell=cell, hidden_size=hidden, num_layers=layers)
        model = LanguageModel(config)
        subjects.append(_language_subject(f"{cell} (initial)", model, ids, steps, batch, seed, f"fresh, {data}"))
    return subjects


def fresh_on_task(cells: list[str], task_name: str, steps: int | None, hidden: int, layers: int, batch: int, seed: int):
    """Freshly initialised sequence models (one per cell, same seed) on a batch of a long-range task."""
    from rnnlab.data.tasks import make_task
    from rnnlab.models.sequence import SequenceModel

    task = make_task(task_name, steps=steps, seed=seed)
    subjects = []
    for cell in cells:
        torch.manual_seed(seed)
        model = SequenceModel(task, cell=cell, hidden_size=hidden, num_layers=layers)
        source = f"fresh, task {task_name} T={task.steps}"
        subjects.append(_task_subject(f"{cell} (initial)", model, task, batch, seed, source))
    return subjects


def _task_subject(label: str, model, task, batch: int, seed: int, source: str) -> Subject:
    """A sequence model on a seeded batch of its task's test data; the loss is the task's at the last step."""
    model = copy.deepcopy(model).double().eval()
    x, y = task.batch(batch, torch.Generator().manual_seed(seed), split="test")

    def loss_at_end(out: Tensor) -> Tensor:
        pred = model.readout(out[-1:])  # the last step only
        target = y[-1:] if task.kind == "classify-every" else y
        return task.loss(pred, target) * x.shape[1]  # the task's mean loss, summed over the batch

    return Subject(label, model.rnn, x.double(), loss_at_end, source)
