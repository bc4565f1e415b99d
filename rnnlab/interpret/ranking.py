"""Which hidden units track which feature: correlation, and the accuracy of a one-unit threshold."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.interpret.features import is_binary


def correlations(acts: Tensor, feature: Tensor) -> Tensor:
    """Pearson correlation of every unit with ``feature``: ``acts (N, U)``, ``feature (N,)`` -> ``(U,)``.

    A unit or feature that never changes has correlation 0.
    """
    a = acts.double() - acts.double().mean(0)
    f = feature.double() - feature.double().mean()
    denom = a.norm(dim=0) * f.norm()
    return torch.where(denom > 0, (a * f.unsqueeze(1)).sum(0) / denom.clamp_min(1e-300), 0.0)


def threshold_accuracy(acts: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The best accuracy of ``unit > c`` (or ``unit < c``) as a classifier of 0/1 ``labels``, per unit.

    Every cut between two sorted activations is tried, in both directions. Ties are kept together
    (a cut never splits equal activations).

    Returns:
        ``(accuracy (U,), threshold (U,), direction (U,))``: the rule is ``unit > threshold``
        where ``direction`` is 1, and ``unit < threshold`` where it is -1.
    """
    N = acts.shape[0]
    values, order = acts.double().sort(dim=0)  # (N, U)
    y = labels.double()[order]  # (N, U), labels in activation order
    ones_below = torch.cat([torch.zeros(1, y.shape[1], dtype=y.dtype), y.cumsum(0)])  # (N + 1, U)
    k = torch.arange(N + 1, dtype=y.dtype).unsqueeze(1)  # cut after k elements
    total_ones = ones_below[-1]
    # "unit > c" predicts 1 above the cut: correct = zeros below + ones above
    above = (k - ones_below) + (total_ones - ones_below)
    below = N - above  # the opposite direction
    valid = torch.ones(N + 1, values.shape[1], dtype=torch.bool)
    valid[1:-1] = values[1:] != values[:-1]  # no cut between equal values
    above = torch.where(valid, above, -1)
    below = torch.where(valid, below, -1)
    best_above, cut_above = above.max(0)
    best_below, cut_below = below.max(0)
    use_below = best_below > best_above
    cut = torch.where(use_below, cut_below, cut_above)
    padded = torch.cat([values[:1] - 1, values, values[-1:] + 1])  # (N + 2, U)
    cols = torch.arange(values.shape[1])
    threshold = (padded[cut, cols] + padded[cut + 1, cols]) / 2  # midway between the neighbours
    direction = torch.where(use_below, -1, 1)
    return torch.maximum(best_above, best_below) / N, threshold, direction


def rank_units(acts: Tensor, features: dict[str, Tensor], names: list[str], top: int = 5) -> dict[str, list[dict]]:
    """The ``top`` units per feature, best first.

    Args:
        acts: activations ``(N, U)`` of one character stream, one column per unit.
        features: name -> ``(N,)`` values.
        names: a label per column (``"layer 1 h 37"``).
        top: how many units to keep per feature.

    Returns:
        feature -> list of ``{"unit", "index", "correlation", "accuracy"?, "threshold"?, "rule"?}``; units
        are ranked by the threshold accuracy for 0/1 features and by ``|correlation|`` otherwise.
    """
    ranking = {}
    for name, values in features.items():
        if len(values) == 0 or bool((values == values[0]).all()):
            ranking[name] = []  # the feature never changes in this text: nothing to track
            continue
        r = correlations(acts, values)
        entries = []
        if is_binary(values) and 0 < float(values.sum()) < len(values):
            acc, thr, sign = threshold_accuracy(acts, values)
            for i in acc.argsort(descending=True)[:top].tolist():
                entries.append(
                    {"unit": names[i], "index": i, "accuracy": float(acc[i]), "threshold": float(thr[i]),
                     "rule": ">" if sign[i] > 0 else "<", "correlation": float(r[i]),
                     "base_rate": float(values.mean())}
                )  # fmt: skip
        else:
            for i in r.abs().argsort(descending=True)[:top].tolist():
                entries.append({"unit": names[i], "index": i, "correlation": float(r[i])})
        ranking[name] = entries
    return ranking
