#!/usr/bin/env bash
# Dates in 8 languages and many formats to ISO 8601 (the named set dates: 20,000 / 1,000 / 1,000
# pairs, characters): a bidirectional LSTM of 128 + 128 units, additive attention, an LSTM decoder
# of 128, embeddings of 32, until validation exact match reaches 99.8% (at most 10 minutes). Prints
# the test exact match with a beam of 5 and the time taken, then draws the attention of a few
# dates (source along x, output along y) into OUT/attention.png.
#     bash benchmarks/seq2seq_dates.sh [OUT] [EXTRA FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/dates}
shift || true
start=$(date +%s)
.venv/bin/rnnlab train --task seq2seq --data dates --out "$out" --force --hidden-size 128 --embedding-size 32 \
    --time-budget 10m --target 0.998 --stop-at-target "$@" | grep --line-buffered -v "^step"
echo "wall time: $(( $(date +%s) - start )) s"
.venv/bin/rnnlab translate "$out" "le 3 mars 1998" "Tuesday, March 3, 1998" "3/3/98" "14. Oktober 2042" \
    "el 3 de noviembre de 2030" --attention "$out/attention.png"
