"""``rnnlab visualize OUT --text FILE``: a self-contained page of a character model's hidden units.

The page (one HTML file, works offline) shows the text with every character coloured by the
chosen unit's value after reading it (each layer's ``h``, for LSTM also ``c``, and every gate),
a layer and unit picker, the model's top-5 next characters on hover, the units that best track
each text feature (click one to show it) and, for gated cells, the gates' saturation (also
``OUT/units-saturation.png``). Characters outside the vocabulary are shown greyed.
``OUT/units.json`` holds the rankings and the feature set used (``feature_set``).
"""

from __future__ import annotations

import time

from rnnlab.commands.common import UsageError, path_arg, writable_file
from rnnlab.commands.text_flags import add_text_flags, check_text_flags, described
from rnnlab.fileio import atomic_write_json


def register(sub) -> None:
    p = sub.add_parser("visualize", help="an HTML page of the hidden units over a text", description=described(__doc__))
    add_text_flags(p)
    p.add_argument("--page", type=path_arg, default=None, help="where to write the page (default OUT/units.html)")
    p.add_argument("--lstmvis", type=path_arg, default=None, metavar="DIR", help="also export the states for LSTMVis")
    p.set_defaults(func=run)


def run(args) -> int:
    from rnnlab.commands.char_run import study_run
    from rnnlab.viz.page import study_page, write_page

    check_text_flags(args)
    page = args.page or args.run_dir / "units.html"
    saturation = page.with_name(page.stem + "-saturation.png")
    if args.run_dir.is_dir():  # else the run's own check names it
        writable_file("--page", page, "", saturation, page.with_suffix(".json"))
    if args.lstmvis is not None and args.lstmvis.exists() and not args.lstmvis.is_dir():
        raise UsageError(f"--lstmvis: {args.lstmvis} exists and is not a folder")
    started = time.monotonic()
    found = study_run(args.run_dir, args.text, args.chars, args.top, args.features)
    write_page(page, study_page(found, saturation))
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
