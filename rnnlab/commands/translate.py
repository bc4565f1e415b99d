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

from rnnlab.commands.common import UsageError, texts_of
from rnnlab.generate import check_sampling

#: most texts drawn in one attention figure
MAX_PANELS = 8


def register(sub) -> None:
    p = sub.add_parser(
        "translate", help="translate texts with a seq2seq run (rnnlab train --task seq2seq)", description=__doc__
    )
    p.add_argument("run_dir", type=Path, metavar="OUT", help="run directory of a seq2seq model")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="texts to translate")
    p.add_argument("--file", type=Path, default=None, help="also translate every non-empty line of this file")
    p.add_argument("--beam", type=int, default=None, help="beam width (default 5; 1 = greedy)")
    p.add_argument("--nbest", type=int, default=1, help="outputs a text (the best of the beam first)")
    p.add_argument("--length-penalty", type=float, default=1.0, help="beam scores over length**this (0 = none)")
    p.add_argument("--max-length", type=int, default=0, help="most output tokens (0 = the run's --max-length)")
    p.add_argument("--temperature", type=float, default=0.0, help="above 0: sample at this temperature")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest tokens (0 = off)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (1 = off)")
    p.add_argument("--seed", type=int, default=None, help="seed of the samples")
    p.add_argument("--attention", type=Path, default=None, metavar="PNG", help="draw the attention weights here")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _check(args) -> None:
    check_sampling(args.temperature, args.top_k, args.top_p, args.max_length, args.seed)
    sampling = args.temperature > 0
    if sampling and (args.beam not in (None, 1) or args.nbest > 1):
        raise UsageError("--temperature: sampling draws one output a text; leave out --beam and --nbest")
    args.beam = args.beam if args.beam is not None else 1 if sampling else 5
    for name in ("beam", "nbest"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name}: expected an integer >= 1, got {getattr(args, name)}")
    if args.nbest > args.beam:
        raise UsageError(f"--nbest {args.nbest}: at most the beam width (--beam {args.beam})")
    if not sampling:
        for name, off in (("top_k", 0), ("top_p", 1.0)):
            if getattr(args, name) != off:
                raise UsageError(f"--{name.replace('_', '-')}: shapes sampling only; give --temperature above 0")
    if args.attention is not None:
        if args.attention.suffix.lower() != ".png":
            raise UsageError(f"--attention: {args.attention} must end in .png")
        if not args.attention.parent.is_dir():
            raise UsageError(f"--attention: {args.attention.parent} is not an existing folder")
        if args.attention.is_dir():
            raise UsageError(f"--attention: {args.attention} is a folder")


def run(args) -> int:
    _check(args)
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
