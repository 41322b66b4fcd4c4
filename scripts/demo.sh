#!/usr/bin/env bash
# The demo: compare the example runs (examples/interventions.toml) and render reports/demo/.
# Scores are cached in ~/.cache/gpt2lab/scores, so a second run skips the test-loss scoring.
# (Usage: scripts/demo.sh PATH/TO/gpt2lab)
set -euo pipefail
BIN=${1:-.build/release/gpt2lab}
cd "$(dirname "$0")/.."
"$BIN" report examples/interventions.toml --out reports/demo
echo "open $(pwd)/reports/demo/index.html"
