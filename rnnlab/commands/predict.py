"""``rnnlab predict OUT "some text" ...``: the label and class probabilities of texts under a classifier.

Texts come as arguments or from ``--file`` (one a line). Each line of output gives the predicted
label, every class's probability (highest first) and the text; ``--json`` prints the same as JSON.
"""

from __future__ import annotations

import json

from rnnlab.commands.common import path_arg, texts_of


def register(sub) -> None:
    p = sub.add_parser(
        "predict", help="label texts with a classifier (rnnlab train --task classify)", description=__doc__
    )
    p.add_argument("run_dir", type=path_arg, metavar="OUT", help="run directory of a classifier")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify")
    p.add_argument("--file", type=path_arg, default=None, help="also classify every non-empty line of this file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


#: texts classified at once; their probabilities are printed before the next ones are computed
CHUNK = 1024


def _rows(texts: list[str], model, encoder, names: list[str]):
    """``{"text", "label", "probabilities"}`` of every text, in order, ``CHUNK`` texts at a time."""
    from rnnlab.tasks.classify import probabilities

    for start in range(0, len(texts), CHUNK):
        chunk = texts[start : start + CHUNK]
        for text, p in zip(chunk, probabilities(model, [encoder.encode(t) for t in chunk]).tolist()):
            ranked = sorted(zip(names, p), key=lambda kv: -kv[1])
            yield {"text": text, "label": ranked[0][0], "probabilities": dict(ranked)}


def run(args) -> int:
    texts = texts_of(args, "text", "classify")
    from rnnlab.tasks.classify import load_classifier

    model, encoder, labels = load_classifier(args.run_dir)
    rows = _rows(texts, model, encoder, labels.names)
    if args.json:  # the layout of json.dumps(all rows, indent=2), printed a row at a time
        print("[")
        for k, row in enumerate(rows):
            lines = json.dumps(row, indent=2).splitlines()
            print("\n".join("  " + line for line in lines) + ("," if k < len(texts) - 1 else ""))
        print("]")
        return 0
    width = max(len(n) for n in labels.names)
    for row in rows:
        shown = "  ".join(f"{n} {p:.3f}" for n, p in row["probabilities"].items())
        print(f"{row['label']:<{width}}  {shown}  {row['text']}")
    return 0
