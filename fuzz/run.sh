#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 60) over a working corpus made of the
# committed seeds (fuzz/corpus/TARGET) plus, for safetensors, prefixes of the fixture
# checkpoints, and for torch, the fixtures' evil.pt and llm.c headers. Usage: fuzz/run.sh BUILD_DIR SECONDS TARGET...  (make fuzz calls it).
# Prints one line per target: inputs run, seconds, result; exits non-zero on any crash.
# FUZZ_WORKERS=N (default 1) runs N fuzzing processes per target side by side on the same
# working corpus (each picks up the others' finds); the inputs line is their sum.
#
# Settings that keep the sanitizer and drop only bookkeeping: libFuzzer's own leak check is off
# (-detect_leaks=0: libhdf5 and the Swift runtime keep caches, so every input looked like a
# leak and was run a second time), ASan records no allocation stacks (malloc_context_size=0;
# a report still shows where the bad access happened) and quarantines 16 MB of freed memory
# rather than 256 MB. Use-after-free, overflows and double frees are still caught.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=$1; seconds=$2; shift 2
workers=${FUZZ_WORKERS:-1}
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
    if [ "$t" = torch ] && [ -d "$fixtures/formats" ]; then
        # the malicious pickle, and llm.c headers with their first parameters (kept out of git)
        cp "$fixtures/formats/evil.pt" "$corpus/evil.pt" 2>/dev/null
        for f in "$fixtures"/formats/tinyb-llmc*.bin; do head -c 4096 "$f" > "$corpus/4k-$(basename "$f")"; done
    fi
    dict=(); [ -f fuzz/$t.dict ] && dict=(-dict=fuzz/$t.dict)
    pids=()
    for w in $(seq 1 "$workers"); do
        SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=0:malloc_context_size=0:quarantine_size_mb=16 \
            "$bin/gpt2lab-fuzz" "$t" "$corpus" fuzz/corpus/$t "${dict[@]}" -detect_leaks=0 \
            -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 \
            -artifact_prefix="$work/crashes-$t/" > "$work/$t.$w.log" 2>&1 &
        pids+=($!)
    done
    rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=$?; done
    runs=0; rates=()
    for w in $(seq 1 "$workers"); do
        n=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.$w.log" | grep -o '[0-9]*$' || echo 0)
        runs=$((runs + ${n:-0}))
        rates+=("$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$work/$t.$w.log" | grep -o '[0-9]*$' || echo "?")/s")
    done
    logs="$work/$t.1.log"; [ "$workers" -gt 1 ] && logs="$work/$t.{1..$workers}.log"
    if [ $rc -eq 0 ]; then echo "fuzz-$t: $runs inputs in ${seconds}s (${rates[*]}), no crash"
    else echo "fuzz-$t: CRASH after $runs inputs (exit $rc); see $logs and $work/crashes-$t/"; status=1; fi
done
exit $status
