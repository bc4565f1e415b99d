"""Accuracy, per-class and macro-averaged F1, and the confusion matrix of a classifier."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion_matrix(gold: Sequence[int], pred: Sequence[int], num_classes: int) -> np.ndarray:
    """Counts ``(num_classes, num_classes)``: row = true class, column = predicted class."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(gold, dtype=np.int64), np.asarray(pred, dtype=np.int64)), 1)
    return m


def _f1(tp: float, n_pred: float, n_gold: float) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def class_scores(gold: Sequence[int], pred: Sequence[int], names: Sequence[str]) -> dict:
    """Accuracy, macro-F1 (the unweighted mean of the F1 of every class that is true or predicted at
    least once, as scikit-learn's ``average="macro"`` takes it) and per-class P/R/F1.

    Returns:
        ``{"accuracy", "macro_f1", "per_class": {name: {"precision", "recall", "f1", "support"}},
        "confusion": [[...]]}``.
    """
    if len(gold) != len(pred) or not len(gold):
        raise ValueError(f"gold and pred: expected equal non-zero lengths, got {len(gold)} and {len(pred)}")
    m = confusion_matrix(gold, pred, len(names))
    per_class = {}
    for k, name in enumerate(names):
        p, r, f = _f1(m[k, k], m[:, k].sum(), m[k].sum())
        per_class[name] = {"precision": p, "recall": r, "f1": f, "support": int(m[k].sum())}
    return {
        "accuracy": float(np.trace(m) / m.sum()),
        "macro_f1": float(np.mean([per_class[n]["f1"] for k, n in enumerate(names) if m[k].sum() + m[:, k].sum()])),
        "per_class": per_class,
        "confusion": m.tolist(),
    }
