"""``rnnlab units OUT --text FILE``: which hidden units of a character model track which feature.

Runs the model over the text, computes per-character features and ranks every unit (each
layer's ``h``, and ``c`` for LSTM) by how well it tracks each feature: by the accuracy of a
one-unit threshold for yes/no features, by correlation for counts. Prints JSON, with the feature
set used (``feature_set``) and why (``feature_set_chosen_by``).
"""

from __future__ import annotations

import json
import time

from rnnlab.commands.text_flags import add_text_flags, check_text_flags, described


def register(sub) -> None:
    what = "rank a model's hidden units by the text features they track"
    p = sub.add_parser("units", help=what, description=described(__doc__))
    add_text_flags(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from rnnlab.commands.char_run import prepare
    from rnnlab.interpret.study import study

    check_text_flags(args)
    prepared = prepare(args.run_dir, args.text, args.chars, args.features)
    started = time.monotonic()
    summary = study(prepared.model, prepared.vocab, prepared.text, args.top, prepared.choice).summary()
    result = {
        "run": str(args.run_dir),
        "cell": prepared.config.cell,
        "text": args.text,
        **{key: summary[key] for key in ("characters", "outside_vocabulary", "units")},
        "seconds": round(time.monotonic() - started, 2),
        **{key: summary[key] for key in ("feature_set", "feature_set_chosen_by", "features")},
    }
    print(json.dumps(result, indent=2))
    return 0
