#!/usr/bin/env bash
# The bottleneck and its fix (Bahdanau, Cho & Bengio 2015, Fig. 2) on bible-en-es (the King James
# Bible against the Reina-Valera 1909, 29,859 / 616 / 609 verse pairs): the same encoder (a
# bidirectional LSTM of 256 + 256 units) and decoder (an LSTM of 256), subwords of 4,000 a side,
# embeddings of 128, trained side by side for the same time on one core each, once handing over
# only the encoder's final state (--attention none; Sutskever et al. 2014, Cho et al. 2014) and
# once with additive attention. Then test BLEU by source length (buckets of 10 words), and the
# attention model's test BLEU and sentences per second with beams of 1, 5 and 10.
#     bash benchmarks/seq2seq_bible.sh [BUDGET] [OUT_PREFIX] [EXTRA FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-30m}
prefix=${2:-runs/bible}
shift 2 || shift $# || true
common=(--task seq2seq --data bible-en-es --vocab-size 4000 --hidden-size 256 --embedding-size 128
    --threads 1 --time-budget "$budget" --epochs 100 --force)
for attention in none additive; do
    .venv/bin/rnnlab train "${common[@]}" --attention "$attention" --out "$prefix-$attention" "$@" \
        > "$prefix-$attention.log" 2>&1 &
done
wait
for attention in none additive; do
    grep -v "^step" "$prefix-$attention.log" | grep -v "^config"
done
echo
echo "test BLEU by source length (words), beam 5"
.venv/bin/python - "$prefix" <<'PY'
import json, sys
prefix = sys.argv[1]
runs = {a: json.load(open(f"{prefix}-{a}/results.json"))["test"] for a in ("none", "additive")}
print(f"{'words':>8} {'pairs':>6} {'none':>6} {'additive':>9}")
by = {a: {b["words"]: b for b in r["by_length"]} for a, r in runs.items()}
for words, b in by["additive"].items():
    print(f"{words:>8} {b['sentences']:>6} {by['none'][words]['bleu']:>6.2f} {b['bleu']:>9.2f}")
print(f"{'all':>8} {runs['none']['sentences']:>6} {runs['none']['bleu']:>6.2f} {runs['additive']['bleu']:>9.2f}")
PY
echo
echo "beam  test BLEU  chrF  sentences/s   (additive attention)"
for beam in 1 5 10; do
    .venv/bin/rnnlab eval "$prefix-additive" --split test --beam "$beam" | .venv/bin/python -c "
import json, sys
r = json.load(sys.stdin)
print(f\"{r['beam']:>4}  {r['bleu']:>9.2f}  {r['chrf']:.2f}  {r['sentences_per_s']:>11.1f}\")"
done
