#!/usr/bin/env bash
# All benchmarks, side by side with their Python references (see bench/README.md).
#   make bench            (builds release first)
#   bench/run.sh [BIN]    (default .build/release/gpt2lab)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/gpt2lab}
echo "== score: gpt2lab vs HF transformers (GPT-2 small shape, fp32, CPU)"
bench/score/run.sh "$BIN"
echo "== tokenizer: gpt2lab vs tiktoken"
GPT2LAB="$BIN" bench/tokenizer/run.sh
echo "== hessian: HVP vs forward+backward, gpt2lab vs PyTorch double backprop"
GPT2LAB="$BIN" bench/hessian/run.sh
