"""Speed of the tree cells: level-batched against node by node, and seconds per epoch on parsed sentences.

1. Nodes per second (forward and backward) of each tree cell over batches of 32 ListOps trees, run
   level by level (:func:`rnnlab.trees.run_levels`, one matrix product per level) and node by node
   (:func:`rnnlab.trees.run_nodes`, the recursion the tests hold it to), in the same process, and
   their ratio. The binary cells read the trees binarized (Nangia & Bowman's chains).
2. Seconds per training epoch (forward, backward, the trainer's Adam step; no evaluation) of a Child-Sum
   Tree-LSTM with hidden size 150 and 300-wide embeddings over 8,500 dependency parses of tweets (a
   seeded sample),
   batches of 25, to set beside DyNet's published 18.47 s an epoch on one CPU core for the
   Stanford Sentiment Treebank's 8,544 training sentences (Neubig, Goldberg & Dyer 2017, hidden 150).
   The node count is printed: an epoch's work is in proportion to it.

    .venv/bin/python benchmarks/tree_speed.py [--threads 1] [--batches 8] [--sentences 8500]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from rnnlab.data.listops import make_listops
from rnnlab.data.tokens import Labels, TokenVocab
from rnnlab.data.trees import binarize
from rnnlab.models.tree import TreeClassifier, TreeModelConfig
from rnnlab.tasks.tree import TreeEncoder
from rnnlab.train.optim import make_optimizer
from rnnlab.train.options import OptimConfig
from rnnlab.trees import TREE_CELLS, TreeBatch, run_levels, run_nodes


def nodes_per_second(cell, batches: list[TreeBatch], run, embed: int) -> float:
    nodes, seconds = 0, 0.0
    for batch in batches:
        x = torch.randn(batch.num_nodes, embed, requires_grad=True)
        tick = time.perf_counter()
        h = run(cell, x, batch)[0]
        h[batch.roots].sum().backward()
        seconds += time.perf_counter() - tick
        nodes += batch.num_nodes
    return nodes / seconds


def levels_against_nodes(n_batches: int, size: int) -> None:
    trees = make_listops(seed=1, sizes={"train": 32 * n_batches})["train"]
    print(f"1. ListOps, batches of 32 trees, embeddings and hidden size {size}: nodes/s, forward and backward")
    for name, factory in TREE_CELLS.items():
        cell = factory(size, size)
        shaped = trees if cell.max_children is None else [binarize(t)[0] for t in trees]
        batches = [TreeBatch.of(shaped[k : k + 32]) for k in range(0, len(shaped), 32)]
        nodes_per_second(cell, batches[:1], run_levels, size)  # warm up
        fast = nodes_per_second(cell, batches, run_levels, size)
        slow = nodes_per_second(cell, batches[: max(1, n_batches // 4)], run_nodes, size)
        mean = statistics.mean(b.num_nodes for b in batches)
        print(
            f"  {name:<17} levels {fast:>9,.0f}  node by node {slow:>7,.0f}  ratio {fast / slow:5.1f}x"
            f"  ({mean:.0f} nodes and {statistics.mean(len(b.levels) for b in batches):.1f} levels a batch)"
        )


def epoch_seconds(sentences: int, batch_size: int) -> None:
    from rnnlab.data.parsed import load_parsed

    examples = load_parsed("tweets")
    examples = random.Random(0).sample(examples, min(sentences, len(examples)))  # the file is sorted by label
    vocab = TokenVocab.build([t.lower() for t in e.tokens] for e in examples)
    labels = Labels.build(e.label for e in examples)
    encoder = TreeEncoder(vocab, labels, lowercase=True)
    encoded = [encoder.encode(e) for e in examples]
    cfg = TreeModelConfig(len(vocab), len(labels), "tree-lstm", hidden_size=150, embedding_size=300)
    model = TreeClassifier(cfg)
    optimizer = make_optimizer(model, OptimConfig(optimizer="adam", lr=1e-3))  # the trainer's (fused) Adam
    order = list(range(len(encoded)))
    random.Random(0).shuffle(order)
    nodes = sum(len(e.node_ids) for e in encoded)
    stepping = 0.0
    tick = time.perf_counter()
    for k in range(0, len(order), batch_size):
        batch = [encoded[i] for i in order[k : k + batch_size]]
        loss = torch.nn.functional.cross_entropy(model(encoder.inputs(batch)), torch.tensor([e.label for e in batch]))
        optimizer.zero_grad()
        loss.backward()
        before = time.perf_counter()
        optimizer.step()
        stepping += time.perf_counter() - before
    seconds = time.perf_counter() - tick
    print(
        f"2. Child-Sum Tree-LSTM (hidden 150, embeddings 300), {len(encoded):,} parsed tweets ({nodes:,} nodes), "
        f"batches of {batch_size}, {len(vocab):,} words: {seconds:.2f} s an epoch ({nodes / seconds:,.0f} nodes/s), "
        f"of which {stepping:.2f} s in Adam's steps; DyNet, SST's 8,544 sentences: 18.47 s"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batches", type=int, default=8, help="batches of 32 ListOps trees for part 1")
    p.add_argument("--size", type=int, default=128, help="embedding and hidden size of part 1")
    p.add_argument("--sentences", type=int, default=8500)
    p.add_argument("--batch-size", type=int, default=25)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} thread(s)")
    levels_against_nodes(args.batches, args.size)
    epoch_seconds(args.sentences, args.batch_size)


if __name__ == "__main__":
    main()
