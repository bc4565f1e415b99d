"""Greedy and beam decoding of an encoder–decoder: the compiled decoder step against ``model.step``.

One process, one model (random weights: every output runs to ``--length`` tokens, so both sides
do the same number of steps), one batch of sources of random lengths; the two step paths take
turns for ``--rounds`` rounds and each round's process CPU time is kept (run with
``OMP_NUM_THREADS=1`` for figures that the machine's other load moves least). Prints the median
output tokens per CPU second of each and their ratio, after checking that both decoded the same
tokens.

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python benchmarks/decode_throughput.py [--cell gru] [--vocab 100]
"""

import argparse
import statistics
import time

import torch

from rnnlab import decode
from rnnlab.data.symbols import PAD
from rnnlab.models import decoder_step
from rnnlab.models.captioner import CaptionConfig, Captioner
from rnnlab.models.seq2seq import Seq2Seq, Seq2SeqConfig


def inputs(args, model, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Sources ``(S, B)`` of lengths in ``[S / 2, S]`` and their lengths, or images."""
    B, S = args.batch, args.source
    if args.model == "caption":
        return torch.rand(B, 3, args.image, args.image, generator=g), None
    lengths = torch.randint(S // 2, S + 1, (B,), generator=g)
    src = torch.randint(4, args.vocab, (S, B), generator=g)
    src[torch.arange(S).unsqueeze(1) >= lengths] = PAD
    return src, lengths


def build(args):
    torch.manual_seed(0)
    common = dict(embedding_size=args.embedding, hidden_size=args.hidden, num_layers=args.layers,
                  input_feeding=args.input_feeding, dropout=0.2)  # fmt: skip
    if args.model == "caption":
        model = Captioner(CaptionConfig(vocab_size=args.vocab, cell=args.cell, attention="soft", **common))
    else:
        model = Seq2Seq(Seq2SeqConfig(source_vocab=args.vocab, target_vocab=args.vocab, cell=args.cell, **common))
    return model.eval()


def run(args, model, src, lengths, how: str) -> tuple[float, list]:
    """CPU seconds of one search and its token lists."""
    start = time.process_time()
    if how == "greedy":
        found = [[h] for h in decode.greedy(model, src, lengths, max_length=args.length)]
    else:
        found = decode.beam_search(model, src, lengths, beam=args.beam, max_length=args.length)
    return time.process_time() - start, [[h.tokens for h in hyps] for hyps in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["seq2seq", "caption"], default="seq2seq")
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--embedding", type=int, default=128)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--input-feeding", action="store_true")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--source", type=int, default=30, help="longest source")
    parser.add_argument("--image", type=int, default=64, help="image side (caption)")
    parser.add_argument("--length", type=int, default=40, help="output tokens (max_length)")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    model = build(args)
    src, lengths = inputs(args, model, torch.Generator().manual_seed(1))
    print(f"{args.model}: {args.cell} {args.layers}x{args.hidden}, vocab {args.vocab}, batch {args.batch}, "
          f"{args.length} tokens, beam {args.beam}, input feeding {args.input_feeding}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    for how in ("greedy", "beam"):
        seconds: dict[bool, list[float]] = {True: [], False: []}
        tokens = {}
        for _ in range(args.rounds + 1):  # the first round warms up
            for compiled in (True, False):
                decoder_step.enabled = compiled
                s, tokens[compiled] = run(args, model, src, lengths, how)
                seconds[compiled].append(s)
        decoder_step.enabled = True
        if tokens[True] != tokens[False]:
            raise SystemExit(f"{how}: the two step paths decoded different tokens")
        count = sum(len(hyps[0]) + 1 for hyps in tokens[True])  # EOS included
        rate = {k: count / statistics.median(v[1:]) for k, v in seconds.items()}
        print(f"{how:6s}: model.step {rate[False]:8.0f} tokens/s, compiled step {rate[True]:8.0f} tokens/s, "
              f"ratio {rate[True] / rate[False]:.2f}  ({count} tokens, same tokens)")  # fmt: skip


if __name__ == "__main__":
    main()
