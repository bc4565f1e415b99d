"""What data-parallel training pays per step to average the gradients: the all-reduce of DDP.

Run it under torchrun, as many processes as the run would have:

    .venv/bin/python -m torch.distributed.run --standalone --nproc-per-node 2 benchmarks/ddp_allreduce.py

Each process builds the default character model (LSTM 1x256, Shakespeare's vocabulary) and times,
with its gradients filled, (a) ``dist.all_reduce`` of one flat tensor as large as all of them and
(b) a whole DDP backward against the same backward without synchronisation (``no_sync``), medians
of ``--repeats`` rounds. Rank 0 prints the sizes and times.
"""

import argparse
import statistics
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from rnnlab.models.language_model import LanguageModel, ModelConfig


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        dist.barrier()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--repeats", type=int, default=50)
    args = p.parse_args()
    dist.init_process_group("gloo")
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=args.vocab, hidden_size=args.hidden))
    count = sum(p.numel() for p in model.parameters())
    flat = torch.randn(count)
    reduce_ms = median_ms(lambda: dist.all_reduce(flat), args.repeats)

    replica = DistributedDataParallel(model)
    x = torch.randint(args.vocab, (64, 16))

    def backward():
        logits, _ = replica(x)
        logits.float().pow(2).mean().backward()

    def backward_alone():
        with replica.no_sync():
            backward()

    synced = median_ms(backward, args.repeats)
    alone = median_ms(backward_alone, args.repeats)
    if dist.get_rank() == 0:
        print(f"processes {dist.get_world_size()}, parameters {count:,} ({4 * count / 1e6:.2f} MB of gradients)")
        print(f"all_reduce of the gradients: {reduce_ms:.2f} ms")
        print(f"forward+backward of 64 x 16 per process: {alone:.2f} ms alone, {synced:.2f} ms with DDP")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
