"""``rnnlab units OUT --text FILE``: which hidden units of a character model track which feature.

Runs the model over the text, computes per-character features (inside a string or a comment,
bracket depth, position in the line, indentation, speaker line, inside quotation marks) and ranks
every unit (each layer's ``h``, and ``c`` for LSTM) by how well it tracks each feature: by the
accuracy of a one-unit threshold for yes/no features, by correlation for counts. Prints JSON.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rnnlab.commands.common import UsageError
from rnnlab.data.corpora import load_corpus


def register(sub) -> None:
    p = sub.add_parser("units", help="rank a model's hidden units by the text features they track", description=__doc__)
    p.add_argument("run_dir", type=Path, metavar="OUT", help="run directory of a character model")
    p.add_argument("--text", required=True, help="text to read (a file, or shakespeare / python-stdlib)")
    p.add_argument("--chars", type=int, default=20_000, help="read at most this many characters of it")
    p.add_argument("--top", type=int, default=5, help="units kept per feature")
    p.set_defaults(func=run)


def run(args) -> int:
    from rnnlab.interpret.activations import collect
    from rnnlab.interpret.features import all_features
    from rnnlab.interpret.ranking import rank_units
    from rnnlab.interpret.study import load_char_model

    for name in ("chars", "top"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name}: expected a positive integer, got {getattr(args, name)}")
    model, vocab, cfg = load_char_model(args.run_dir)
    try:
        text = load_corpus(args.text)[: args.chars]
    except ValueError as e:
        raise UsageError(f"--text: {str(e).removeprefix('data: ')}") from e
    started = time.monotonic()
    acts = collect(model, vocab, text)
    matrix, names = acts.matrix()
    ranking = rank_units(matrix, all_features(text), names, args.top)
    result = {
        "run": str(args.run_dir),
        "cell": cfg.cell,
        "text": args.text,
        "characters": len(text),
        "outside_vocabulary": int((~acts.known).sum()),
        "units": len(names),
        "seconds": round(time.monotonic() - started, 2),
        "features": ranking,
    }
    print(json.dumps(result, indent=2))
    return 0
