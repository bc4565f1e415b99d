"""Which hidden units track which feature: correlation, and the accuracy of a one-unit threshold."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.interpret.features import is_binary

BLOCK = 256  # units sorted together


def correlation_matrix(acts: Tensor, features: Tensor) -> Tensor:
    """Pearson correlation of every unit with every feature: ``acts (N, U)``, ``features (N, F)`` -> ``(U, F)``.

    A unit or feature that never changes has correlation 0.
    """
    a = acts.double() - acts.double().mean(0)  # (N, U)
    f = features.double() - features.double().mean(0)  # (N, F)
    denom = a.norm(dim=0).unsqueeze(1) * f.norm(dim=0)  # (U, F)
    return torch.where(denom > 0, (a.t() @ f) / denom.clamp_min(1e-300), 0.0)


def correlations(acts: Tensor, feature: Tensor) -> Tensor:
    """Pearson correlation of every unit with one ``feature (N,)``: ``(U,)``."""
    return correlation_matrix(acts, feature.unsqueeze(1))[:, 0]


class SortedUnits:
    """Each unit's activations sorted once, for the threshold accuracy of any number of 0/1 features.

    Args:
        acts: ``(N, U)`` activations, one column per unit.
    """

    def __init__(self, acts: Tensor) -> None:
        self.values, self.order = acts.sort(dim=0)  # (N, U), in the activations' own precision
        N, U = self.values.shape
        self.valid = torch.ones(N + 1, U, dtype=torch.bool)  # (N + 1, U) cut after k elements
        self.valid[1:-1] = self.values[1:] != self.values[:-1]  # no cut between equal values

    def accuracy(self, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The best accuracy of ``unit > c`` (or ``unit < c``) as a classifier of 0/1 ``labels``, per unit.

        Every cut between two sorted activations is tried, in both directions. Ties are kept
        together (a cut never splits equal activations).

        Returns:
            ``(accuracy (U,), threshold (U,), direction (U,))``: the rule is ``unit > threshold``
            where ``direction`` is 1, and ``unit < threshold`` where it is -1.
        """
        N, U = self.values.shape
        y = labels.to(torch.int32)[self.order]  # (N, U) labels in activation order
        ones_below = torch.cat([torch.zeros(1, U, dtype=torch.int32), y.cumsum(0, dtype=torch.int32)])  # (N + 1, U)
        k = torch.arange(N + 1, dtype=torch.int32).unsqueeze(1)
        # "unit > c" with the cut after k elements: correct = zeros below + ones above; the other
        # direction gets the rest right, so its best is N minus the smallest count
        above = k - 2 * ones_below + ones_below[-1]  # (N + 1, U)
        best_above, cut_above = torch.where(self.valid, above, -1).max(0)
        least, cut_below = torch.where(self.valid, above, N + 1).min(0)
        best_below = N - least
        use_below = best_below > best_above
        cut = torch.where(use_below, cut_below, cut_above)
        v = self.values.double()
        padded = torch.cat([v[:1] - 1, v, v[-1:] + 1])  # (N + 2, U)
        cols = torch.arange(U)
        threshold = (padded[cut, cols] + padded[cut + 1, cols]) / 2  # midway between the neighbours
        direction = torch.where(use_below, -1, 1)
        return torch.maximum(best_above, best_below).double() / N, threshold, direction


def threshold_accuracy(acts: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``SortedUnits(acts).accuracy(labels)``: the best one-unit threshold rule for 0/1 ``labels``, per unit."""
    return SortedUnits(acts).accuracy(labels)


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
    changing = {n: v for n, v in features.items() if len(v) and not bool((v == v[0]).all())}
    binary = [n for n, v in changing.items() if is_binary(v)]
    stacked = torch.stack(list(changing.values()), dim=1) if changing else torch.zeros(len(acts), 0)  # (N, F)
    corr: list[Tensor] = []
    rules: dict[str, list[tuple[Tensor, Tensor, Tensor]]] = {n: [] for n in binary}
    for start in range(0, acts.shape[1], BLOCK):  # a block of units at a time keeps the memory small
        block = acts[:, start : start + BLOCK]
        corr.append(correlation_matrix(block, stacked))  # (BLOCK, F)
        if binary:
            ordered = SortedUnits(block)
            for n in binary:
                rules[n].append(ordered.accuracy(changing[n]))
    column = {n: j for j, n in enumerate(changing)}
    ranking = {}
    for name, values in features.items():
        if name not in changing:
            ranking[name] = []  # the feature never changes in this text: nothing to track
            continue
        r = torch.cat(corr)[:, column[name]]
        entries = []
        if name in rules:
            acc, thr, sign = (torch.cat(parts) for parts in zip(*rules[name]))
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
