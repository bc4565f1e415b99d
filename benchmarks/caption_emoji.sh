#!/usr/bin/env bash
# Emoji drawings to their Unicode names (the named set emoji: 1,532 / 206 / 173 drawings of 64x64
# px, fetched with npm pack on first use): the default captioner with soft attention, 10 minutes on
# the 2-core machine, evaluated every 120 steps (5 epochs). Prints the test BLEU-1..4 with a beam
# of 3, then draws 24 test drawings spread over the split, with their generated captions, into
# docs/caption-emoji.png.
#     bash benchmarks/caption_emoji.sh [OUT] [EXTRA FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/emoji}
shift || true
.venv/bin/rnnlab train --task caption --data emoji --attention soft --out "$out" --force --time-budget 10m \
    --max-epochs 0 --eval-every 120 --patience 0 "$@" | grep --line-buffered -v "^step\|^  "
.venv/bin/python benchmarks/caption_figures.py emoji "$out" docs/caption-emoji.png
