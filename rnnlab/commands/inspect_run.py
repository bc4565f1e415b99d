"""``rnnlab inspect OUT``: any run's kind, configuration, size, best and last checkpoint, and the
scores of its results (a language model's vocabulary, a classifier's labels, a tagger's tags, a
seq2seq run's two vocabularies and its BLEU, a captioner's words, grid and BLEU, a tree classifier's
labels and words)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rnnlab.checkpoint import read_tensors
from rnnlab.commands.common import path_arg
from rnnlab.models.language_model import count_parameters
from rnnlab.runs import BEST, LAST, read_results
from rnnlab.tasks import read_run

SCORES = ("accuracy", "macro_f1", "precision", "recall", "f1", "bleu", "chrf", "exact", "beam")
SCORES += ("bleu1", "bleu4", "cider", "correct", "digits_named")


def register(sub) -> None:
    p = sub.add_parser(
        "inspect", help="show a run's configuration, size and best validation score (a search's leaderboard)"
    )
    p.add_argument("run_dir", type=path_arg, metavar="OUT", help="run directory")
    p.set_defaults(func=run)


def _lm(out: Path) -> tuple[object, dict]:
    from rnnlab.tasks.lm import load_model

    model, vocab, *_ = load_model(out, "best", finite=False)  # inspect shows a diverged run too
    shown = "".join(vocab.chars) if vocab.unit == "char" else {"words": len(vocab), "first": vocab.chars[:50]}
    return model, {"vocabulary": shown}


def _classify(out: Path) -> tuple[object, dict]:
    from rnnlab.tasks.classify import load_classifier

    model, encoder, labels = load_classifier(out, finite=False)
    return model, {
        "labels": labels.names,
        "vocabulary": {"words": len(encoder.vocab), "first": encoder.vocab.tokens[:50]},
    }


def _tag(out: Path) -> tuple[object, dict]:
    from rnnlab.tasks.tag import load_tagger

    model, encoder = load_tagger(out, finite=False)
    words = {"words": len(encoder.words), "first": encoder.words.tokens[:50]}
    facts = {"tags": encoder.tags.names, "scheme": encoder.scheme, "vocabulary": words}
    if encoder.intents is not None:
        facts["intents"] = encoder.intents.names
    return model, facts


def _sequence(out: Path) -> tuple[object, dict]:
    from rnnlab.tasks.sequence import load_sequence_run

    model, task, _ = load_sequence_run(out, finite=False)
    return model, {"long_range_task": task.name, "T": task.steps, "baseline": task.baseline}


def _seq2seq(out: Path) -> tuple[object, dict]:
    from rnnlab.tasks.seq2seq import load_translator

    t = load_translator(out, finite=False)
    sides = {name: {"kind": tok.kind, "size": len(tok)} for name, tok in (("source", t.source), ("target", t.target))}
    return t.model, {"vocabulary": sides}


def _caption(out: Path) -> tuple[object, dict]:
    from rnnlab.tasks.caption import load_describer

    describer, data = load_describer(out, finite=False)
    cfg = describer.model.config
    grid = describer.model.grid_shape(data.image_size)
    vocab = describer.vocab
    words = {"words": len(vocab), "first": [vocab.piece(i) for i in range(min(50, len(vocab)))]}
    shown = {"vocabulary": words, "image_size": data.image_size, "grid": list(grid), "attention": cfg.attention}
    return describer.model, shown


def _tree(out: Path) -> tuple[object, dict]:
    from rnnlab.tasks.tree import load_tree_classifier

    model, encoder, data, _ = load_tree_classifier(out, finite=False)
    words = {"words": len(encoder.vocab), "first": encoder.vocab.tokens[:50]}
    return model, {"labels": encoder.labels.names, "vocabulary": words, "data": data.data}


#: kind -> the run's model (a diverged one too) and what names its inputs and outputs
MODELS = {
    "lm": _lm,
    "classify": _classify,
    "tag": _tag,
    "sequence": _sequence,
    "seq2seq": _seq2seq,
    "caption": _caption,
    "tree": _tree,
}


def _info(path: Path) -> dict:
    """The counters saved in a checkpoint's metadata (``{}`` if there is none)."""
    if not path.exists():
        return {}
    meta = read_tensors(path)[1]
    return json.loads(meta.get("trainer") or meta.get("info") or "{}")


def _search(out: Path) -> int:
    """A cell search's leaderboard (``rnnlab search``), from its SQLite file."""
    from rnnlab.search.evaluate import directions
    from rnnlab.search.report import format_board, leaderboard
    from rnnlab.search.store import Store

    with Store(out) as store:
        print(format_board(leaderboard(store, directions(store.get("config")["tasks"]))))
    return 0


def run(args) -> int:
    out = args.run_dir
    from rnnlab.search.store import FILE

    if (out / FILE).exists():
        return _search(out)
    config = read_run(out)
    kind = config.kind
    model, names = MODELS[kind](out)
    best, last, results = _info(out / BEST), _info(out / LAST), read_results(out) or {}
    sections = dict(config.sections)
    report = {
        "run": str(out),
        "task": kind,
        "model": sections.pop("model", {}),
        "config": sections,
        "parameters": count_parameters(model),
        **names,
        "best": best,
        "last": {"step": last.get("step"), "elapsed_s": last.get("elapsed_s")},
    }
    if kind == "lm" and best.get("val_loss") is not None:
        report["best"]["val_bpc"] = best["val_loss"] / math.log(2)
    if "sizes" in results:
        report["sizes"] = results["sizes"]
    for split in ("val", "test", "test_heldout"):
        if isinstance(results.get(split), dict):
            report[split] = {k: v for k, v in results[split].items() if k in SCORES}
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0
