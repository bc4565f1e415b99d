"""``rnnlab sample OUT``: stream text from a trained model."""

from __future__ import annotations

import sys

import torch

from rnnlab.commands.common import path_arg
from rnnlab.generate import check_sampling, generate
from rnnlab.tasks.lm import load_model


def register(sub) -> None:
    p = sub.add_parser("sample", help="write text with a trained model")
    p.add_argument("run_dir", type=path_arg, metavar="OUT", help="run directory")
    p.add_argument("--prime", default="", help="text to start from (printed first)")
    p.add_argument("--length", type=int, default=1000, help="tokens to generate (characters, or words of a word model)")
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy; lower = safer")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest tokens (0 = off)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (1 = off)")
    p.add_argument("--seed", type=int, default=None, help="seed for a reproducible sample")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best", help="which weights to use")
    p.set_defaults(func=run)


def run(args) -> int:
    check_sampling(args.temperature, args.top_k, args.top_p, args.length, args.seed)
    model, vocab, *_ = load_model(args.run_dir, args.checkpoint)
    missing = vocab.missing(args.prime)
    if missing:
        shown = " ".join(repr(c) for c in missing)
        raise ValueError(f"--prime: character(s) outside the model's vocabulary: {shown}")
    unknown = vocab.unknown(vocab.tokens(args.prime)) if vocab.unit == "word" else []
    if unknown:
        print(f"note: read as <unk>: {' '.join(unknown[:20])}", file=sys.stderr)
    gen = torch.Generator()
    gen.manual_seed(args.seed) if args.seed is not None else gen.seed()
    out = sys.stdout
    out.write(vocab.echo(args.prime))
    for ch in generate(model, vocab, args.prime, args.length, args.temperature, args.top_k, args.top_p, gen):
        out.write(ch)
        out.flush()  # stream: each character appears as soon as it is chosen
    out.write("\n")
    out.flush()
    return 0
