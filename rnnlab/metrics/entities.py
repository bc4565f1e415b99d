"""Entity-level precision, recall and F1, read from BIO or BIOES tags as CoNLL's ``conlleval`` does.

An entity is a maximal run of tags of one type: it begins at ``B-``/``S-``, at an ``I-``/``E-``
after ``O``, after the end of an entity (``E-``/``S-``) or after a tag of another type; it ends
before ``B-``/``S-``/``O``, after ``E-``/``S-``, or before a tag of another type (Tjong Kim Sang's
``conlleval`` script, the CoNLL-2000..2003 scorer). A predicted entity counts as correct only if
its type, first and last token all match a true one; precision, recall and F1 are over all
entities of all sentences (micro-averaged).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def _split(tag: str) -> tuple[str, str]:
    if tag == "O" or len(tag) < 2 or tag[1] != "-":
        return ("O", "") if tag == "O" else ("I", tag)  # a bare tag is one type (conlleval's view)
    return tag[0], tag[2:]


def _ends(prev: str, prev_type: str, cur: str, cur_type: str) -> bool:
    if prev in "ES":
        return True
    if prev in "BI" and cur in "BSO":
        return True
    return prev != "O" and prev_type != cur_type


def _starts(prev: str, prev_type: str, cur: str, cur_type: str) -> bool:
    if cur in "BS":
        return True
    if cur in "IE" and prev in "ESO":
        return True
    return cur != "O" and prev_type != cur_type


def entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The entities of one sentence as ``(type, first, last)`` token indices, in order."""
    found, start = [], None
    prev, prev_type = "O", ""
    for i, tag in enumerate([*tags, "O"]):
        cur, cur_type = _split(tag)
        if start is not None and _ends(prev, prev_type, cur, cur_type):
            found.append((prev_type, start, i - 1))
            start = None
        if _starts(prev, prev_type, cur, cur_type):
            start = i
        prev, prev_type = cur, cur_type
    return found


def _prf(correct: int, guessed: int, true: int) -> dict:
    p = correct / guessed if guessed else 0.0
    r = correct / true if true else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Micro-averaged entity precision, recall and F1 over sentences, per type too, and token accuracy.

    Returns:
        ``{"precision", "recall", "f1", "accuracy", "entities", "per_type": {type: {"precision",
        "recall", "f1", "support"}}}``.
    """
    if len(gold) != len(pred):
        raise ValueError(f"gold and pred: expected the same number of sentences, got {len(gold)} and {len(pred)}")
    correct, guessed, true = Counter(), Counter(), Counter()
    right = total = 0
    for g, p in zip(gold, pred):
        if len(g) != len(p):
            raise ValueError(f"a sentence of {len(g)} true tags has {len(p)} predicted ones")
        gs, ps = set(entities(g)), set(entities(p))
        true.update(t for t, _, _ in gs)
        guessed.update(t for t, _, _ in ps)
        correct.update(t for t, _, _ in gs & ps)
        right += sum(a == b for a, b in zip(g, p))
        total += len(g)
    scores = _prf(sum(correct.values()), sum(guessed.values()), sum(true.values()))
    scores["accuracy"] = right / total if total else 0.0
    scores["entities"] = sum(true.values())
    kinds = sorted(set(true) | set(guessed))
    scores["per_type"] = {k: {**_prf(correct[k], guessed[k], true[k]), "support": true[k]} for k in kinds}
    return scores
