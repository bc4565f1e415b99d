#!/usr/bin/env bash
# Sentence polarity (Pang & Lee's 4,000 movie-review sentences; 3,200 / 400 / 400 split, seeded and
# stratified): a bidirectional LSTM of 128 + 128 units read by its last state, its mean or its
# maximum over time, each next to the TF-IDF + logistic regression baseline on the same split.
# Prints one table line per pooling: test accuracy and macro-F1 of the RNN and of the baseline.
#     bash benchmarks/pang_lee.sh [OUT_PREFIX] [EXTRA FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-runs/pang-lee}
shift || true
rows=()
for pooling in last mean max; do
    out="$prefix-$pooling"
    .venv/bin/rnnlab train --task classify --data pang-lee --out "$out" --force --pooling "$pooling" "$@" \
        | grep --line-buffered -E "^(classify|epoch|test|  |best)"
    rows+=("$(.venv/bin/python -c "
import json, sys
r = json.load(open('$out/results.json'))
t, b = r['test'], r['baseline']['test']
print(f\"{'$pooling':<6} {t['accuracy']:.4f}  {t['macro_f1']:.4f}   {b['accuracy']:.4f}  {b['macro_f1']:.4f}   {r['epoch_s']:.0f}\")
")")
done
echo "pooling  rnn acc  rnn F1   tfidf acc  tfidf F1   s/epoch"
printf '%s\n' "${rows[@]}"
