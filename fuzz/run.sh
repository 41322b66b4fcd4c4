#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 60) over a working corpus made of the
# committed seeds (fuzz/corpus/TARGET) plus, for safetensors, prefixes of the fixture
# checkpoints. Usage: fuzz/run.sh BUILD_DIR SECONDS TARGET...  (make fuzz calls it).
# Prints one line per target: inputs run, seconds, result; exits non-zero on any crash.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=$1; seconds=$2; shift 2
work=.build-fuzz-asan/work; mkdir -p "$work"
fixtures=../shared/fixtures
status=0
for t in "$@"; do
    corpus=$work/corpus-$t; mkdir -p "$corpus" "$work/crashes-$t"
    if [ "$t" = safetensors ] && [ -d "$fixtures" ]; then
        # header-only and 4 KiB prefixes of the big checkpoints (kept out of git: generated here)
        for f in "$fixtures"/layouts/*.safetensors "$fixtures"/runs/reference/model.safetensors "$fixtures"/data/*.safetensors; do
            [ -f "$f" ] || continue
            n=$(od -An -t u8 -N8 "$f" | tr -d ' ')
            base=$(basename "$(dirname "$f")")-$(basename "$f")
            head -c $((8 + n)) "$f" > "$corpus/hdr-$base"
            head -c 4096 "$f" > "$corpus/4k-$base"
        done
    fi
    dict=(); [ -f fuzz/$t.dict ] && dict=(-dict=fuzz/$t.dict)
    log=$work/$t.log
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=0 "$bin/fuzz-$t" "$corpus" fuzz/corpus/$t "${dict[@]}" \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 \
        -artifact_prefix="$work/crashes-$t/" > "$log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    secs=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    if [ $rc -eq 0 ]; then echo "fuzz-$t: $runs inputs in ${seconds}s ($secs/s), no crash"
    else echo "fuzz-$t: CRASH after $runs inputs (exit $rc); see $log and $work/crashes-$t/"; status=1; fi
done
exit $status
