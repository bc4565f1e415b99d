#!/usr/bin/env bash
# ListOps (Nangia & Bowman 2018): a BiLSTM reading the expression's tokens, brackets included,
# against Tree-LSTMs given the gold trees: the Child-Sum cell over the lists as they are, and the
# binary cell over the lists made left-branching chains (--binarize, the paper's trees). Same widths
# (embeddings of 128, 128 units; the BiLSTM has 128 a direction) and the same CPU budget: 20 minutes
# each on one thread, the three side by side, on the same 20,000 / 2,000 / 2,000 expressions.
# Prints each run's test accuracy, overall and by tree height (the depth of list nesting).
#     bash benchmarks/tree_listops.sh [OUT_PREFIX] [EXTRA FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-runs/listops}
shift || true
runs=(lstm tree-lstm binary-tree-lstm)
for cell in "${runs[@]}"; do
    extra=()
    [ "$cell" = binary-tree-lstm ] && extra=(--binarize)
    .venv/bin/rnnlab train --task tree --data listops --cell "$cell" "${extra[@]}" --out "$prefix-$cell" \
        --force --time-budget 20m --max-epochs 1000 --patience 0 --threads 1 "$@" > "$prefix-$cell.log" 2>&1 &
done
wait
for cell in "${runs[@]}"; do
    echo "== --cell $cell"
    grep -v "^step\|^config" "$prefix-$cell.log" | tail -8
done
