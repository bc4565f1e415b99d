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


def register(sub) -> None:
    p = sub.add_parser("units", help="rank a model's hidden units by the text features they track", description=__doc__)
    p.add_argument("run_dir", type=Path, metavar="OUT", help="run directory of a character model")
    p.add_argument(
        "--text", required=True, help="text to read (a file, or shakespeare / python-stdlib / linux / latex)"
    )
    p.add_argument("--chars", type=int, default=20_000, help="read at most this many characters of it")
    p.add_argument("--top", type=int, default=5, help="units kept per feature")
    p.set_defaults(func=run)


def run(args) -> int:
    from rnnlab.commands.char_run import load_char_model, read_text
    from rnnlab.interpret.study import study

    for name in ("chars", "top"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name}: expected a positive integer, got {getattr(args, name)}")
    model, vocab, cfg = load_char_model(args.run_dir)
    text = read_text(args.text, args.chars)
    started = time.monotonic()
    summary = study(model, vocab, text, args.top).summary()
    result = {
        "run": str(args.run_dir),
        "cell": cfg.cell,
        "text": args.text,
        **{key: summary[key] for key in ("characters", "outside_vocabulary", "units")},
        "seconds": round(time.monotonic() - started, 2),
        "features": summary["features"],
    }
    print(json.dumps(result, indent=2))
    return 0
