"""``rnnlab visualize OUT --text FILE``: a self-contained page of a character model's hidden units.

The page (one HTML file, works offline) shows the text with every character coloured by the
chosen unit's value after reading it (each layer's ``h``, and ``c`` for LSTM), a layer and unit
picker, the model's top-5 next characters on hover, and the units that best track each text
feature (click one to show it). Characters outside the vocabulary are shown greyed.
"""

from __future__ import annotations

import time
from pathlib import Path

from rnnlab.commands.common import UsageError
from rnnlab.data.corpora import load_corpus
from rnnlab.fileio import atomic_write_json
from rnnlab.train.checkpoint import load_model


def register(sub) -> None:
    p = sub.add_parser("visualize", help="an HTML page of the hidden units over a text", description=__doc__)
    p.add_argument("run_dir", type=Path, metavar="OUT", help="run directory of a character model")
    p.add_argument("--text", required=True, help="text to read (a file, or shakespeare / python-stdlib)")
    p.add_argument("--chars", type=int, default=20_000, help="read at most this many characters of it")
    p.add_argument("--top", type=int, default=5, help="units listed per feature")
    p.add_argument("--page", type=Path, default=None, help="where to write the page (default OUT/units.html)")
    p.set_defaults(func=run)


def run(args) -> int:
    from rnnlab.interpret.activations import collect
    from rnnlab.interpret.features import all_features
    from rnnlab.interpret.ranking import rank_units
    from rnnlab.viz.page import page_data, write_page

    for name in ("chars", "top"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name}: expected a positive integer, got {getattr(args, name)}")
    if not args.run_dir.is_dir():
        raise UsageError(f"OUT: {args.run_dir} is not a run directory")
    page = args.page or args.run_dir / "units.html"
    if not page.parent.is_dir():
        raise UsageError(f"--page: folder {page.parent} does not exist")
    model, vocab, _, _, _ = load_model(args.run_dir)
    try:
        text = load_corpus(args.text)[: args.chars]
    except ValueError as e:
        raise UsageError(f"--text: {str(e).removeprefix('data: ')}") from e
    started = time.monotonic()
    acts = collect(model, vocab, text)
    matrix, names = acts.matrix()
    ranking = rank_units(matrix, all_features(text), names, args.top)
    write_page(page, page_data(acts, ranking, vocab.chars))
    atomic_write_json(page.with_suffix(".json"), {"characters": len(text), "units": len(names), "features": ranking})
    print(
        f"wrote {page} ({page.stat().st_size / 1e6:.1f} MB) and {page.with_suffix('.json')}: {len(text):,} characters, "
        f"{len(names)} units, {int((~acts.known).sum())} outside the vocabulary; {time.monotonic() - started:.1f}s"
    )
    return 0
