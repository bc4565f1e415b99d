"""``rnnlab tag OUT "Apple is a great company" ...``: the tag of every token under a tagger.

Sentences come as arguments or from ``--file`` (one a line) and are split into words, numbers and
single punctuation marks (so "U.S." becomes four tokens, where the CoNLL data keep one). Each sentence prints as
``token/TAG`` pairs, then its entities (slots) as phrases if the tags have any, then its intent
and the intent's probability if the model predicts one (``--model joint``); ``--conll`` prints a
token and its tag a line, a blank line after each sentence; ``--json`` prints tokens, tags,
entities and the intent.
"""

from __future__ import annotations

import json

from rnnlab.commands.common import path_arg, texts_of
from rnnlab.data.words import TOKENIZERS
from rnnlab.metrics import entities


def register(sub) -> None:
    p = sub.add_parser("tag", help="tag every token with a tagger (rnnlab train --task tag)", description=__doc__)
    p.add_argument("run_dir", type=path_arg, metavar="OUT", help="run directory of a tagger")
    p.add_argument("texts", nargs="*", metavar="SENTENCE", help="sentences to tag")
    p.add_argument("--file", type=path_arg, default=None, help="also tag every non-empty line of this file")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--conll", action="store_true", help="a token and its tag a line")
    form.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    texts = texts_of(args, "sentence", "tag")
    from rnnlab.tasks.tag import load_tagger
    from rnnlab.tasks.tag_scores import predict

    model, encoder = load_tagger(args.run_dir)
    sentences = [tuple(TOKENIZERS["regex"](t)) for t in texts]
    rows = []
    for tokens, found in zip(sentences, predict(model, encoder, sentences)):
        spans = entities(found.tags) if encoder.scheme != "none" else []
        named = [{"type": k, "text": " ".join(tokens[a : b + 1]), "start": a, "end": b + 1} for k, a, b in spans]
        rows.append({"tokens": list(tokens), "tags": found.tags, "entities": named})
        if found.intent is not None:
            rows[-1].update(intent=found.intent, probability=found.probability)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        if args.conll:
            print("\n".join(f"{t}\t{g}" for t, g in zip(row["tokens"], row["tags"])) + "\n")
            continue
        print(" ".join(f"{t}/{g}" for t, g in zip(row["tokens"], row["tags"])))
        if row["entities"]:
            print("  " + "; ".join(f"{e['type']}: {e['text']}" for e in row["entities"]))
        if "intent" in row:
            print(f"  intent: {row['intent']} ({row['probability']:.3f})")
    return 0
