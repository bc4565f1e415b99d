"""The tasks the trainer runs, by kind: a new task is a module here and one line in :data:`TASKS`.

Each is a :class:`rnnlab.train.task.Task` with a ``from_run(run, batch_size, seed)`` constructor
that rebuilds it from a run's ``config.json``, which is how :func:`resume` continues any run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnlab import runs
from rnnlab.runs import LAST, read_config
from rnnlab.tasks.caption import CaptionDataConfig, CaptionTask
from rnnlab.tasks.classify import ClassifyConfig, ClassifyTask
from rnnlab.tasks.common import legacy_sections
from rnnlab.tasks.lm import LanguageModelTask, LMDataConfig
from rnnlab.tasks.seq2seq import Seq2SeqDataConfig, Seq2SeqTask
from rnnlab.tasks.sequence import SequenceTask
from rnnlab.tasks.tag import TagConfig, TagTask
from rnnlab.tasks.tree import TreeDataConfig, TreeTask
from rnnlab.train.options import OptimConfig, RunConfig
from rnnlab.train.progress import Progress
from rnnlab.train.trainer import Trainer

#: kind -> (task class, its data section's class or None)
TASKS: dict[str, tuple[type, type | None]] = {
    "lm": (LanguageModelTask, LMDataConfig),
    "sequence": (SequenceTask, None),
    "classify": (ClassifyTask, ClassifyConfig),
    "tag": (TagTask, TagConfig),
    "seq2seq": (Seq2SeqTask, Seq2SeqDataConfig),
    "caption": (CaptionTask, CaptionDataConfig),
    "tree": (TreeTask, TreeDataConfig),
}


def read_run(out: Path, kind: str | None = None) -> runs.RunConfig:
    """``config.json`` of the run in ``out`` (of ``kind``, if given), whatever version wrote it."""
    return read_config(Path(out), kind, lambda found: legacy_sections(TASKS[found][1]))


def resume(out: Path, given: dict[str, Any] | None = None, progress: Progress | None = None) -> Trainer:
    """A trainer that continues the run in ``out`` exactly, whatever its kind.

    Args:
        given: settings to change (see :func:`resumable`), such as a longer ``time_budget``.

    Raises:
        ValueError: a setting that would change the data, its order or the saved state.
    """
    run = read_run(out)
    if not (run.out / LAST).exists():
        raise ValueError(f"--resume: {out} has no {LAST} to resume from (it saved nothing: start it again)")
    cls, data_cls = TASKS[run.kind]
    given = given or {}
    fixed = sorted(set(given) - resumable(data_cls))
    if fixed:
        flags = ", ".join("--" + n.replace("_", "-") for n in fixed)
        raise ValueError(f"{flags}: fixed for a resumed run (it would change the data, its order or the saved state)")
    for name, section in (("optim", OptimConfig), ("run", RunConfig), ("data", data_cls)):
        if section is not None:
            fields = section.__dataclass_fields__
            run.sections.setdefault(name, {}).update({k: v for k, v in given.items() if k in fields})
    optim, options = run.section("optim", OptimConfig), run.section("run", RunConfig)
    task = cls.from_run(run, optim.batch_size, options.seed)
    return Trainer(task, run.out, optim, options, progress, resume=True)


def resumable(data_cls: type | None) -> set[str]:
    """The settings a resumed run may change: the optimisation and run options but for the batch
    size (the carried state has its width), the seed and the clock; for a language model also the evaluation
    and sample sizes and the truncation length (its data position counts chunks, whatever their length)."""
    # (the clock too: the time a run has had is counted in one kind of seconds)
    names = {*OptimConfig.__dataclass_fields__, *RunConfig.__dataclass_fields__} - {"batch_size", "seed", "clock"}
    extra = {
        LMDataConfig: {"eval_chars", "sample_chars", "seq_len", "loss"},
        Seq2SeqDataConfig: {"eval_sentences", "test_beam"},
        CaptionDataConfig: {"eval_images", "test_beam", "shown"},
    }
    return names | extra.get(data_cls, set())


__all__ = [
    "TASKS",
    "read_run",
    "CaptionTask",
    "ClassifyTask",
    "LanguageModelTask",
    "Seq2SeqTask",
    "SequenceTask",
    "TagTask",
    "TreeTask",
    "resume",
]
