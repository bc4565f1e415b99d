#!/usr/bin/env bash
# The agreement probe for a tanh RNN and an LSTM trained alike: Zaremba's small recipe
# (benchmarks/ptb_zaremba_small.sh: 2 x 200, SGD halved each epoch after the 4th, clip 5, 13
# epochs) at lr 0.25, the largest the tanh RNN survives, for both cells, and the LSTM at its own
# lr 1; then rnnlab agree with 1,000 pairs per distance. About 2.5 hours on the 2-core machine.
#     bash benchmarks/ptb_agreement_alike.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/agreement-13ep}
bash benchmarks/ptb_zaremba_small.sh runs/ptb-small lstm 13 1
bash benchmarks/ptb_zaremba_small.sh runs/ptb-lstm-lr0.25 lstm 13 0.25
bash benchmarks/ptb_zaremba_small.sh runs/ptb-rnn-tanh-lr0.25 rnn-tanh 13 0.25
.venv/bin/rnnlab agree runs/ptb-small runs/ptb-lstm-lr0.25 runs/ptb-rnn-tanh-lr0.25 --pairs 1000 --out "$out"
