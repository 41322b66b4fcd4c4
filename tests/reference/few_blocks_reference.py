"""Reference values for the window bootstrap on few blocks (Tests/ReportTests/FewBlocksTests.swift), from numpy,
scipy and arch, independent of gpt2lab's Swift.

When a series of n windows holds k = floor(n / block) < 10 whole blocks, gpt2lab's Statistics.swift gives the
interval estimate ± t_{k-1}(0.975) · sd and the two-sided p = 2 · (1 − T_{k-1}(|estimate| / sd)), floored at 1/B,
where sd is the standard deviation (ddof 1) of the same circular block bootstrap replicates the percentile interval
would use (reproduced bit for bit with frequency_calibration_reference.py's SplitMix64 resampling), and the block
length is ceil of arch's optimal_block_length (circular) of the ratio's linearisation value − estimate · count.

Series: the fixtures' HF per-window losses (expected/RUN.json, test-persuasion, stride 256), times 256 tokens per
window as NLL sums: the paired differences wd-0.01 − baseline over the first 16 windows and reference − baseline over
the first 24, and the baseline's own loss over the first 16. Writes Tests/ReportTests/Fixtures/few-blocks.json.

    python3 tests/reference/few_blocks_reference.py
"""
import json
import os

import numpy as np
from scipy import stats

from frequency_calibration_reference import FIXTURES, ROOT, block_length, bootstrap_indices

B, LEVEL, COUNT = 2000, 0.95, 256


def windows(run, n):
    d = json.load(open(os.path.join(FIXTURES, "expected", run + ".json")))
    return np.array(d["tests"]["test-persuasion"]["per_window_loss"][:n], dtype=np.float64) * COUNT


def few_blocks(values):
    n = len(values)
    counts = np.full(n, COUNT, dtype=np.float64)
    estimate = values.sum() / counts.sum()
    block = block_length(values - estimate * counts)
    k = n // block
    assert k < 10, "the series must hold fewer than 10 whole blocks"
    idx = bootstrap_indices(n, B, seed=0, block=block)
    reps = values[idx].sum(axis=1) / counts[idx].sum(axis=1)
    sd = reps.std(ddof=1)
    half = stats.t.ppf(1 - (1 - LEVEL) / 2, k - 1) * sd
    p = 2 * stats.t.sf(abs(estimate) / sd, k - 1)
    return {"n": n, "block": block, "whole_blocks": k, "estimate": estimate, "sd": sd,
            "lo": estimate - half, "hi": estimate + half, "p_value": min(1.0, max(1.0 / B, p)),
            "values": values.tolist()}


def main():
    base16, base24 = windows("baseline", 16), windows("baseline", 24)
    out = {"source": "tests/reference/few_blocks_reference.py (numpy %s)" % np.__version__,
           "resamples": B, "seed": 0, "level": LEVEL, "count_per_window": COUNT,
           "delta_wd_16": few_blocks(windows("wd-0.01", 16) - base16),
           "delta_reference_24": few_blocks(windows("reference", 24) - base24),
           "loss_baseline_16": few_blocks(base16)}
    path = os.path.join(ROOT, "Tests", "ReportTests", "Fixtures", "few-blocks.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    for k, v in out.items():
        if isinstance(v, dict):
            print("%-17s n %d block %d k %d  %.6f [%.6f, %.6f] p %.4f" % (k, v["n"], v["block"], v["whole_blocks"],
                  v["estimate"], v["lo"], v["hi"], v["p_value"]))
    print(path)


if __name__ == "__main__":
    main()
