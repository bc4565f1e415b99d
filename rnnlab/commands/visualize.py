"""``rnnlab visualize OUT --text FILE``: a self-contained page of a character model's hidden units.

The page (one HTML file, works offline) shows the text with every character coloured by the
chosen unit's value after reading it (each layer's ``h``, and ``c`` for LSTM), a layer and unit
picker, the model's top-5 next characters on hover, the units that best track each text feature
(click one to show it) and, for gated cells, the gates' saturation (also ``OUT/units-saturation.png``).
Characters outside the vocabulary are shown greyed. ``OUT/units.json`` holds the rankings.
"""

from __future__ import annotations

import base64
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
    from rnnlab.interpret.saturation import gate_saturation, plot_saturation
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
    saturation = gate_saturation(acts.states)
    figure = page.with_name(page.stem + "-saturation.png")
    data = page_data(acts, ranking, vocab.chars)
    if saturation:
        plot_saturation(saturation, figure)
        data["saturation_png"] = base64.b64encode(figure.read_bytes()).decode("ascii")
    write_page(page, data)
    summary = {"characters": len(text), "units": len(names), "features": ranking, "gate_saturation": saturation}
    atomic_write_json(page.with_suffix(".json"), summary)
    print(
        f"wrote {page} ({page.stat().st_size / 1e6:.1f} MB) and {page.with_suffix('.json')}: {len(text):,} characters, "
        f"{len(names)} units, {int((~acts.known).sum())} outside the vocabulary; {time.monotonic() - started:.1f}s"
    )
    return 0
