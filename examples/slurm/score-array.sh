#!/usr/bin/env bash
# Score one checkpoint on a big test set as a Slurm job array, then merge the parts.
#
#   sbatch --array=0-7 examples/slurm/score-array.sh CKPT TOKENS OUTDIR
#
# Each array task scores shard $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT (contiguous whole
# batches of windows) and writes OUTDIR/part-K.json atomically. A dependent job merges them:
#
#   jid=$(sbatch --parsable --array=0-7 examples/slurm/score-array.sh ckpt.safetensors tokens.bin out)
#   sbatch --dependency=afterok:$jid --wrap "gpt2lab merge out/part-*.json --out out/score.json"
#
# The merged loss equals an unsharded `gpt2lab score` bit for bit (same --batch and settings).
#SBATCH --job-name=gpt2lab-score
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=04:00:00
#SBATCH --output=gpt2lab-score-%A_%a.log
set -euo pipefail
CKPT=${1:?checkpoint}
TOKENS=${2:?test set}
OUT=${3:?output folder}
K=${SLURM_ARRAY_TASK_ID:?run with sbatch --array}
N=${SLURM_ARRAY_TASK_COUNT:?run with sbatch --array}
mkdir -p "$OUT"
# All tokens by default; SKIP and MAX_TOKENS select a slice, e.g. gpjt's protocol (skip the first 50M tokens,
# score the next 19,660,800 = 3200 batches × 6 × 1024): sbatch --export=ALL,SKIP=50000000,MAX_TOKENS=19660800 ...
gpt2lab score "$CKPT" --test-set "$TOKENS" --skip "${SKIP:-0}" ${MAX_TOKENS:+--max-tokens "$MAX_TOKENS"} \
    --threads "${SLURM_CPUS_PER_TASK:-2}" --shard "$K/$N" --out "$OUT/part-$K.json"
