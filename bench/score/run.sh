#!/usr/bin/env bash
# Score benchmark, side by side in one run: gpt2lab f32 against HF transformers (torch CPU, f32 and bf16
# autocast) and ONNX Runtime (f32 graph with the loss in it), on the same random GPT-2-small checkpoint.
#
#   bench/score/run.sh [GPT2LAB_BINARY]        (default .build-plain/release/gpt2lab, or $GPT2LAB)
#
# The binary should be a plain `swift build -c release --scratch-path .build-plain` build (what `swift run`,
# IDEs and package users get). Env:
#   K=3            rounds; each round runs every side once, in order, so the sides alternate under the same load
#   THREADS=2      threads of every side (gpt2lab --threads, torch.set_num_threads, ORT intra-op threads)
#   GPT2LAB_MAKE=  a second gpt2lab binary (the Makefile build, .build/release/gpt2lab) to run as its own side
#   SIDES=         space-separated subset of: gpt2lab gpt2lab-bf16 gpt2lab-make hf hf-bf16 ort   (default: all)
# Each side runs under /usr/bin/time -v for its peak RSS. After the timed rounds, one more gpt2lab run with
# --profile gives the per-kernel breakdown (not timed with the rest). The environment is passed through
# unchanged (OPENBLAS_CORETYPE and all): the runtime object in gpt2lab's JSON says which kernels ran.
# It builds nothing. Per-run outputs go to bench/score/logs/, the medians to stdout and bench/score/results.json.
set -euo pipefail

SCORE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_DIR="$(dirname "$SCORE_DIR")"
REPO="$(dirname "$BENCH_DIR")"
cd "$REPO"

BIN="${1:-${GPT2LAB:-.build-plain/release/gpt2lab}}"
BIN_MAKE="${GPT2LAB_MAKE:-}"
K="${K:-3}"
THREADS="${THREADS:-2}"
DATA=bench/score/data
MODEL="$DATA/model.safetensors"
TOKENS="$DATA/tokens.bin"
LOGS=bench/score/logs
RESULTS=bench/score/results.json
PY="$BENCH_DIR/.venv/bin/python"

die() { echo "run.sh: error: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "gpt2lab binary not found or not executable at '$BIN'. Build it first" \
  "(swift build -c release --product gpt2lab --scratch-path .build-plain) or pass its path."
[ -z "$BIN_MAKE" ] || [ -x "$BIN_MAKE" ] || die "GPT2LAB_MAKE='$BIN_MAKE' is not an executable"
default_sides="gpt2lab gpt2lab-bf16 hf hf-bf16 ort"
[ -z "$BIN_MAKE" ] || default_sides="gpt2lab gpt2lab-bf16 gpt2lab-make hf hf-bf16 ort"
SIDES="${SIDES:-$default_sides}"
if [ ! -x /usr/bin/time ]; then
  echo "run.sh: /usr/bin/time missing; installing Debian package 'time'" >&2
  if [ "$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq time) >&2
  else sudo apt-get update -qq && sudo apt-get install -y -qq time >&2; fi
  [ -x /usr/bin/time ] || die "could not install /usr/bin/time (Debian package 'time')"
fi

bash "$BENCH_DIR/setup.sh"
"$PY" -c "import onnxruntime" 2>/dev/null || "$BENCH_DIR/.venv/bin/pip" install --no-cache-dir -q onnxruntime onnx >&2
if [ ! -s "$MODEL" ] || [ ! -s "$DATA/config.json" ] || [ ! -s "$TOKENS" ]; then
  echo "run.sh: generating the benchmark model and test set in $DATA" >&2
  "$PY" bench/score/make_model.py --out "$DATA" >&2
fi
case " $SIDES " in *" ort "*)
  [ -s "$DATA/model-loss.onnx" ] || "$PY" bench/score/ort_score.py --model "$DATA" --export-only >&2 ;;
esac

rm -rf "$LOGS"; mkdir -p "$LOGS"
# The 2-thread sgemm rate of the kernel table gpt2lab runs (bench/gemm/sgemm_rate.c), once per round.
CORE=$("$BIN" doctor --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["gemm_kernel"])')
cc -O2 bench/gemm/sgemm_rate.c -lopenblas -lpthread -o "$LOGS/sgemm_rate" || die "could not build bench/gemm/sgemm_rate.c"

side_cmd() {  # $1 = side: prints nothing, sets CMD
  case "$1" in
    gpt2lab)      CMD=("$BIN" score "$MODEL" --test-set "$TOKENS" --threads "$THREADS" --json) ;;
    gpt2lab-make) CMD=("$BIN_MAKE" score "$MODEL" --test-set "$TOKENS" --threads "$THREADS" --json) ;;
    hf)           CMD=("$PY" bench/score/hf_score.py --model "$DATA" --test-set "$TOKENS" --threads "$THREADS") ;;
    hf-bf16)      CMD=("$PY" bench/score/hf_score.py --model "$DATA" --test-set "$TOKENS" --threads "$THREADS" --bf16) ;;
    ort)          CMD=("$PY" bench/score/ort_score.py --model "$DATA" --test-set "$TOKENS" --threads "$THREADS") ;;
    gpt2lab-bf16) CMD=("$BIN" score "$MODEL" --test-set "$TOKENS" --threads "$THREADS" --precision bf16 --json) ;;
    *) die "unknown side '$1' (sides: gpt2lab gpt2lab-bf16 gpt2lab-make hf hf-bf16 ort)" ;;
  esac
}

run_side() {  # $1 = side, $2 = run index
  local s=$1 i=$2 rc=0
  side_cmd "$s"
  /usr/bin/time -v -o "$LOGS/$s.$i.time" "${CMD[@]}" >"$LOGS/$s.$i.json" 2>"$LOGS/$s.$i.err" || rc=$?
  if [ $rc -ne 0 ] || ! "$PY" - "$LOGS/$s.$i.json" <<'PY' 2>/dev/null
import json, sys
t = open(sys.argv[1]).read()
d = json.loads(t[t.index("{"):t.rindex("}") + 1])
assert all(k in d for k in ("loss", "tokens_scored", "seconds"))
PY
  then
    echo "run.sh: error: side $s ('${CMD[*]}') did not print a JSON object with loss, tokens_scored and" \
         "seconds (exit status $rc). Its stdout and stderr (first 20 lines each):" >&2
    head -20 "$LOGS/$s.$i.json" >&2; head -20 "$LOGS/$s.$i.err" >&2
    exit 1
  fi
  echo "run.sh: $s run $i: $(tr -d '\n ' <"$LOGS/$s.$i.json" | cut -c1-160)" >&2
}

for i in $(seq 1 "$K"); do
  for s in $SIDES; do run_side "$s" "$i"; done
  OPENBLAS_CORETYPE="$CORE" "$LOGS/sgemm_rate" "$THREADS" >"$LOGS/sgemm.$i.json"
  echo "run.sh: sgemm ($CORE, $THREADS threads) run $i: $(cut -c1-60 "$LOGS/sgemm.$i.json")..." >&2
done
case " $SIDES " in *" gpt2lab "*)
  "$BIN" score "$MODEL" --test-set "$TOKENS" --threads "$THREADS" --json --profile >"$LOGS/gpt2lab.profile.json" \
    2>"$LOGS/gpt2lab.profile.err" || die "the --profile run failed: $(head -5 "$LOGS/gpt2lab.profile.err")" ;;
esac

"$PY" bench/score/summarize.py "$LOGS" "$K" "$MODEL" "$THREADS" "$RESULTS" $SIDES
