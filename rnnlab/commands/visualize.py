"""``rnnlab visualize OUT --text FILE``: a self-contained page of a character model's hidden units.

The page (one HTML file, works offline) shows the text with every character coloured by the
chosen unit's value after reading it (each layer's ``h``, for LSTM also ``c``, and every gate),
a layer and unit picker, the model's top-5 next characters on hover, the units that best track
each text feature (click one to show it) and, for gated cells, the gates' saturation (also
``OUT/units-saturation.png``). Characters outside the vocabulary are shown greyed.
``OUT/units.json`` holds the rankings and the feature set used (``feature_set``).

The features come in sets (``--features``), chosen by default by the run's corpus (``auto``):
``c`` for C (``linux``, ``.c``/``.h`` files): inside a comment, a string or a character literal,
brace depth, inside an ``if`` condition or body, preprocessor line; ``latex`` for LaTeX
(``latex``, ``.tex``): inside math, inside a comment, environment depth, brace depth; ``python``
(``python-stdlib``, ``.py``): inside a string or a comment, bracket depth, inside quotation
marks; ``prose`` (``shakespeare``): inside quotation marks, speaker line. Every set adds the
position in the line and the indentation (tabs as 8 columns in C). ``all``: the general features
of any text (the Python scan, lines and quotes), used when neither the corpus nor the text tells
its kind. A set is refused for a model whose corpus is known (by its name or its files'
suffixes) to be of another kind, or that never saw the characters the set is about (``$`` for
LaTeX).
"""

from __future__ import annotations

import time
from pathlib import Path

from rnnlab.commands.common import UsageError
from rnnlab.fileio import atomic_write_json


def add_text_flags(p) -> None:
    """The flags ``units``, ``visualize`` and ``serve`` share."""
    from rnnlab.interpret.feature_sets import CHOICES

    p.add_argument("run_dir", type=Path, metavar="OUT", help="run directory of a character model")
    p.add_argument(
        "--text", required=True, help="text to read (a file, or shakespeare / python-stdlib / linux / latex)"
    )
    p.add_argument("--chars", type=int, default=20_000, help="read at most this many characters of it")
    p.add_argument("--top", type=int, default=5, help="units listed per feature")
    p.add_argument(
        "--features",
        choices=CHOICES,
        default="auto",
        help="feature set: c, latex, python, prose, all, or auto (by the run's corpus; the default)",
    )


def check_text_flags(args) -> None:
    """Refuse a ``--chars`` or ``--top`` below 1."""
    for name in ("chars", "top"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name}: expected a positive integer, got {getattr(args, name)}")


def register(sub) -> None:
    p = sub.add_parser("visualize", help="an HTML page of the hidden units over a text", description=__doc__)
    add_text_flags(p)
    p.add_argument("--page", type=Path, default=None, help="where to write the page (default OUT/units.html)")
    p.add_argument("--lstmvis", type=Path, default=None, metavar="DIR", help="also export the states for LSTMVis")
    p.set_defaults(func=run)


def run(args) -> int:
    from rnnlab.commands.char_run import study_run
    from rnnlab.viz.page import study_page, write_page

    check_text_flags(args)
    page = args.page or args.run_dir / "units.html"
    if args.run_dir.is_dir() and not page.parent.is_dir():
        raise UsageError(f"--page: folder {page.parent} does not exist")
    if args.lstmvis is not None and args.lstmvis.exists() and not args.lstmvis.is_dir():
        raise UsageError(f"--lstmvis: {args.lstmvis} exists and is not a folder")
    started = time.monotonic()
    found = study_run(args.run_dir, args.text, args.chars, args.top, args.features)
    write_page(page, study_page(found, page.with_name(page.stem + "-saturation.png")))
    summary = found.summary()
    atomic_write_json(page.with_suffix(".json"), summary)
    if args.lstmvis is not None:
        from rnnlab.interpret.lstmvis import export

        files = export(found.acts, found.chars, args.lstmvis, name=args.run_dir.name)
        print("LSTMVis project: " + ", ".join(str(f) for f in files))
    print(
        f"wrote {page} ({page.stat().st_size / 1e6:.1f} MB) and {page.with_suffix('.json')}: "
        f"{summary['characters']:,} characters, {summary['units']} units, "
        f"{summary['outside_vocabulary']} outside the vocabulary; features {found.choice.name} "
        f"({found.choice.reason}); {time.monotonic() - started:.1f}s"
    )
    return 0
