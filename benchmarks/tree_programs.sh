#!/usr/bin/env bash
# A function's arity from its body (python-ast: the standard library's functions, split by file):
# a Child-Sum Tree-LSTM over the syntax tree of the body against a BiLSTM reading the same tree
# written out in brackets, embeddings of 128 and 128 units, 10 minutes each on one thread, side by
# side. Prints each run's test accuracy and macro-F1 next to the TF-IDF + logistic regression baseline.
#     bash benchmarks/tree_programs.sh [OUT_PREFIX] [EXTRA FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-runs/arity}
shift || true
for cell in lstm tree-lstm; do
    .venv/bin/rnnlab train --task tree --data python-ast --cell "$cell" --min-freq 2 --out "$prefix-$cell" \
        --force --time-budget 10m --max-epochs 1000 --patience 0 --threads 1 "$@" > "$prefix-$cell.log" 2>&1 &
done
wait
for cell in lstm tree-lstm; do
    echo "== --cell $cell"
    grep -v "^step\|^config" "$prefix-$cell.log" | tail -7
done
