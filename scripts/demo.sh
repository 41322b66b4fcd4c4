#!/usr/bin/env bash
# The demo: score every example run on the example test set and print one table.
# (Usage: scripts/demo.sh PATH/TO/gpt2lab)
set -euo pipefail
BIN=${1:-.build/release/gpt2lab}
cd "$(dirname "$0")/.."
runs=()
for run in baseline baseline-seed67 wd-0.01 stacked reference; do runs+=("examples/runs/$run/model.safetensors"); done
"$BIN" score "${runs[@]}" --test-set examples/test-persuasion.bin
