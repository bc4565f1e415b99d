#!/usr/bin/env bash
# Named entities on CoNLL-2003 English without pretrained word vectors: the default tagger of
# rnnlab train --task tag (word embeddings of 100, a bidirectional LSTM of 25 + 25 units over each
# word's characters, a bidirectional LSTM of 200 + 200 units over the sentence, dropout 0.5, a CRF,
# BIOES tags, Adam lr 0.001, batch 16; Lample et al. 2016's architecture with Ma & Hovy 2016's
# width), for 40 epochs (early stopping after 8 without a better validation F1). Prints every
# epoch's validation scores, then the test precision, recall and F1 of the best epoch, per entity
# type, the seconds an epoch takes and the wall time, then the same test figures from seqeval.
#     bash benchmarks/conll2003_ner.sh [OUT] [EXTRA FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/conll2003}
shift || true
start=$(date +%s)
.venv/bin/rnnlab train --task tag --data conll2003 --out "$out" --force --epochs 40 --patience 8 "$@" \
    | grep --line-buffered -v "^step"
echo "wall time: $(( ($(date +%s) - start) / 60 )) min"
.venv/bin/python benchmarks/seqeval_check.py "$out"
