#!/usr/bin/env bash
# The GPU check: one run on a CUDA machine, everything written to $OUT (check.log + results.json).
#
#   OUT=/some/dir bench/gpu/check.sh GPT2LAB_BINARY FIXTURES_DIR
#
# GPT2LAB_BINARY: the bundle's gpt2lab/bin/gpt2lab. FIXTURES_DIR holds (copies of ../shared/fixtures):
#   runs/baseline/{model.safetensors,meta.json}  runs/reference/{model.safetensors,meta.json}
#   expected/baseline.json  expected/reference.json  data/test-persuasion.bin
# Steps (each under `timeout`, the whole under ~7 minutes; a failing step is logged and the rest go on):
#   1. gpt2lab doctor (GPU, driver, where NVRTC and cuBLAS were found, the self-checks' differences)
#   2. the two fixtures on cpu and cuda, f32 and bf16, against HF's losses (cuda with GPT2LAB_CUDA_CHECK=1:
#      window 0 compared with the CPU engine stage by stage); cuda f32 in each --gpu-math (3xtf32, f32, tf32)
#   3. a GPT-2 small (124M, random init, seed 0, n_ctx 1024) and 1M random tokens, made with torch/transformers
#   4. ROUNDS (default 3) alternating rounds: gpt2lab cuda f32 in each --gpu-math, cuda bf16 (the attention it chose,
#      then the products path forced), HF f32 (TF32 off),
#      HF TF32, HF bf16 autocast, HF bf16 weights, at batch 32 x 1024 (medians in results.json)
#   4b. the Hessian: gpt2lab hessian --device cuda against PyTorch's double-backprop HVPs (hvp_torch.py), 4 x 1024;
#       then 20 Lanczos steps with the basis on the GPU
#   4c. compare --device cuda against a second 124M model: speed on 256k tokens, agreement with the CPU on 8k
#   5. gpt2lab on the CPU (16 threads), f32 and bf16, on the first 16k tokens; with THREAD_SCAN="1 2 4 …" f32
#      at each thread count on the first 8k tokens
#   6. the summary (bench/gpu/summarize.py): losses, differences, tok/s, peak GPU memory
set -u
BIN=${1:?usage: OUT=DIR bench/gpu/check.sh GPT2LAB_BINARY FIXTURES_DIR}
FIX=${2:?usage: OUT=DIR bench/gpu/check.sh GPT2LAB_BINARY FIXTURES_DIR}
OUT=${OUT:?set OUT to the folder for check.log and results.json}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
mkdir -p "$OUT"
LOG="$OUT/check.log"
WORK=$(mktemp -d /tmp/gpt2lab-gpu-check.XXXXXX)
RESULTS="$WORK/results.jsonl"   # one JSON object per line: {"step":..., "rc":..., "output": ...}
: > "$LOG"; : > "$RESULTS"
START=$(date +%s)
DEADLINE=$((START + ${CHECK_SECONDS:-400}))
export XDG_CACHE_HOME="$WORK/cache"   # the kernel cache starts empty: the first cuda run compiles
PY=${PYTHON:-}
if [ -z "$PY" ]; then for p in /opt/torch/.venv/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c "import torch, transformers" >/dev/null 2>&1; then PY=$p; break; fi
done; fi

log() { echo "$*" | tee -a "$LOG"; }

# step NAME SECONDS COMMAND...: runs COMMAND under timeout (capped by the deadline), its stdout kept as the
# step's output (JSON when it prints JSON), stderr appended to the log; one "rc" line each.
step() {
    local name=$1 limit=$2; shift 2
    local left=$((DEADLINE - $(date +%s)))
    if [ "$left" -lt 15 ]; then log "== $name: SKIPPED (deadline)"; return 0; fi
    [ "$limit" -gt "$left" ] && limit=$left
    log "== $name (timeout ${limit}s): $*"
    local t0=$(date +%s.%N)
    timeout -k 5 "$limit" "$@" > "$WORK/step.out" 2> "$WORK/step.err"
    local rc=$?
    local t1=$(date +%s.%N)
    cat "$WORK/step.err" >> "$LOG"
    if [ $rc -ne 0 ]; then log "   FAILED rc=$rc$([ $rc -eq 124 ] && echo ' (timed out)')"; head -c 3000 "$WORK/step.out" >> "$LOG"; fi
    "${PY:-python3}" - "$name" "$rc" "$t0" "$t1" "$WORK/step.out" >> "$RESULTS" <<'PYEOF' 2>>"$LOG"
import json, sys
name, rc, t0, t1, path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
text = open(path, errors="replace").read()
try:
    out = json.loads(text)            # one JSON document (gpt2lab --json)
except Exception:
    out = []                          # or one JSON object per line (hf_gpu.py), else the text's tail
    for line in text.splitlines():
        try: out.append(json.loads(line))
        except Exception: pass
    out = out or text[-4000:]
print(json.dumps({"step": name, "rc": rc, "wall_seconds": t1 - t0, "output": out}))
PYEOF
    return 0
}

log "gpt2lab GPU check $(date -u +%FT%TZ) on $(hostname)"
log "binary $BIN; fixtures $FIX; python ${PY:-none with torch+transformers}"
step nvidia-smi 20 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
step cpu-topology 20 sh -c 'lscpu; nproc; cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list'
step doctor 60 "$BIN" doctor
cat "$WORK/step.out" >> "$LOG"
# doctor runs the self-checks a GPU must pass before gpt2lab uses it; if one refuses, the rest still run (and
# time) with the checks off, so a session learns both the check's numbers and the speeds.
if grep -q "REFUSED" "$WORK/step.out"; then
    log "!! a self-check REFUSED this GPU (lines above): the steps below run with GPT2LAB_CUDA_SELF_CHECK=off"
    export GPT2LAB_CUDA_SELF_CHECK=off
fi
step doctor-json 60 "$BIN" doctor --json

# 2. Fixtures. The first cuda run of each precision also compares window 0 stage by stage (stderr, in the log).
TS="$FIX/data/test-persuasion.bin"
for run in baseline reference; do
    if [ ! -f "$FIX/runs/$run/model.safetensors" ]; then log "== fixture $run: SKIPPED (not in $FIX)"; continue; fi
    for dev in cpu cuda; do
        for prec in f32 bf16; do
            check=0; [ "$dev" = cuda ] && check=1
            step "fixture $run $dev $prec" 120 env GPT2LAB_CUDA_CHECK=$check "$BIN" score "$FIX/runs/$run/model.safetensors" \
                --test-set "$TS" --device "$dev" --precision "$prec" --threads 16 --json
        done
    done
    for math in f32 tf32; do
        step "fixture $run cuda-$math f32" 120 env GPT2LAB_CUDA_CHECK=1 "$BIN" score "$FIX/runs/$run/model.safetensors" \
            --test-set "$TS" --device cuda --gpu-math $math --threads 16 --json
    done
done

# 3. A 124M model and 1M tokens (1024 windows of 1024).
if [ -n "$PY" ]; then
    step make-model 180 "$PY" "$REPO/bench/score/make_model.py" --out "$WORK/model" --tokens 1048577 --seed 0
else
    log "== make-model: SKIPPED (no python with torch and transformers; set PYTHON)"
fi
M="$WORK/model/model.safetensors"; TOK="$WORK/model/tokens.bin"

# 4. Three alternating rounds at batch 32 x 1024.
if [ -f "$M" ]; then
    for round in $(seq 1 "${ROUNDS:-3}"); do
        for math in 3xtf32 f32 tf32; do
            step "bench $round gpt2lab cuda $math" 120 "$BIN" score "$M" --test-set "$TOK" --device cuda --gpu-math $math --batch 32 --json
        done
        step "bench $round gpt2lab cuda bf16" 90 "$BIN" score "$M" --test-set "$TOK" --device cuda --precision bf16 --batch 32 --json
        step "bench $round gpt2lab cuda bf16-products" 90 env GPT2LAB_CUDA_ATTENTION=products "$BIN" score "$M" --test-set "$TOK" \
            --device cuda --precision bf16 --batch 32 --json
        step "bench $round hf" 200 "$PY" "$HERE/hf_gpu.py" --model "$WORK/model" --test-set "$TOK" --batch 32
    done
    # 4a. Where a GPU batch's time goes (each stage waited for, so a little slower than the rounds): bf16 and 3xtf32,
    #     256k tokens each.
    for prec in "--precision bf16" "--gpu-math 3xtf32"; do
        step "gpu profile $prec" 90 "$BIN" score "$M" --test-set "$TOK" --device cuda $prec --batch 32 --max-tokens 262145 --profile
        cat "$WORK/step.out" >> "$LOG"
    done
    # 4b. The Hessian on batch 4 x 1024: gpt2lab's finite-difference HVPs (two FP32 gradients each) against
    #     PyTorch's double backprop (f32, TF32 off, eager attention), HVP_PROBES probes each (default 10).
    step "hessian gpt2lab cuda" 300 "$BIN" hessian "$M" --test-set "$TOK" --device cuda --batch 4 --samples "${HVP_PROBES:-10}" \
        --top 0 --json
    step "hessian torch" 300 "$PY" "$HERE/hvp_torch.py" --model "$WORK/model" --test-set "$TOK" --batch 4 --probes "${HVP_PROBES:-10}"
    #     Lanczos with its basis on the GPU: 20 steps (the tolerance keeps it from stopping early) after one probe.
    step "hessian gpt2lab cuda lanczos" 300 "$BIN" hessian "$M" --test-set "$TOK" --device cuda --batch 4 --samples 1 \
        --top 1 --eigen-steps 20 --eigen-tol 1e-12 --json
    # 4c. compare on the GPU: the 124M model against a second one (seed 1), 256k tokens on cuda for speed, and
    #     the first 8k tokens on both devices for agreement (KL, top-1 agreement, losses).
    step make-model-b 180 "$PY" "$REPO/bench/score/make_model.py" --out "$WORK/model-b" --tokens 2049 --seed 1
    MB="$WORK/model-b/model.safetensors"
    step "compare gpt2lab cuda" 240 "$BIN" compare "$M" "$MB" --test-set "$TOK" --device cuda --max-tokens 262145 --segments 0 --json
    for dev in cuda cpu; do
        step "compare gpt2lab $dev slice" 240 "$BIN" compare "$M" "$MB" --test-set "$TOK" --device $dev --threads 16 \
            --max-tokens 8193 --segments 0 --json
    done
    # 5. The CPU engine at 16 threads on the first 16k tokens (16 windows).
    step "cpu gpt2lab f32" 120 "$BIN" score "$M" --test-set "$TOK" --device cpu --threads 16 --max-tokens 16385 --json
    step "cpu gpt2lab bf16" 120 "$BIN" score "$M" --test-set "$TOK" --device cpu --precision bf16 --threads 16 --max-tokens 16385 --json
    step "cpu profile 16 threads" 120 "$BIN" score "$M" --test-set "$TOK" --device cpu --threads 16 --max-tokens 8193 --profile
    cat "$WORK/step.out" >> "$LOG"
    step "cpu profile 2 threads" 120 "$BIN" score "$M" --test-set "$TOK" --device cpu --threads 2 --max-tokens 4097 --profile
    cat "$WORK/step.out" >> "$LOG"
    # The CPU thread scan (THREAD_SCAN="1 2 4 8 16"; none by default): f32 on the first 8k tokens.
    for n in ${THREAD_SCAN:-}; do
        step "cpu scan $n threads" 120 "$BIN" score "$M" --test-set "$TOK" --device cpu --threads "$n" --max-tokens 8193 --json
    done
    step "cuda gpt2lab f32 same slice" 60 "$BIN" score "$M" --test-set "$TOK" --device cuda --max-tokens 16385 --json
fi

# 6. Summary.
"${PY:-python3}" "$HERE/summarize.py" "$RESULTS" "$FIX" "$OUT/results.json" 2>&1 | tee -a "$LOG"
log "done in $(( $(date +%s) - START )) s; $OUT/check.log, $OUT/results.json"
rm -rf "$WORK"
