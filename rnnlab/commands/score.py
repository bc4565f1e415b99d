"""``rnnlab score OUT "a sentence" ...``: log-probability and perplexity of sentences under a word model.

Sentences come as arguments or from ``--file`` (one a line). Each line of output gives the
natural log-probability (closing ``<eos>`` included), the perplexity, the number of tokens and
the sentence; ``--words`` adds every word's log-probability (``*`` marks a word outside the
vocabulary, read as ``<unk>``); ``--json`` prints the same as JSON.
"""

from __future__ import annotations

import json

from rnnlab.commands.common import UsageError, path_arg, texts_of
from rnnlab.data.words import WordVocab
from rnnlab.score import score_sentences
from rnnlab.tasks.lm import load_model


def register(sub) -> None:
    p = sub.add_parser("score", help="probability of sentences under a word language model", description=__doc__)
    p.add_argument("run_dir", type=path_arg, metavar="OUT", help="run directory of a word-level model")
    p.add_argument("texts", nargs="*", metavar="SENTENCE", help="sentences to score")
    p.add_argument("--file", type=path_arg, default=None, help="also score every non-empty line of this file")
    p.add_argument("--words", action="store_true", help="show every word's log-probability")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best", help="which weights to use")
    p.set_defaults(func=run)


def run(args) -> int:
    sentences = texts_of(args, "sentence", "score")
    model, vocab, *_ = load_model(args.run_dir, args.checkpoint)
    if not isinstance(vocab, WordVocab):
        raise UsageError(
            f"OUT: {args.run_dir} is a {vocab.unit}-level model; score reads word-level runs (--level word)"
        )
    scores = score_sentences(model, vocab, sentences)
    if args.json:
        print(json.dumps([s.to_json(args.words) for s in scores], indent=2))
        return 0
    for s in scores:
        print(f"{s.logprob:10.3f} nats  perplexity {s.perplexity:9.2f}  {len(s.tokens):3d} tokens  {s.text}")
        if args.words:
            for token, known, lp in zip(s.tokens, s.known, s.logprobs):
                print(f"    {lp:9.3f}  {token}{'' if known else ' *'}")
    return 0
