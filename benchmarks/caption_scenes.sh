#!/usr/bin/env bash
# Show and Tell against Show, Attend and Tell on digit-scenes (20,000 training scenes of 2 to 4 MNIST
# digits, captioned by a grammar), same sizes and CPU budget: the default captioner (a 4-stage conv
# encoder of 32-64-64-128 channels, an LSTM decoder of 256 units, embeddings of 128) trained for
# 25 minutes each on one thread, side by side, once with --attention none (the mean of the grid as
# the decoder's initial state) and once with --attention soft (attention over the 8x8 grid at every
# word). Prints each run's test and held-out scores with a beam of 3 (exact match, true captions,
# scenes whose digits are all named), then draws where the soft model looked into
# docs/caption-attention-scenes.png.
#     bash benchmarks/caption_scenes.sh [OUT_PREFIX] [EXTRA FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-runs/scenes}
shift || true
for attention in none soft; do
    .venv/bin/rnnlab train --task caption --data digit-scenes --attention "$attention" --out "$prefix-$attention" \
        --force --time-budget 25m --threads 1 --eval-every 150 --patience 0 "$@" > "$prefix-$attention.log" 2>&1 &
done
wait
for attention in none soft; do
    echo "== --attention $attention"
    grep -v "^step\|^  \|^config" "$prefix-$attention.log"
done
.venv/bin/python benchmarks/caption_figures.py scenes "$prefix-soft" docs/caption-attention-scenes.png
