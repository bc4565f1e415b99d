"""After a training: the figures of the run and what is printed, per kind of task."""

from __future__ import annotations

from pathlib import Path

from rnnlab.runs import read_metrics, read_profiles, read_steps
from rnnlab.train.progress import Progress
from rnnlab.train.trainer import Trainer
from rnnlab.viz.confusion import MAX_CLASSES

#: what a finished run of each kind is used with
NEXT = {
    "lm": "sample with: rnnlab sample {out}",
    "sequence": "",
    "classify": 'predict with: rnnlab predict {out} "some text"',
    "tag": 'tag with: rnnlab tag {out} "a sentence"',
    "seq2seq": 'translate with: rnnlab translate {out} "a sentence"',
    "caption": "caption with: rnnlab caption {out} image.png",
    "tree": 'predict with: rnnlab tree {out} "(TREE ...)" or "a sentence" for parsed sentences '
    "(--nodes: at every node; --plot tree.png draws it)",
}

#: the attention figure of a run whose model attends, after its NEXT line
ATTENTION = {
    "seq2seq": " (--attention att.png draws the weights)",
    "caption": " (--attention att.png draws where it looked)",
}


def finish(trainer: Trainer, progress: Progress) -> int:
    """Run ``trainer``, draw the run's figures and report; returns the exit status (1 diverged,
    130 interrupted)."""
    summary = trainer.run()
    if summary["diverged"]:  # the trainer said where and what it kept
        return 1
    if not trainer.world.writer:  # the process that writes the run draws and reports it
        return 130 if summary["interrupted"] else 0
    out, kind = trainer.out, trainer.task.kind
    draw(out, kind, trainer.optim.clip_norm, summary, getattr(trainer.task, "task", None))
    for line in REPORTS.get(kind, lambda s, o: [])(summary, out):
        progress.log(line)
    if summary["interrupted"]:
        command = "task" if kind == "sequence" else "train"
        progress.log(f"resume with: rnnlab {command} --resume {out}")
        return 130
    if NEXT[kind]:
        progress.log(next_step(kind, out, getattr(trainer.task, "model", None)))
    return 0


def next_step(kind: str, out: Path, model=None) -> str:
    """What a finished run of ``kind`` is used with; the attention figure only where ``model``
    attends."""
    line = NEXT[kind].format(out=out)
    attends = getattr(getattr(model, "config", None), "attention", None) != "none"
    return line + ATTENTION[kind] if kind in ATTENTION and attends else line


def draw(out: Path, kind: str, clip_norm: float, results: dict | None, longrange=None) -> list[Path]:
    """Draw every figure a run's records allow; returns the files written."""
    from rnnlab.viz.training import plot_run

    written = plot_run(out, read_metrics(out), read_steps(out), read_profiles(out), clip_norm)
    if kind == "sequence" and longrange is not None:
        from rnnlab.viz.tasks import plot_task_curve

        title = f"{longrange.name}, {(results or {}).get('cell', '')}"
        plot_task_curve(read_metrics(out), longrange, out / "curve.png", title=title)
        written.append(out / "curve.png")
    if kind in ("classify", "tree") and results and "test" in results:
        from rnnlab.viz.confusion import plot_confusion

        names = list(results["test"].get("per_class", {}))
        if 0 < len(names) <= MAX_CLASSES and "confusion" in results["test"]:
            plot_confusion(results["test"]["confusion"], names, out / "confusion.png", f"{out.name}: test")
            written.append(out / "confusion.png")
    return written


def _lm(summary: dict, out: Path) -> list[str]:
    if "test_loss" not in summary:
        return []
    from rnnlab.tasks.lm import describe_loss

    loss = describe_loss(summary["test_loss"], summary["unit"])
    return [f"test (best weights, step {summary['best_step']}): {loss}"]


def _sequence(summary: dict, out: Path) -> list[str]:
    if "baseline" not in summary or summary["final"] is None:
        return []
    metric = summary["metric"]
    name = metric.removeprefix("test_")
    return [
        f"final test {name} {summary['final'][metric]:.4g}, best {summary['best'][metric]:.4g} "
        f"(baseline {summary['baseline'][name]:.4g})"
    ]


def _classify(summary: dict, out: Path) -> list[str]:
    if "test" not in summary:
        return []
    rows = [(summary.get("rnn") or summary.get("model", "rnn"), summary["test"])]
    if "baseline" in summary:
        rows.append(("tf-idf + logistic regression", summary["baseline"]["test"]))
    lines = [f"test ({summary['sizes']['test']:,} examples):           accuracy  macro-F1"]
    lines += [f"  {name:<34} {s['accuracy']:.4f}    {s['macro_f1']:.4f}" for name, s in rows]
    if "baseline_skipped" in summary:
        lines.append(f"note: no TF-IDF baseline ({summary['baseline_skipped']})")
    if (out / "confusion.png").exists():
        lines.append(f"confusion matrix: {out / 'confusion.png'}")
    elif len(summary["test"]["per_class"]) > MAX_CLASSES:
        lines.append(
            f"note: no confusion.png for {len(summary['test']['per_class']):,} classes (drawn for up to "
            f"{MAX_CLASSES}); the per-class scores and the confusions are in results.json"
        )
    return lines + [_epochs(summary)]


def _tree(summary: dict, out: Path) -> list[str]:
    lines = _classify(summary, out)
    heights = summary.get("test", {}).get("by_height", {})
    if len(heights) > 1:
        shown = "  ".join(f"{h}: {s['accuracy']:.3f} ({s['n']})" for h, s in heights.items())
        lines.insert(-1, f"  test accuracy by tree height (trees): {shown}")
    return lines


def _tag(summary: dict, out: Path) -> list[str]:
    if "test" not in summary:
        return []
    t = summary["test"]
    if "f1" not in t:
        return [f"test: token accuracy {t['accuracy']:.4f}", _epochs(summary)]
    lines = [
        f"test: precision {t['precision']:.4f}  recall {t['recall']:.4f}  F1 {t['f1']:.4f}  "
        f"({t['entities']:,} entities; token accuracy {t['accuracy']:.4f})"
    ]
    for kind, s in t["per_type"].items():
        lines.append(f"  {kind:<8} P {s['precision']:.4f}  R {s['recall']:.4f}  F1 {s['f1']:.4f}  ({s['support']})")
    if "intent_accuracy" in t:
        lines.append(
            f"test: intent accuracy {t['intent_accuracy']:.4f}  "
            f"sentence accuracy {t['sentence_accuracy']:.4f} (every slot and the intent right)"
        )
    return lines + [_epochs(summary)]


def _seq2seq(summary: dict, out: Path) -> list[str]:
    if "test" not in summary:
        return []
    t = summary["test"]
    lines = [
        f"test ({t['sentences']:,} sentences, beam {t['beam']}): BLEU {t['bleu']:.2f}  chrF {t['chrf']:.2f}  "
        f"exact {t['exact']:.4f}  ({t['sentences_per_s']:.1f} sentences/s)"
    ]
    if len(t["by_length"]) > 1:
        lines.append("  BLEU by source length: " + "  ".join(f"{b['words']}: {b['bleu']:.1f}" for b in t["by_length"]))
    for e in t["examples"][:3]:
        shown = [_clip(e[k]) for k in ("source", "output", "reference")]
        lines.append(f"  {shown[0]}  ->  {shown[1]}  (reference: {shown[2]})")
    return lines + [_epochs(summary)]


def _caption(summary: dict, out: Path) -> list[str]:
    if "test" not in summary:
        return []
    lines = []
    for split in ("test", "test_heldout"):
        if split not in summary:
            continue
        t = summary[split]
        line = f"{split} ({summary['sizes'][split]:,} images, beam {t['beam']}): BLEU-4 {t['bleu4']:.2f}  "
        line += f"BLEU-1 {t['bleu1']:.2f}  exact {t['exact']:.4f}"
        if "correct" in t:
            line += f"  correct {t['correct']:.4f}  digits named {t['digits_named']:.4f}"
        if "cider" in t:
            line += f"  CIDEr {t['cider']:.3f}"
        lines.append(line + f"  ({t['images_per_s']:.1f} images/s)")
    for e in summary["test"]["examples"][:3]:
        lines.append(f"  {e['image']}: {_clip(e['output'])}  (reference: {_clip(e['reference'])})")
    return lines + [_epochs(summary)]


def _clip(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _epochs(summary: dict) -> str:
    epochs = summary["epochs"] or 0
    per = summary["seconds"] / max(epochs, 1e-9)
    return (
        f"best weights in epoch {summary['best_epoch']}; {epochs:.3g} epochs run ({summary['stopped']}); "
        f"{per:.0f} s an epoch"
    )


REPORTS = {
    "lm": _lm,
    "sequence": _sequence,
    "classify": _classify,
    "tag": _tag,
    "seq2seq": _seq2seq,
    "caption": _caption,
    "tree": _tree,
}
