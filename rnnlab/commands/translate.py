"""``rnnlab translate OUT "text" ...``: translate texts with a sequence-to-sequence run.

Texts come as arguments or from ``--file`` (one a line). Each output is printed on its own line in
the texts' order; with ``--nbest N`` the N best of the beam follow one another, each after its rank
and log-probability (``--json`` also gives the score the beam ranked by). ``--temperature`` above
0 samples instead (with ``--top-k`` / ``--top-p`` as ``rnnlab sample`` has). ``--attention
FILE.png`` draws the attention weights of each text's first output (the source along x, the
output along y).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from rnnlab.commands.common import UsageError, add_search_flags, check_search, path_arg, texts_of

#: most texts drawn in one attention figure
MAX_PANELS = 8


def register(sub) -> None:
    p = sub.add_parser(
        "translate", help="translate texts with a seq2seq run (rnnlab train --task seq2seq)", description=__doc__
    )
    p.add_argument("run_dir", type=path_arg, metavar="OUT", help="run directory of a seq2seq model")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="texts to translate")
    p.add_argument("--file", type=path_arg, default=None, help="also translate every non-empty line of this file")
    add_search_flags(p, "token", 5)
    p.add_argument("--attention", type=path_arg, default=None, metavar="PNG", help="draw the attention weights here")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    check_search(args)
    texts = texts_of(args, "text", "translate")
    from rnnlab.tasks.seq2seq import load_translator

    translator = load_translator(args.run_dir)
    if args.attention is not None and translator.model.config.attention == "none":
        raise UsageError("--attention: this run has no attention (it was trained with --attention none)")
    cut = translator.too_long(texts)
    if cut:
        print(f"note: {cut} text(s) longer than {translator.data.max_length} tokens were cut", file=sys.stderr)
    generator = torch.Generator()
    generator.manual_seed(args.seed) if args.seed is not None else generator.seed()
    found = translator.translate(
        texts,
        beam=args.beam,
        nbest=args.nbest,
        max_length=args.max_length or None,
        length_penalty=args.length_penalty,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        generator=generator,
    )
    if args.attention is not None:
        _draw(translator, texts, found, args.attention)
    if args.json:
        rows = [
            {
                "source": t,
                "translations": [
                    {"text": h.text, "score": h.score, "log_prob": h.log_prob, "tokens": h.pieces} for h in hyps
                ],
            }
            for t, hyps in zip(texts, found)
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for hyps in found:
        if args.nbest == 1:
            print(hyps[0].text)
        else:
            for k, h in enumerate(hyps, 1):
                print(f"{k}\t{h.log_prob:.3f}\t{h.text}")
    return 0


def _draw(translator, texts: list[str], found, path: Path) -> None:
    from rnnlab.viz.attention import plot_attention

    panels = []
    for text, hyps in list(zip(texts, found))[:MAX_PANELS]:
        h = hyps[0]
        source = translator.source.tokens(text)[: translator.data.max_length]
        panels.append((source, h.pieces, h.weights.numpy()))
    plot_attention(panels, path, f"{translator.data.data}: attention ({translator.model.config.attention})")
    if len(texts) > MAX_PANELS:
        print(f"note: the attention of the first {MAX_PANELS} texts was drawn", file=sys.stderr)
    print(f"wrote {path}", file=sys.stderr)
