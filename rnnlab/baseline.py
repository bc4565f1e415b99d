"""The TF-IDF + logistic regression baseline of text classification, on the RNN's own split.

Each text is a TF-IDF vector of its word unigrams and bigrams (scikit-learn's ``TfidfVectorizer``
with its own word pattern, which leaves out one-character words, and sublinear term frequency),
fitted on the training texts; a multinomial
logistic regression reads the class. Its inverse regularisation strength ``C`` is picked from
0.1, 1, 10 and 100 by validation accuracy, as the RNN's best epoch is.
"""

from __future__ import annotations

from rnnlab.data.labelled import Example
from rnnlab.metrics import class_scores

C_GRID = (0.1, 1.0, 10.0, 100.0)


def tfidf_baseline(splits: dict[str, list[Example]], names: list[str]) -> dict:
    """Scores ``{"val": ..., "test": ..., "C": ..., "features": ...}`` of the baseline."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    index = {n: i for i, n in enumerate(names)}
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
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
    return {"val": val, "test": test, "C": c, "features": len(vectorizer.vocabulary_)}
