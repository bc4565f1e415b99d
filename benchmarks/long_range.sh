#!/usr/bin/env bash
# Long-range tasks, run by hand (never in CI): two `rnnlab compare` runs side by side, one CPU
# thread each, then one table.
#
#   (1) the IRNN paper's adding problem at T = 150 (Le et al. 2015, Fig. 2): IRNN and LSTM should
#       get below test MSE 0.01 while the tanh RNN stays at the baseline (predict the mean, 1/6);
#       reported: steps and minutes to first reach 0.01.
#   (2) the 8x8 digits read pixel by pixel (T = 64): LSTM and IRNN should reach 90% test accuracy.
#
# Usage: benchmarks/long_range.sh [OUT] ; budgets per cell via ADDING_BUDGET / DIGITS_BUDGET.
# Wall time is about 4 x max(ADDING_BUDGET, DIGITS_BUDGET) plus evaluation and start-up.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/long-range}
adding_budget=${ADDING_BUDGET:-6m}
digits_budget=${DIGITS_BUDGET:-5m}
cells=${CELLS:-rnn-tanh,irnn,lstm,gru}
mkdir -p "$out"
started=$(date +%s)
.venv/bin/rnnlab compare adding -T 150 --cells "$cells" --time-budget "$adding_budget" --target 0.01 \
    --threads 1 --out "$out/adding" --force >"$out/adding.log" 2>&1 &
adding=$!
.venv/bin/rnnlab compare digits --cells "$cells" --time-budget "$digits_budget" --target 0.9 \
    --threads 1 --out "$out/digits" --force >"$out/digits.log" 2>&1 &
digits=$!
status=0
wait $adding || status=$?
wait $digits || status=$?
echo "wall time: $(( $(date +%s) - started )) s (logs: $out/adding.log, $out/digits.log)"
.venv/bin/python - "$out" <<'EOF'
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
print(f"{'task':<12} {'cell':<9} {'steps':>7} {'min':>5} {'final':>9} {'best':>9} {'baseline':>9}  first reached target")
for name in ("adding", "digits"):
    path = out / name / "compare.json"
    if not path.exists():
        print(f"{name}: no compare.json (see {out / name}.log)")
        continue
    table = json.loads(path.read_text())
    metric, base = table["metric"], table["baseline"][table["metric"]]
    label = f"{name} T={table['T']}"
    for r in table["runs"]:
        t = r["target"]
        reach = f"{t['value']:g}: step {t['step']}, {t['seconds'] / 60:.1f} min" if t["reached"] else "not reached"
        print(
            f"{label:<12} {r['cell']:<9} {r['steps']:>7} {r['seconds'] / 60:>5.1f} {r['final'][metric]:>9.4g} "
            f"{r['best'][metric]:>9.4g} {base:>9.4g}  {reach}"
        )
    print(f"{'':<12} ({metric}; figure: {out / name / 'compare.png'})")
EOF
exit $status
