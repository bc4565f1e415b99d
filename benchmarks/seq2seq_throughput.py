"""Training throughput of `rnnlab.models.seq2seq.Seq2Seq` against a bare PyTorch model of the same maths.

Both sides train the same architecture on the same random batches (padded sources and targets
of random lengths), with Adam and clipping at norm 5, in one process, in alternating rounds:
embedding -> bidirectional `torch.nn.LSTM` encoder over the packed source -> Linear+tanh bridge
of the final (h, c) -> `torch.nn.LSTM` decoder over the whole target -> additive or general
attention -> tanh(W_c [c; h]) -> readout, cross-entropy over the non-pad target tokens.

    .venv/bin/python benchmarks/seq2seq_throughput.py [--attention general] [--steps 30]
"""

import argparse
import time

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.data.symbols import BOS, EOS, PAD
from rnnlab.models.seq2seq import Seq2Seq, Seq2SeqConfig


class Bare(nn.Module):
    """The reference: the same computation written directly with torch.nn."""

    def __init__(self, c: Seq2SeqConfig) -> None:
        super().__init__()
        E, H = c.embedding_size, c.hidden_size
        self.attention = c.attention
        self.src_embed, self.tgt_embed = nn.Embedding(c.source_vocab, E), nn.Embedding(c.target_vocab, E)
        self.encoder = nn.LSTM(E, H, bidirectional=True)
        self.bridge_h, self.bridge_c = nn.Linear(2 * H, H), nn.Linear(2 * H, H)
        self.decoder = nn.LSTM(E, H)
        if c.attention == "additive":
            self.w_q, self.w_k, self.v = nn.Linear(H, H), nn.Linear(2 * H, H, bias=False), nn.Linear(H, 1, bias=False)
        else:
            self.w = nn.Linear(2 * H, H, bias=False)
        self.combine = nn.Linear(3 * H, H, bias=False)
        self.readout = nn.Linear(H, c.target_vocab)
        self.drop = nn.Dropout(c.dropout)

    def forward(self, src: Tensor, lengths: Tensor, tgt_in: Tensor) -> Tensor:
        packed = pack_padded_sequence(self.drop(self.src_embed(src)), lengths, enforce_sorted=False)
        out, (h, c) = self.encoder(packed)
        memory = pad_packed_sequence(out, total_length=src.shape[0])[0].transpose(0, 1)  # (B, S, 2H)
        h = torch.tanh(self.bridge_h(torch.cat([h[0], h[1]], -1))).unsqueeze(0)  # (1, B, H)
        c = torch.tanh(self.bridge_c(torch.cat([c[0], c[1]], -1))).unsqueeze(0)
        dec, _ = self.decoder(self.drop(self.tgt_embed(tgt_in)), (h, c))  # (T, B, H)
        q = dec.transpose(0, 1)  # (B, T, H)
        if self.attention == "additive":
            scores = self.v(torch.tanh(self.w_q(q).unsqueeze(2) + self.w_k(memory).unsqueeze(1))).squeeze(-1)
        else:
            scores = torch.bmm(q, self.w(memory).transpose(1, 2))  # (B, T, S)
        valid = torch.arange(src.shape[0]).unsqueeze(0) < lengths.unsqueeze(1)  # (B, S)
        weights = torch.softmax(scores.masked_fill(~valid.unsqueeze(1), float("-inf")), -1)
        context = torch.bmm(weights, memory).transpose(0, 1)  # (T, B, 2H)
        return self.readout(self.drop(torch.tanh(self.combine(torch.cat([context, dec], -1)))))


def batches(c: Seq2SeqConfig, count: int, B: int, longest: int, seed: int) -> list[tuple[Tensor, ...]]:
    """Random (src, lengths, tgt_in, tgt_out) with lengths uniform in [longest / 2, longest]."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        ls = torch.randint(longest // 2, longest + 1, (B,), generator=g)
        lt = torch.randint(longest // 2, longest + 1, (B,), generator=g)
        src = torch.randint(4, c.source_vocab, (longest, B), generator=g)
        src[torch.arange(longest).unsqueeze(1) >= ls] = PAD
        tgt = torch.randint(4, c.target_vocab, (longest + 2, B), generator=g)
        steps = torch.arange(longest + 2).unsqueeze(1)
        tgt[0] = BOS
        tgt[steps == lt + 1] = EOS
        tgt[steps > lt + 1] = PAD
        out.append((src, ls, tgt[:-1], tgt[1:]))
    return out


def train(model: nn.Module, data: list[tuple[Tensor, ...]], rnnlab: bool) -> float:
    """Target tokens (EOS included) per second of training steps over ``data``."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    tokens = 0
    start = time.perf_counter()
    for src, lengths, tgt_in, tgt_out in data:
        logits = model(src, lengths, tgt_in)[0] if rnnlab else model(src, lengths, tgt_in)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        loss.item()
        tokens += int((tgt_out != PAD).sum())
    return tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attention", choices=["additive", "general"], default="additive")
    parser.add_argument("--steps", type=int, default=30, help="training steps per round and side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=30, help="longest source and target")
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--embedding", type=int, default=128)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    c = Seq2SeqConfig(
        source_vocab=args.vocab, target_vocab=args.vocab, embedding_size=args.embedding, hidden_size=args.hidden,
        attention=args.attention, dropout=0.2,
    )  # fmt: skip
    data = batches(c, args.steps, args.batch, args.length, seed=0)
    warm = batches(c, 3, args.batch, args.length, seed=1)
    ours, bare = [], []
    for _ in range(args.rounds):
        torch.manual_seed(0)
        model, reference = Seq2Seq(c), Bare(c)
        train(model, warm, True)
        train(reference, warm, False)
        bare.append(train(reference, data, False))
        ours.append(train(model, data, True))
    print(f"seq2seq: LSTM 1x{c.hidden_size} bidirectional encoder, {c.attention} attention, vocab {args.vocab}, "
          f"batch {args.batch} x <= {args.length}, {args.steps} steps x {args.rounds} rounds, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    for name, values in (("bare PyTorch", bare), ("rnnlab      ", ours)):
        rounds = ", ".join(f"{v / 1000:.2f}k" for v in values)
        print(f"{name}: {max(values) / 1000:6.2f}k target tokens/s  (rounds: {rounds})")
    print(f"ratio rnnlab / bare: {max(ours) / max(bare):.3f}")


if __name__ == "__main__":
    main()
