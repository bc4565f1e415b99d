#!/usr/bin/env bash
# ListOps (Nangia & Bowman 2018): a BiLSTM reading the expression's tokens, brackets included,
# against a Child-Sum Tree-LSTM given the gold trees. Same widths (embeddings of 128, 128 units; the
# BiLSTM has 128 a direction, so twice the Tree-LSTM's recurrent weights) and the same CPU budget:
# 15 minutes each on one thread, side by side, on the same 20,000 / 2,000 / 2,000 expressions.
# Prints each run's test accuracy, overall and by tree height (the depth of list nesting).
#     bash benchmarks/tree_listops.sh [OUT_PREFIX] [EXTRA FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-runs/listops}
shift || true
for cell in lstm tree-lstm; do
    .venv/bin/rnnlab train --task tree --data listops --cell "$cell" --out "$prefix-$cell" \
        --force --time-budget 15m --max-epochs 1000 --patience 0 --threads 1 "$@" > "$prefix-$cell.log" 2>&1 &
done
wait
for cell in lstm tree-lstm; do
    echo "== --cell $cell"
    grep -v "^step\|^config" "$prefix-$cell.log" | tail -8
done
