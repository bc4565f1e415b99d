"""``rnnlab units OUT --text FILE``: which hidden units of a character model track which feature.

Runs the model over the text, computes per-character features and ranks every unit (each
layer's ``h``, and ``c`` for LSTM) by how well it tracks each feature: by the accuracy of a
one-unit threshold for yes/no features, by correlation for counts. Prints JSON, with the feature
set used (``feature_set``) and why (``feature_set_chosen_by``).

``--features`` picks the set; ``auto`` (the default) chooses by the run's corpus. ``c`` (for
``linux`` and ``.c``/``.h`` files): inside a comment, a string literal or a character literal,
brace depth, inside an ``if`` condition, inside an ``if`` body, preprocessor line. ``latex``
(``latex``, ``.tex``): inside math, inside a comment, environment depth, brace depth. ``python``
(``python-stdlib``, ``.py``): inside a string, inside a comment, bracket depth, inside quotation
marks. ``prose`` (``shakespeare``): inside quotation marks, speaker line. ``all``: the general
features of any text (the Python scan, lines, quotes), used when neither the corpus nor the text
read tells its kind. Every set adds the position in the line and the indentation (in ``c`` a tab
counts 8 columns).

A set is refused when the run's corpus is known, by its name or its files' suffixes, to be of
another kind (``--features latex`` for a model of ``linux``; ``all`` fits every corpus), or when
the model never saw the characters the set is about (``$`` and ``\\`` for ``latex``).
"""

from __future__ import annotations

import json
import time


def register(sub) -> None:
    from rnnlab.commands.visualize import add_text_flags

    p = sub.add_parser("units", help="rank a model's hidden units by the text features they track", description=__doc__)
    add_text_flags(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from rnnlab.commands.char_run import prepare
    from rnnlab.commands.visualize import check_text_flags
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
