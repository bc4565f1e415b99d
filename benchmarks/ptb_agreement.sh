#!/usr/bin/env bash
# The agreement probe across cells: a tanh RNN, an LSTM and a GRU, each trained with the same
# recipe (benchmarks/ptb_zaremba_small.sh: 2 x 200 units, SGD lr 1, clipping at 5) for the same
# number of epochs (default 4, the epochs before the rate decays), then `rnnlab agree` on all three.
#     bash benchmarks/ptb_agreement.sh [EPOCHS] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-4}
out=${2:-runs/agreement}
for cell in rnn-tanh lstm gru; do
    bash benchmarks/ptb_zaremba_small.sh "runs/ptb-$cell-$epochs" "$cell" "$epochs"
done
.venv/bin/rnnlab agree "runs/ptb-rnn-tanh-$epochs" "runs/ptb-lstm-$epochs" "runs/ptb-gru-$epochs" --out "$out"
