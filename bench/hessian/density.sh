#!/usr/bin/env bash
# Cost of the SLQ density against the HVPs it is made of: `gpt2lab hessian --density` with VECTORS × STEPS
# Lanczos steps on the baseline fixture (batch 4 × 256), from its JSON: `density.hvps`, `density.seconds_hvp`
# (the products' own wall time), `density.seconds` (all of SLQ: products, reorthogonalisation against the
# basis, T's eigen-decomposition, the broadening) and the trace's `seconds_per_hvp` (mean of the probes).
# "overhead" is SLQ's time beyond its products; "vs HVPs" compares SLQ's time with VECTORS·STEPS trace HVPs.
#
# Usage: bench/hessian/density.sh [vectors] [steps] [threads] [checkpoint]   (env: FIXTURES, GPT2LAB, CONTEXT)
set -euo pipefail
cd "$(dirname "$0")/../.."
VECTORS=${1:-10}
STEPS=${2:-30}
THREADS=${3:-2}
FIXTURES=${FIXTURES:-../shared/fixtures}
CKPT=${4:-$FIXTURES/runs/baseline/model.safetensors}
TEST=$FIXTURES/data/test-persuasion.bin
GPT2LAB=${GPT2LAB:-}
if [ -z "$GPT2LAB" ]; then
    swift build -c release -Xswiftc -target-cpu -Xswiftc haswell --product gpt2lab >&2
    GPT2LAB=.build/release/gpt2lab
fi
"$GPT2LAB" hessian "$CKPT" --test-set "$TEST" --batch 4 --context "${CONTEXT:-256}" --samples 3 --top 0 --threads "$THREADS" \
    --density --density-vectors "$VECTORS" --density-steps "$STEPS" --json |
python3 -c '
import json, sys
d = json.load(sys.stdin)
s = d["density"]
n, hvp, total, prod = s["hvps"], d["seconds_per_hvp"], s["seconds"], s["seconds_hvp"]
print("SLQ %d x %d: %d HVPs, %.1f s in all, products %.1f s, overhead %.1f s (%.1f %%); trace HVP %.3f s, "
      "so %d HVPs ~ %.1f s: SLQ / that = %.3f" % (len(s["runs"]), s["steps"], n, total, prod, total - prod,
      100 * (total / prod - 1), hvp, n, n * hvp, total / (n * hvp)))'
