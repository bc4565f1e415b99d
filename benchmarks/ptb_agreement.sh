#!/usr/bin/env bash
# The agreement probe across cells: a tanh RNN, an LSTM and a GRU of 2 x 200 units trained alike
# on the Penn Treebank (Adam lr 0.002 with a cosine decay, clipping at norm 5, 35 steps, batch 20,
# EPOCHS epochs, default 2), then `rnnlab agree` on all three. (Zaremba's SGD at lr 1 throws the
# tanh RNN off: perplexity in the millions after one epoch.)
#     bash benchmarks/ptb_agreement.sh [EPOCHS] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-2}
out=${2:-runs/agreement}
runs=()
for cell in rnn-tanh lstm gru; do
    run="runs/ptb-$cell-probe"
    .venv/bin/rnnlab train --level word --data ptb --out "$run" --force --cell "$cell" \
        --num-layers 2 --hidden-size 200 --embedding-size 200 --seq-len 35 --batch-size 20 \
        --optimizer adam --lr 0.002 --schedule cosine --clip-norm 5 --max-epochs "$epochs" --time-budget '' \
        --eval-every 1000 --sample-chars 0 | grep --line-buffered -E "^(step [0-9]+:|done|test)"
    runs+=("$run")
done
.venv/bin/rnnlab agree "${runs[@]}" --out "$out"
