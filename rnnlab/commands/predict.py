"""``rnnlab predict OUT "some text" ...``: the label and class probabilities of texts under a classifier.

Texts come as arguments or from ``--file`` (one a line). Each line of output gives the predicted
label, every class's probability (highest first) and the text; ``--json`` prints the same as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

from rnnlab.commands.common import texts_of


def register(sub) -> None:
    p = sub.add_parser(
        "predict", help="label texts with a classifier (rnnlab train --task classify)", description=__doc__
    )
    p.add_argument("run_dir", type=Path, metavar="OUT", help="run directory of a classifier")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify")
    p.add_argument("--file", type=Path, default=None, help="also classify every non-empty line of this file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    texts = texts_of(args, "text", "classify")
    from rnnlab.train.classify import load_classifier, probabilities

    model, encoder, labels = load_classifier(args.run_dir)
    probs = probabilities(model, [encoder.encode(t) for t in texts])
    rows = []
    for text, p in zip(texts, probs.tolist()):
        ranked = sorted(zip(labels.names, p), key=lambda kv: -kv[1])
        rows.append({"text": text, "label": ranked[0][0], "probabilities": dict(ranked)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(n) for n in labels.names)
    for row in rows:
        shown = "  ".join(f"{n} {p:.3f}" for n, p in row["probabilities"].items())
        print(f"{row['label']:<{width}}  {shown}  {row['text']}")
    return 0
