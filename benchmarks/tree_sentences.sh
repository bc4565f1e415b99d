#!/usr/bin/env bash
# Sentences as trees: a Child-Sum Tree-LSTM over spaCy's dependency parses, the same Tree-LSTM whose
# nodes also read a BiLSTM's outputs (--leaf-encoder lstm), and the BiLSTM classifier reading the
# same words in order (--cell lstm), with the TF-IDF + logistic regression baseline each run fits,
# on the same seeded split of Pang & Lee's 4,000 sentences and of the 38,158 tweets. Same widths
# (embeddings of 128, 128 units), the three side by side on one thread each: Pang & Lee for at most
# 20 epochs (early stop after 5 without a better validation accuracy), the tweets for 12 minutes.
#     bash benchmarks/tree_sentences.sh [OUT_PREFIX] [EXTRA FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-runs/sentences}
shift || true
variants=(lstm tree-lstm bilstm-tree-lstm)
for data in pang-lee tweets; do
    budget=()
    [ "$data" = tweets ] && budget=(--time-budget 12m)
    for variant in "${variants[@]}"; do
        case $variant in
            bilstm-tree-lstm) flags=(--cell tree-lstm --leaf-encoder lstm) ;;
            *) flags=(--cell "$variant") ;;
        esac
        .venv/bin/rnnlab train --task tree --data "$data" "${flags[@]}" "${budget[@]}" --threads 1 --force \
            --out "$prefix-$data-$variant" "$@" > "$prefix-$data-$variant.log" 2>&1 &
    done
    wait
    for variant in "${variants[@]}"; do
        echo "== $data, $variant"
        grep -v "^step\|^config" "$prefix-$data-$variant.log" | tail -7
    done
done
