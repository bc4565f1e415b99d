#!/usr/bin/env bash
# Quality in 100 seconds: default `rnnlab train` on Shakespeare with a 100 s budget, then the
# validation loss of the best checkpoint (nats and bits per character).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/bench-100s}
.venv/bin/rnnlab train --time-budget 100s --out "$out" --force --sample-chars 0 | grep -E "^(lstm|step [0-9]+:|done)"
.venv/bin/rnnlab eval "$out"
