#!/usr/bin/env bash
# Score benchmark: gpt2lab vs HF transformers (PyTorch, CPU, fp32) on the same random GPT-2-small checkpoint.
#
#   bench/score/run.sh [GPT2LAB_BINARY]        (default .build/release/gpt2lab, or $GPT2LAB)
#
# Env: K=3 (runs per side, alternated gpt2lab, HF, gpt2lab, HF, ...), THREADS=2 (torch.set_num_threads on the HF
# side; OPENBLAS_NUM_THREADS/OMP_NUM_THREADS on the gpt2lab side unless already set), HF_ONLY=1 (skip gpt2lab).
# It builds nothing: build gpt2lab first (swift build -c release). It runs bench/setup.sh (idempotent) and
# bench/score/make_model.py if bench/score/data/ is incomplete. Per-run outputs go to bench/score/logs/, the
# medians to stdout and bench/score/results.json.
set -euo pipefail

SCORE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_DIR="$(dirname "$SCORE_DIR")"
REPO="$(dirname "$BENCH_DIR")"
cd "$REPO"

BIN="${1:-${GPT2LAB:-.build/release/gpt2lab}}"
K="${K:-3}"
THREADS="${THREADS:-2}"
HF_ONLY="${HF_ONLY:-0}"
DATA=bench/score/data
MODEL="$DATA/model.safetensors"
TOKENS="$DATA/tokens.bin"
LOGS=bench/score/logs
RESULTS=bench/score/results.json
PY="$BENCH_DIR/.venv/bin/python"

die() { echo "run.sh: error: $*" >&2; exit 1; }

if [ "$HF_ONLY" != 1 ]; then
  [ -e "$BIN" ] || die "gpt2lab binary not found at '$BIN'. Build it first (swift build -c release) or pass its path: bench/score/run.sh /path/to/gpt2lab (HF_ONLY=1 runs the HF side alone)."
  [ -x "$BIN" ] || die "'$BIN' is not executable."
  if [ ! -x /usr/bin/time ]; then
    echo "run.sh: /usr/bin/time missing; installing Debian package 'time'" >&2
    if [ "$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq time) >&2
    else sudo apt-get update -qq && sudo apt-get install -y -qq time >&2; fi
    [ -x /usr/bin/time ] || die "could not install /usr/bin/time (Debian package 'time')"
  fi
fi

bash "$BENCH_DIR/setup.sh"
if [ ! -s "$MODEL" ] || [ ! -s "$DATA/config.json" ] || [ ! -s "$TOKENS" ]; then
  echo "run.sh: generating the benchmark model and test set in $DATA" >&2
  "$PY" bench/score/make_model.py --out "$DATA" >&2
fi

rm -rf "$LOGS"; mkdir -p "$LOGS"
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-$THREADS}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-$THREADS}"

run_gpt2lab() {  # $1 = run index
  local i=$1 rc=0
  /usr/bin/time -v -o "$LOGS/gpt2lab.$i.time" \
    "$BIN" score "$MODEL" --test-set "$TOKENS" --json >"$LOGS/gpt2lab.$i.json" 2>"$LOGS/gpt2lab.$i.err" || rc=$?
  if [ $rc -ne 0 ] || ! "$PY" - "$LOGS/gpt2lab.$i.json" <<'PY' 2>/dev/null
import json, sys
t = open(sys.argv[1]).read()
d = json.loads(t[t.index("{"):t.rindex("}") + 1])
assert all(k in d for k in ("loss", "tokens_scored", "seconds"))
PY
  then
    echo "run.sh: error: '$BIN score $MODEL --test-set $TOKENS --json' did not produce a JSON object with loss," \
         "tokens_scored and seconds (exit status $rc). Its stdout and stderr (first 20 lines each):" >&2
    head -20 "$LOGS/gpt2lab.$i.json" >&2; head -20 "$LOGS/gpt2lab.$i.err" >&2
    exit 1
  fi
  echo "run.sh: gpt2lab run $i: $(tr -d '\n' <"$LOGS/gpt2lab.$i.json" | cut -c1-200)" >&2
}

run_hf() {
  local i=$1
  "$PY" bench/score/hf_score.py --model "$DATA" --test-set "$TOKENS" --threads "$THREADS" \
    >"$LOGS/hf.$i.json" 2>"$LOGS/hf.$i.err" || { cat "$LOGS/hf.$i.err" >&2; die "hf_score.py failed (run $i)"; }
  echo "run.sh: hf run $i: $(cat "$LOGS/hf.$i.json")" >&2
}

for i in $(seq 1 "$K"); do
  [ "$HF_ONLY" = 1 ] || run_gpt2lab "$i"
  run_hf "$i"
done

"$PY" - "$LOGS" "$K" "$MODEL" "$BIN" "$THREADS" "$HF_ONLY" "$RESULTS" <<'PY'
import json, os, re, statistics, sys
logs, k, model, binary, threads, hf_only, out = sys.argv[1:8]
k = int(k); hf_only = hf_only == "1"
med = statistics.median

def load(path):
    t = open(path).read()
    return json.loads(t[t.index("{"):t.rindex("}") + 1])

def maxrss_mb(path):
    m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", open(path).read())
    return int(m.group(1)) / 1024.0 if m else None

hf = [load(f"{logs}/hf.{i}.json") for i in range(1, k + 1)]
res = {"k": k, "threads": int(threads), "model": model, "model_bytes": os.path.getsize(model),
       "hf": {"runs": hf,
              "tokens_per_second": med(r["tokens_per_second"] for r in hf),
              "loss": med(r["loss"] for r in hf),
              "tokens_scored": hf[0]["tokens_scored"],
              "peak_rss_mb": med(r["peak_rss_mb"] for r in hf),
              "torch": hf[0]["torch"]}}
lines = [f"HF (torch {hf[0]['torch']}, {threads} threads), median of {k}:",
         f"  tokens/s      {res['hf']['tokens_per_second']:.1f}",
         f"  loss          {res['hf']['loss']:.6f} over {res['hf']['tokens_scored']} tokens",
         f"  peak RSS      {res['hf']['peak_rss_mb']:.0f} MB"]
if not hf_only:
    g = []
    for i in range(1, k + 1):
        r = load(f"{logs}/gpt2lab.{i}.json")
        r["tokens_per_second"] = r.get("tokens_per_second") or r["tokens_scored"] / r["seconds"]
        r["peak_rss_mb"] = maxrss_mb(f"{logs}/gpt2lab.{i}.time")
        g.append(r)
    rss = [r["peak_rss_mb"] for r in g if r["peak_rss_mb"] is not None]
    res["gpt2lab"] = {"binary": binary, "runs": g,
                      "tokens_per_second": med(r["tokens_per_second"] for r in g),
                      "loss": med(r["loss"] for r in g),
                      "tokens_scored": g[0]["tokens_scored"],
                      "peak_rss_mb": med(rss) if rss else None}
    G, H = res["gpt2lab"], res["hf"]
    res["ratio_tokens_per_second_gpt2lab_over_hf"] = G["tokens_per_second"] / H["tokens_per_second"]
    res["loss_abs_diff"] = abs(G["loss"] - H["loss"])
    res["gpt2lab_peak_rss_over_checkpoint"] = (G["peak_rss_mb"] * 2**20 / res["model_bytes"]
                                               if G["peak_rss_mb"] else None)
    lines += [f"gpt2lab ({binary}), median of {k}:",
              f"  tokens/s      {G['tokens_per_second']:.1f}",
              f"  loss          {G['loss']:.6f} over {G['tokens_scored']} tokens",
              f"  peak RSS      {G['peak_rss_mb']:.0f} MB" if G["peak_rss_mb"] else "  peak RSS      ?",
              f"ratio tokens/s gpt2lab/HF   {res['ratio_tokens_per_second_gpt2lab_over_hf']:.3f}",
              f"|loss gpt2lab - loss HF|    {res['loss_abs_diff']:.3e}",
              f"gpt2lab peak RSS / checkpoint ({res['model_bytes'] / 2**20:.0f} MB)   "
              + (f"{res['gpt2lab_peak_rss_over_checkpoint']:.2f}" if G["peak_rss_mb"] else "?")]
    if G["tokens_scored"] != H["tokens_scored"]:
        lines.append(f"WARNING: tokens_scored differ: gpt2lab {G['tokens_scored']} vs HF {H['tokens_scored']}")
with open(out, "w") as f:
    json.dump(res, f, indent=1)
print("\n".join(lines))
print(f"(written to {out})")
PY
