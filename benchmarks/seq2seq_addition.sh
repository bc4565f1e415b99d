#!/usr/bin/env bash
# Keras's addition example ("535+61" -> "596", numbers of 1 to 3 digits; 45,000 / 5,000 / 5,000
# distinct questions): as there, one LSTM of 128 reads the reversed question and hands its final
# state to an LSTM decoder of 128 (no attention), characters in, characters out. Trains until the
# validation exact match reaches 99.5% (at most 10 minutes) and prints the test exact match and
# the time it took. Keras reports 99% exact on 3 digits with one LSTM layer of 128.
#     bash benchmarks/seq2seq_addition.sh [OUT] [EXTRA FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/addition}
shift || true
start=$(date +%s)
.venv/bin/rnnlab train --task seq2seq --data addition --out "$out" --force --attention none --bidirectional false \
    --hidden-size 128 --embedding-size 16 --reverse-source --time-budget 10m --epochs 200 --target 0.995 \
    --stop-at-target "$@" | grep --line-buffered -v "^step"
echo "wall time: $(( $(date +%s) - start )) s"
