"""One evaluation of the cell search: a candidate cell trained briefly on one task, through the one
trainer, in a worker of the distributed engine.

The tasks are rnnlab's generated sequence tasks (``arithmetic``, ``xml``, or any other of
:data:`rnnlab.data.tasks.TASKS`), scored by their headline metric on their fixed test set, and
``ptb``: a word language model on the Penn Treebank (Mikolov's split), scored by its validation
perplexity on the first :data:`PTB_EVAL_WORDS` words. Every evaluation trains a fixed number of steps
from a fixed seed on one thread, so it gives the same score whenever and wherever it runs; the
score is the best of the evaluations during training (the paper's "best metric").
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

import torch

from rnnlab.data.tasks import TASKS, make_task
from rnnlab.models.language_model import ModelConfig
from rnnlab.tasks.lm import LanguageModelTask, LMDataConfig
from rnnlab.tasks.sequence import SequenceTask, resolve_configs
from rnnlab.train.options import OptimConfig, RunConfig
from rnnlab.train.progress import Progress
from rnnlab.train.trainer import Trainer

PTB = "ptb"
PTB_EVAL_WORDS = 20_000  # validation words per evaluation (of 73,760)
EVALUATIONS = 4  # scores taken during a training; the best counts
# the score a task is searched by, where it is not the task's headline metric: in a training of a
# thousand steps hardly any arithmetic answer is right in every digit (about 4% for the GRU), while
# the share of right answer characters (about 50%) tells cells apart
SCORED = {"arithmetic": "test_char_accuracy"}


def search_tasks() -> list[str]:
    """The tasks a search can score cells on."""
    return [*TASKS, PTB]


def directions(tasks: list[str]) -> dict[str, bool]:
    """``{task: higher_is_better}`` of the tasks' scores (unknown tasks left out)."""
    out = {}
    for name in tasks:
        if name == PTB:
            out[name] = False  # perplexity
        elif name in TASKS:
            out[name] = make_task(name).higher_is_better
    return out


def evaluate_cell(spec: dict, task: str, settings: dict) -> dict:
    """Train the cell ``spec`` on ``task`` for ``settings["steps"]`` steps (``hidden_size``,
    ``seed``) and return ``{"value": best score, "metric": its name, "seconds": ...}``: the best of
    the scores taken during the training (NaN if none was finite)."""
    torch.set_num_threads(1)
    started = time.monotonic()
    steps, hidden, seed = int(settings["steps"]), int(settings["hidden_size"]), int(settings["seed"])
    every = max(1, steps // EVALUATIONS)
    cell_options = {"spec": spec}
    with open(os.devnull, "w") as sink, tempfile.TemporaryDirectory(prefix="rnnlab-eval-") as tmp:
        quiet = Progress(stream=sink)
        out = Path(tmp) / "run"
        if task == PTB:
            model = ModelConfig(cell="graph", cell_options=cell_options, hidden_size=hidden, embedding_size=hidden)
            data = LMDataConfig(data="ptb", level="word", seq_len=35, eval_chars=PTB_EVAL_WORDS, sample_chars=0)
            optim = OptimConfig(batch_size=20, lr=3e-3)
            run = RunConfig(time_budget="", max_steps=steps, eval_every=every, telemetry_every=0, threads=1, seed=seed)
            job = LanguageModelTask(model, data, optim.batch_size, seed)
        else:
            given = {"hidden_size": hidden, "cell_options": cell_options, "max_steps": steps, "time_budget": ""}
            given.update(eval_every=every, telemetry_every=0, threads=1, seed=seed)
            model, optim, run = resolve_configs(task, "graph", given)
            job = SequenceTask(model, optim.batch_size, seed)
        trainer = Trainer(job, out, optim, run, quiet, final_results=False)  # the records are the scores
        summary = trainer.run()
        records = trainer.records
    if summary.get("stopped") == "diverged":
        raise ValueError(f"the training diverged by step {summary.get('steps')} ({summary.get('divergence')})")
    metric = SCORED.get(task, summary["metric"])
    # the scores the training reached (not the untrained model's, which the task may score first)
    values = [r[metric] for r in records if r["step"] > 0 and r.get(metric) is not None and math.isfinite(r[metric])]
    higher = directions([task])[task]
    value = (max(values) if higher else min(values)) if values else float("nan")  # the best of the run
    if task == PTB and values:
        value, metric = math.exp(min(value, 50.0)), "val_perplexity"
    return {"value": float(value), "metric": metric, "seconds": time.monotonic() - started}
