"""Accuracy, per-class and macro-averaged F1, and the confusion matrix of a classifier.

The scores take memory in proportion to the examples and the classes, never to their square: the
whole confusion matrix is kept only up to :data:`CONFUSION_CLASSES` classes; with more, the
:data:`TOP_CONFUSED` most frequent confusions are listed instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: the most classes whose whole confusion matrix the scores hold
CONFUSION_CLASSES = 100
#: how many (true, predicted) pairs are listed when the matrix is left out
TOP_CONFUSED = 20


def confusion_matrix(gold: Sequence[int], pred: Sequence[int], num_classes: int) -> np.ndarray:
    """Counts ``(num_classes, num_classes)``: row = true class, column = predicted class."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(gold, dtype=np.int64), np.asarray(pred, dtype=np.int64)), 1)
    return m


def most_confused(gold: np.ndarray, pred: np.ndarray, names: Sequence[str], top: int = TOP_CONFUSED) -> list[dict]:
    """The ``top`` most frequent errors ``{"true", "predicted", "count"}``, most first (ties by class order)."""
    wrong = gold != pred
    pairs, counts = np.unique(gold[wrong] * len(names) + pred[wrong], return_counts=True)
    order = np.argsort(-counts, kind="stable")[:top]
    return [
        {
            "true": names[int(pairs[i]) // len(names)],
            "predicted": names[int(pairs[i]) % len(names)],
            "count": int(counts[i]),
        }
        for i in order
    ]


def _f1(tp: float, n_pred: float, n_gold: float) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def class_scores(gold: Sequence[int], pred: Sequence[int], names: Sequence[str]) -> dict:
    """Accuracy, macro-F1 (the unweighted mean of the F1 of every class that is true or predicted at
    least once, as scikit-learn's ``average="macro"`` takes it) and per-class P/R/F1.

    Returns:
        ``{"accuracy", "macro_f1", "per_class": {name: {"precision", "recall", "f1", "support"}}}`` and
        ``"confusion": [[...]]`` (row = true class) for up to :data:`CONFUSION_CLASSES` classes, else
        ``"most_confused"`` (see :func:`most_confused`).
    """
    if len(gold) != len(pred) or not len(gold):
        raise ValueError(f"gold and pred: expected equal non-zero lengths, got {len(gold)} and {len(pred)}")
    g, p, n = np.asarray(gold, dtype=np.int64), np.asarray(pred, dtype=np.int64), len(names)
    n_gold, n_pred = np.bincount(g, minlength=n), np.bincount(p, minlength=n)
    tp = np.bincount(g[g == p], minlength=n)
    per_class, f1s = {}, []
    for k, name in enumerate(names):
        pk, rk, fk = _f1(int(tp[k]), int(n_pred[k]), int(n_gold[k]))
        per_class[name] = {"precision": pk, "recall": rk, "f1": fk, "support": int(n_gold[k])}
        if n_gold[k] + n_pred[k]:
            f1s.append(fk)
    scores = {"accuracy": float(tp.sum() / len(g)), "macro_f1": float(np.mean(f1s)), "per_class": per_class}
    if n <= CONFUSION_CLASSES:
        scores["confusion"] = confusion_matrix(g, p, n).tolist()
    else:
        scores["most_confused"] = most_confused(g, p, names)
    return scores
