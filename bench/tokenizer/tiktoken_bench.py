#!/usr/bin/env python3
"""Times tiktoken's `gpt2` encoding on one text file; prints one JSON object.

    python3 tiktoken_bench.py FILE [--vocab gpt2.tiktoken] [--runs 5] [--threads 1]

Encoding only (file read and vocabulary load are outside the timer), `encode(text, allowed_special={"<|endoftext|>"})`
— the same work as `gpt2lab tokenize --time`. Single-threaded by default (tiktoken's `encode` is single-threaded;
`encode_batch` would spread documents over threads). Output: {"bytes", "tokens", "seconds", "median_s", "mb_per_s", "cpu_seconds", "mb_per_cpu_s"} (wall clock and
this thread's CPU time; the latter is steadier on a busy machine).
"""
import argparse
import json
import pathlib
import statistics
import time

import tiktoken
import tiktoken.load

# tiktoken's own gpt2/r50k_base pattern (tiktoken_ext/openai_public.py).
PAT_STR = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
DEFAULT_VOCAB = pathlib.Path(__file__).resolve().parents[2] / "Sources/Tokenizer/Resources/gpt2.tiktoken"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--vocab", default=str(DEFAULT_VOCAB))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    enc = tiktoken.Encoding(name="gpt2", pat_str=PAT_STR,
                            mergeable_ranks=tiktoken.load.load_tiktoken_bpe(args.vocab),
                            special_tokens={"<|endoftext|>": 50256})
    text = pathlib.Path(args.file).read_bytes().decode("utf-8")  # no newline translation: same bytes as gpt2lab
    n_bytes = len(text.encode("utf-8"))
    enc.encode("warm up", allowed_special={"<|endoftext|>"})
    seconds, cpu_seconds = [], []
    for _ in range(args.runs):
        start, cpu_start = time.perf_counter(), time.thread_time()
        ids = enc.encode(text, allowed_special={"<|endoftext|>"})
        cpu_seconds.append(time.thread_time() - cpu_start)
        seconds.append(time.perf_counter() - start)
    median, median_cpu = statistics.median(seconds), statistics.median(cpu_seconds)
    print(json.dumps({"bytes": n_bytes, "tokens": len(ids), "seconds": seconds, "median_s": median,
                      "mb_per_s": n_bytes / median / 1e6, "cpu_seconds": cpu_seconds,
                      "mb_per_cpu_s": n_bytes / median_cpu / 1e6}))


if __name__ == "__main__":
    main()
