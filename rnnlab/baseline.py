"""The TF-IDF + logistic regression baseline of text classification, on the RNN's own split.

Each text is a TF-IDF vector of its word unigrams and bigrams (scikit-learn's ``TfidfVectorizer``
with its own word pattern, which leaves out one-character words, and sublinear term frequency),
fitted on the training texts; a multinomial
logistic regression reads the class. Its inverse regularisation strength ``C`` is picked from
0.1, 1, 10 and 100 by validation accuracy, as the RNN's best epoch is.

The regression holds a dense weight for every class and feature, and a score for every class and
training text, so both are bounded: it keeps the :data:`MAX_WEIGHTS` / classes most frequent
features, and is not fitted (the caller notes why) when that leaves a class fewer than
:data:`MIN_FEATURES` (over 2,000 classes) or there are more than :data:`MAX_CELLS` classes x
training texts.
"""

from __future__ import annotations

import sys
import time

from rnnlab.data.labelled import Example
from rnnlab.metrics import class_scores

C_GRID = (0.1, 1.0, 10.0, 100.0)
#: classes x features: the regression's weights (the solver keeps some 30 copies of them)
MAX_WEIGHTS = 2_000_000
#: the fewest features a class may be given
MIN_FEATURES = 1_000
#: classes x training texts: the scores of one pass
MAX_CELLS = 20_000_000


def feature_limit(classes: int, texts: int) -> int:
    """How many features the baseline keeps for ``classes`` and ``texts`` training texts.

    Raises:
        ValueError: too many classes (or classes x texts) to fit in bounded memory; says why.
    """
    limit = MAX_WEIGHTS // max(classes, 1)
    if limit < MIN_FEATURES:
        raise ValueError(
            f"{classes:,} classes: the baseline keeps a weight for every class and feature and is fitted for at "
            f"most {MAX_WEIGHTS // MIN_FEATURES:,} classes; --baseline false leaves it out"
        )
    if classes * texts > MAX_CELLS:
        raise ValueError(
            f"{classes:,} classes x {texts:,} training texts: the baseline scores every class of every text and "
            f"is fitted for at most {MAX_CELLS:,} of those; --baseline false leaves it out"
        )
    return limit


def tfidf_baseline(splits: dict[str, list[Example]], names: list[str]) -> dict:
    """Scores ``{"val": ..., "test": ..., "C": ..., "features": ..., "max_features": ...}`` of the baseline.

    Raises:
        ValueError: no features, or too many classes (see :func:`feature_limit`).
    """
    limit = feature_limit(len(names), len(splits["train"]))
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    index = {n: i for i, n in enumerate(names)}
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_features=limit)
    x = {"train": vectorizer.fit_transform(e.text for e in splits["train"])}
    for split in ("val", "test"):
        x[split] = vectorizer.transform(e.text for e in splits[split])
    y = {k: [index[e.label] for e in v] for k, v in splits.items()}
    best = None
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=5000).fit(x["train"], y["train"])
        val = class_scores(y["val"], model.predict(x["val"]).tolist(), names)
        if best is None or val["accuracy"] > best[1]["accuracy"]:
            best = (model, val, c)
    model, val, c = best
    test = class_scores(y["test"], model.predict(x["test"]).tolist(), names)
    return {"val": val, "test": test, "C": c, "features": len(vectorizer.vocabulary_), "max_features": limit}


def baseline_results(splits: dict[str, list[Example]], names: list[str]) -> dict:
    """``{"baseline": scores}`` of :func:`tfidf_baseline` with the seconds it took, or
    ``{"baseline_skipped": why}`` where it cannot be fitted (no TF-IDF features, or too many
    classes to fit in bounded memory): a run's results keep either."""
    tick = time.monotonic()
    print(
        f"note: fitting the TF-IDF baseline on {len(splits['train']):,} texts ({len(C_GRID)} regressions, up to a "
        "minute or two on large sets; --baseline false leaves it out)",
        file=sys.stderr,
        flush=True,
    )
    try:
        scores = tfidf_baseline(splits, names)
    except ValueError as e:
        return {"baseline_skipped": str(e)}
    return {"baseline": {**scores, "elapsed_s": time.monotonic() - tick}}
