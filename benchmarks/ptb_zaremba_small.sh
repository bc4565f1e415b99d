#!/usr/bin/env bash
# Zaremba, Sutskever & Vinyals 2014, "Recurrent neural network regularization", the "small"
# model on the Penn Treebank: 2 layers of 200 LSTM units, 20 steps, batch 20, weights uniform in
# [-0.1, 0.1], SGD lr 1 halved each epoch after the 4th, clipping at norm 5, no dropout, 13
# epochs, the loss summed over the 20 steps and averaged over the batch as in their code (the paper reports 120.7 validation and 114.5 test perplexity). Evaluates on the whole
# validation split every epoch; the test perplexity of the best weights goes to OUT/results.json.
#     bash benchmarks/ptb_zaremba_small.sh [OUT] [CELL] [EPOCHS] [LR]
# (A tanh RNN diverges at lr 1 and 0.5 under this recipe; it trains at 0.25 and below.)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/ptb-small}
cell=${2:-lstm}
epochs=${3:-13}
lr=${4:-1}
start=$(date +%s)
.venv/bin/rnnlab train --level word --data ptb --out "$out" --force --cell "$cell" \
    --num-layers 2 --hidden-size 200 --embedding-size 200 --init-range 0.1 --dropout 0 \
    --seq-len 20 --batch-size 20 --loss sum --optimizer sgd --lr "$lr" --schedule epoch --lr-decay 0.5 --decay-after 4 \
    --clip-norm 5 --max-epochs "$epochs" --time-budget '' --eval-every 2323 --eval-chars 0 --sample-chars 0 \
    | grep --line-buffered -E "^(lstm|gru|rnn|step [0-9]+:|done|test)"
echo "wall time: $(( ($(date +%s) - start) / 60 )) min"
cat "$out/results.json"
