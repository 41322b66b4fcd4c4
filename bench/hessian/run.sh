#!/usr/bin/env bash
# Cost of one Hessian-vector product in gpt2lab against one forward+backward, and against PyTorch's exact
# double-backprop HVP (bench/hessian/torch_hvp.py), on the baseline fixture, batch 4 × 256, CPU, fp32.
#
# gpt2lab side: `gpt2lab hessian --samples 3 --top 0 --json`, whose `seconds_fwd_bwd` is one forward+backward
# at θ and `seconds_per_hvp` the mean over the 3 trace probes (each HVP = 2 forward+backward, central differences).
# torch side (skipped when the venv is missing): torch_hvp.py's median fwd_bwd_seconds and hvp_seconds.
#
# Usage: bench/hessian/run.sh [threads]       (env: FIXTURES, BENCH_VENV, GPT2LAB)
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${1:-2}
FIXTURES=${FIXTURES:-../shared/fixtures}
VENV=${BENCH_VENV:-bench/.venv}
GPT2LAB=${GPT2LAB:-}
if [ -z "$GPT2LAB" ]; then
    swift build -c release -Xswiftc -target-cpu -Xswiftc haswell >&2
    GPT2LAB=.build/release/gpt2lab
fi
CKPT=$FIXTURES/runs/baseline/model.safetensors
TEST=$FIXTURES/data/test-persuasion.bin

ours=$("$GPT2LAB" hessian "$CKPT" --test-set "$TEST" --batch 4 --context 256 --samples 3 --top 0 \
       --threads "$THREADS" --json)
read -r fb hvp <<<"$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["seconds_fwd_bwd"], d["seconds_per_hvp"])' <<<"$ours")"
echo "gpt2lab ($THREADS threads): fwd+bwd ${fb} s, HVP ${hvp} s, HVP/(fwd+bwd) $(python3 -c "print(round($hvp/$fb, 2))")"

if [ -x "$VENV/bin/python" ]; then
    torch=$("$VENV/bin/python" bench/hessian/torch_hvp.py --checkpoint "$CKPT" --test-set "$TEST" --batch 4 --seq 256 \
            --threads "$THREADS" --repeats 3 | tail -1)
    python3 - "$fb" "$hvp" "$torch" <<'PY'
import json, sys
fb, hvp, t = float(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3])
print(f"torch ({t.get('threads', '?')} threads): fwd+bwd {t['fwd_bwd_seconds']:.3f} s, HVP {t['hvp_seconds']:.3f} s, "
      f"HVP/(fwd+bwd) {t['hvp_seconds'] / t['fwd_bwd_seconds']:.2f}")
print(f"gpt2lab HVP / torch HVP: {hvp / t['hvp_seconds']:.2f}; gpt2lab fwd+bwd / torch fwd+bwd: {fb / t['fwd_bwd_seconds']:.2f}")
PY
else
    echo "no $VENV (run bench/setup.sh): PyTorch side skipped" >&2
fi
