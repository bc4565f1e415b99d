#!/usr/bin/env bash
# Named entities on CoNLL-2003 English without pretrained word vectors: the default tagger of
# rnnlab train --task tag (word embeddings of 100, a bidirectional LSTM of 25 + 25 units over each
# word's characters, a bidirectional LSTM of 100 + 100 units over the sentence, dropout 0.5, a CRF,
# BIOES tags, Adam lr 0.001, batch 16, at most 20 epochs, early stopping after 5 without a better
# validation F1; Lample et al. 2016's recipe apart from the optimizer). Prints every epoch's
# validation scores, then the test precision, recall and F1 of the best epoch, per entity type,
# the seconds an epoch takes and the wall time.
#     bash benchmarks/conll2003_ner.sh [OUT] [EXTRA FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/conll2003}
shift || true
start=$(date +%s)
.venv/bin/rnnlab train --task tag --data conll2003 --out "$out" --force "$@" | grep --line-buffered -v "^step"
echo "wall time: $(( ($(date +%s) - start) / 60 )) min"
