#!/usr/bin/env bash
# Encoding throughput: gpt2lab's tokenizer vs tiktoken on the same ~5 MB text (test-persuasion.txt repeated),
# median of RUNS runs each, single-threaded. Prints MB/s for both and the ratio gpt2lab / tiktoken.
#
#   bench/tokenizer/run.sh [TEXT_FILE]    # default ../shared/fixtures/data/test-persuasion.txt
#
# Needs: `pip install tiktoken`, and a release build of the CLI with `gpt2lab tokenize --time FILE`, which prints
# one JSON object with `seconds_encode` (encoding only, no file read or vocabulary load) and `bytes`, and optionally
# `cpu_seconds_encode` (thread CPU time; steadier than wall time when the machine is busy).
#   swift build -c release -Xswiftc -target-cpu -Xswiftc haswell
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source_text="${1:-$root/../shared/fixtures/data/test-persuasion.txt}"
runs="${RUNS:-5}"
gpt2lab="${GPT2LAB:-$root/.build/release/gpt2lab}"
target_bytes=5000000

[[ -f "$source_text" ]] || { echo "run.sh: no text file at $source_text" >&2; exit 1; }
[[ -x "$gpt2lab" ]] || { echo "run.sh: no gpt2lab binary at $gpt2lab (build with swift build -c release)" >&2; exit 1; }
python3 -c "import tiktoken" 2>/dev/null || { echo "run.sh: python tiktoken missing (pip install tiktoken)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
text="$work/bench.txt"
while [[ ! -s "$text" || $(stat -c %s "$text") -lt $target_bytes ]]; do cat "$source_text" >> "$text"; done

tiktoken_json="$(python3 "$here/tiktoken_bench.py" "$text" --runs "$runs")"

swift_runs="$work/swift.jsonl"
for _ in $(seq "$runs"); do "$gpt2lab" tokenize --time "$text" >> "$swift_runs"; done

python3 - "$tiktoken_json" "$swift_runs" <<'PY'
import json, statistics, sys
tik = json.loads(sys.argv[1])
runs = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
n_bytes = runs[0]["bytes"]
if n_bytes != tik["bytes"]:
    sys.exit(f"byte counts differ: gpt2lab {n_bytes}, tiktoken {tik['bytes']}")
ours = n_bytes / statistics.median(r["seconds_encode"] for r in runs) / 1e6
print(f"text: {n_bytes} bytes, median of {len(runs)} runs each")
print(f"gpt2lab : {ours:8.2f} MB/s")
print(f"tiktoken: {tik['mb_per_s']:8.2f} MB/s")
print(f"ratio gpt2lab/tiktoken: {ours / tik['mb_per_s']:.2f}x (wall clock)")
if all("cpu_seconds_encode" in r for r in runs):
    ours_cpu = n_bytes / statistics.median(r["cpu_seconds_encode"] for r in runs) / 1e6
    print(f"CPU time: gpt2lab {ours_cpu:.2f} MB/s, tiktoken {tik['mb_per_cpu_s']:.2f} MB/s, "
          f"ratio {ours_cpu / tik['mb_per_cpu_s']:.2f}x")
PY
