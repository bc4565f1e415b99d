"""Quick start: an LSTM learns to echo its input three steps later.

The model reads a stream of random symbols and must output, at step t, the symbol it saw at
t - 3; it needs its memory to do so. The loss starts near ln(8) ~ 2.08 nats and falls near zero.
"""

import torch
from torch import nn

import rnnlab

SYMBOLS, DELAY, T, BATCH = 8, 3, 40, 32


def batch(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    seq = torch.randint(0, SYMBOLS, (T + DELAY, BATCH), generator=generator)  # (T+D, B)
    return seq[DELAY:], seq[:-DELAY]  # inputs (T, B), targets (T, B)


def main() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    embed = nn.Embedding(SYMBOLS, 16)
    rnn = rnnlab.Recurrent("lstm", 16, 64)
    readout = nn.Linear(64, SYMBOLS)
    params = [*embed.parameters(), *rnn.parameters(), *readout.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2)
    for step in range(1, 301):
        x, y = batch(gen)
        out, _ = rnn(embed(x))  # (T, B, 64)
        logits = readout(out[DELAY:])  # the first DELAY targets are unknowable
        loss = nn.functional.cross_entropy(logits.reshape(-1, SYMBOLS), y[DELAY:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        if step % 30 == 0 or step == 1:
            print(f"step {step:4d}  loss {loss.item():.4f} nats")


if __name__ == "__main__":
    main()
