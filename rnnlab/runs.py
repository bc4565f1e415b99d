"""The run directory: one format for every kind of training.

A run directory holds::

    config.json          format, kind (lm, sequence, classify, tag), the configuration sections
                         (model, data, optim, run) and the task's tables (vocabulary, labels, ...)
    model.safetensors    the best weights so far, by the task's metric: what the commands use
    last.safetensors     the latest weights, optimizer, task state (data position, carried state,
                         generators), random state and counters: what ``--resume`` uses
    metrics.jsonl        one JSON object per evaluation
    steps.csv            every step: loss, gradient norm before clipping, clipped, learning rate
    gradflow.jsonl       every ``telemetry_every`` steps: ``||dL/dh_t||`` over the positions, per layer
    samples.jsonl        what the model made at each evaluation (a sample text, captions), with the
                         step, the time and the scores
    results.json         the best weights' scores on the held-out splits, at the end

and the figures the command layer draws. This module reads and writes them all; runs written by
earlier versions (one format per command) are read too. Every file but the two record logs is
written atomically; the logs grow a line at a time and a line torn by a kill is dropped on reading.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rnnlab.checkpoint import CheckpointError
from rnnlab.configs import from_dict
from rnnlab.fileio import atomic_write_bytes, atomic_write_json, read_jsonl, write_jsonl
from rnnlab.rundir import run_format

T = TypeVar("T")

CONFIG, BEST, LAST, METRICS, RESULTS = (
    "config.json",
    "model.safetensors",
    "last.safetensors",
    "metrics.jsonl",
    "results.json",
)
STEPS, GRADFLOW, SAMPLES = "steps.csv", "gradflow.jsonl", "samples.jsonl"
STEP_FIELDS = ("step", "loss", "grad_norm", "clipped", "lr")
FIGURES = ("loss.png", "clipping.png", "gradflow.png", "curve.png", "confusion.png")
#: every file a run may hold: a new run replaces them all (earlier versions wrote summary.json)
RUN_FILES = (CONFIG, BEST, LAST, METRICS, RESULTS, STEPS, GRADFLOW, SAMPLES, "summary.json", *FIGURES)
FORMAT = "rnnlab-run/2"
#: the formats of earlier versions, one per command, and the kind of run each holds
LEGACY = {"rnnlab-run/1": "lm", "rnnlab-task-run/1": "sequence", "rnnlab-classify/1": "classify", "rnnlab-tag/1": "tag"}
#: how errors name a kind of run, and the command that uses it
KINDS = {
    "lm": "a language model (rnnlab train; use it with rnnlab sample)",
    "sequence": "a long-range task model (rnnlab task)",
    "classify": "a classifier (rnnlab train --task classify; use it with rnnlab predict)",
    "tag": "a tagger (rnnlab train --task tag; use it with rnnlab tag)",
    "seq2seq": "a sequence-to-sequence model (rnnlab train --task seq2seq; use it with rnnlab translate)",
    "caption": "an image captioner (rnnlab train --task caption; use it with rnnlab caption)",
    "tree": "a tree classifier (rnnlab train --task tree; use it with rnnlab tree)",
}
_LEGACY_NAMES = {"epochs": "max_epochs"}  # fields that earlier versions named otherwise


@dataclass
class RunConfig:
    """A run's ``config.json``, parsed.

    Attributes:
        out: the run directory.
        kind: which task trained it.
        sections: ``name -> dict`` of the configuration sections.
        tables: the task's tables (vocabulary, labels, corpus fingerprint, ...).
    """

    out: Path
    kind: str
    sections: dict[str, dict] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.out / CONFIG

    def section(self, name: str, cls: type[T]) -> T:
        """Section ``name`` as dataclass ``cls`` (unknown keys and bad values are damage)."""
        try:
            return from_dict(cls, self.sections.get(name, {}), f"{name} config")
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{self.path} is damaged ({e})") from e

    def table(self, name: str) -> Any:
        if name not in self.tables:
            raise CheckpointError(f"{self.path} is damaged (no {name!r})")
        return self.tables[name]


def write_config(out: Path, kind: str, sections: dict[str, Any], tables: dict[str, Any]) -> None:
    """Write ``config.json``: the ``sections`` (dataclasses) and ``tables`` (JSON) of a run of ``kind``."""
    data = {name: dataclasses.asdict(cfg) for name, cfg in sections.items()}
    atomic_write_json(out / CONFIG, {"format": FORMAT, "kind": kind, **data, "tables": tables})


def _legacy_sections(raw: dict, names: dict[str, tuple[str, ...]]) -> dict[str, dict]:
    """Earlier versions kept every training field in one flat ``train`` object: give each to the
    section (``names``: section -> its field names) that owns it now."""
    flat = {_LEGACY_NAMES.get(k, k): v for k, v in (raw.get("train") or {}).items()}
    sections = {"model": raw.get("model") or {}}
    for name, fields in names.items():
        sections[name] = {k: v for k, v in flat.items() if k in fields}
    return sections


def read_config(
    out: Path,
    kind: str | None = None,
    legacy: dict[str, tuple[str, ...]] | Callable[[str], dict[str, tuple[str, ...]]] | None = None,
) -> RunConfig:
    """Parse ``out/config.json``.

    Args:
        kind: the kind the caller needs; another kind is refused, naming what the run is.
        legacy: for runs of earlier versions: section name -> the field names it owns, or a
            function of the run's kind that gives them.

    Raises:
        CheckpointError: no run there, a damaged file, or a run of another kind.
    """
    out = Path(out)
    path = out / CONFIG
    if not out.is_dir():
        raise CheckpointError(f"run {out}: no such directory")
    if not path.is_file():
        raise CheckpointError(f"run {out} is not a run directory (no {CONFIG})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"run {out}: {CONFIG} is damaged ({e})") from e
    if not isinstance(raw, dict):
        raise CheckpointError(f"run {out}: {CONFIG} is damaged (not a JSON object)")
    fmt = raw.get("format")
    if fmt == FORMAT:
        found = raw.get("kind")
        sections = {k: v for k, v in raw.items() if isinstance(v, dict) and k not in ("tables",)}
        tables = raw.get("tables")
    elif fmt in LEGACY:
        found = LEGACY[fmt]
        sections = _legacy_sections(raw, (legacy(found) if callable(legacy) else legacy) or {})
        tables = {k: v for k, v in raw.items() if k not in ("format", "model", "train", "data")}
        if found == "lm":
            tables["corpus"] = raw.get("data", {})
    else:
        raise CheckpointError(f"run {out}: {CONFIG} is damaged (format is {fmt!r}, expected {FORMAT!r})")
    if found not in KINDS or not isinstance(tables, dict):
        raise CheckpointError(f"run {out}: {CONFIG} is damaged (kind {found!r})")
    if kind is not None and found != kind:
        raise CheckpointError(f"run {out} is {KINDS[found]}, not {KINDS[kind].split(' (')[0]}")
    return RunConfig(out, found, sections, tables)


def kind_of(out: Path) -> str | None:
    """The kind of run in ``out``, or ``None`` if it holds none that can be read."""
    fmt = run_format(out)
    if fmt in LEGACY:
        return LEGACY[fmt]
    try:
        return read_config(out).kind if fmt == FORMAT else None
    except CheckpointError:
        return None


def check_tables(path: Path, **tables: tuple[int, int]) -> None:
    """Refuse a config whose tables (``name=(entries, entries the model has)``) do not fit its model,
    as an edited ``config.json`` may: every index the model produces must name an entry.

    Raises:
        CheckpointError: naming the file and the first table that does not fit.
    """
    for name, (entries, expected) in tables.items():
        if entries != expected:
            raise CheckpointError(f"{path} is damaged ({name}: {entries} entries for a model of {expected})")


def weights_path(out: Path, which: str = "best") -> Path:
    """``model.safetensors`` (``which="best"``; the last state if no best was saved yet) or
    ``last.safetensors`` (``"last"``)."""
    return out / BEST if which == "best" and (out / BEST).exists() else out / LAST


# ---------------------------------------------------------------------- records
def read_metrics(out: Path) -> list[dict]:
    """The evaluation records of ``metrics.jsonl``, or ``[]`` (a line torn by a kill is left out).

    Raises:
        ValueError: a line that is not a JSON object, naming the file and line.
    """
    return read_jsonl(out / METRICS)


def read_results(out: Path) -> dict | None:
    """``results.json`` (or, for a long-range task run of an earlier version, ``summary.json``)."""
    for name in (RESULTS, "summary.json"):
        try:
            found = json.loads((out / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        return found if isinstance(found, dict) else None
    return None


def read_steps(out: Path) -> list[dict]:
    """The rows of ``steps.csv`` (numbers parsed), or ``[]`` if there is none.

    A row that does not parse (the last line of a file whose writer was killed mid-append) is skipped.
    """
    path = out / STEPS
    if not path.exists():
        return []
    rows = []
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        for r in csv.DictReader(f):
            try:
                rows.append(
                    {"step": int(r["step"]), "loss": float(r["loss"]), "grad_norm": float(r["grad_norm"]),
                     "clipped": int(r["clipped"]), "lr": float(r["lr"])}
                )  # fmt: skip
            except (TypeError, ValueError, KeyError):
                continue
    return rows


def read_profiles(out: Path) -> list[dict]:
    """The records of ``gradflow.jsonl``, or ``[]``; a line that does not parse is skipped."""
    return _lenient(out / GRADFLOW, {"step": int, "norms": list})


def _lenient(path: Path, fields: dict[str, type]) -> list[dict]:
    """The JSON objects of a log whose ``fields`` have their types; other lines are left out."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and all(isinstance(record.get(k), t) for k, t in fields.items()):
            records.append(record)
    return records


def read_samples(out: Path) -> list[dict]:
    """The records of ``samples.jsonl`` (``step``, ``elapsed_s``, the scores, ``text``), or ``[]``.

    A line that is not such a record (torn by a kill, or edited) is left out: the samples are a
    log to read, and a bad line in it should neither stop ``rnnlab samples`` nor a ``--resume``.
    """
    return _lenient(out / SAMPLES, {"step": int, "text": str})


def records_until(out: Path, step: int) -> list[dict]:
    """The evaluation records of ``metrics.jsonl`` up to ``step`` (a run resumed from that checkpoint)."""
    return [r for r in read_metrics(out) if isinstance(r.get("step"), int) and r["step"] <= step]


def truncate_records(out: Path, step: int) -> list[dict]:
    """Keep the records up to ``step`` (the checkpoint a run resumes from) in ``metrics.jsonl``,
    ``steps.csv`` and ``gradflow.jsonl``, dropping later ones and a line torn by a kill; returns the
    evaluation records kept."""
    kept = records_until(out, step)
    if (out / METRICS).exists():
        write_jsonl(out / METRICS, kept)
    if (out / STEPS).exists():
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(STEP_FIELDS)
        writer.writerows([[r[k] for k in STEP_FIELDS] for r in read_steps(out) if r["step"] <= step])
        atomic_write_bytes(out / STEPS, text.getvalue().encode())
    if (out / GRADFLOW).exists():
        write_jsonl(out / GRADFLOW, [p for p in read_profiles(out) if p["step"] <= step])
    if (out / SAMPLES).exists():
        write_jsonl(out / SAMPLES, [s for s in read_samples(out) if s["step"] <= step])
    return kept
