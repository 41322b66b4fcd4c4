"""Reference block lengths for the window bootstrap (Tests/AnalysisTests/BlockLengthTests.swift): the
`arch` package's `optimal_block_length` (Politis & White 2004, with Patton, Politis & White's 2009
correction), its "circular" column, on
- AR(1) series x_t = phi·x_{t-1} + e_t (numpy's default_rng, seeds below) for several phi and lengths;
- the fixture runs' HF per-window losses on test-persuasion (expected/*.json `per_window_loss`, 450
  windows of 256 tokens in test-set order), each run's, and the paired differences stacked − baseline and
  baseline-seed67 − baseline, the series a report's loss and Δ intervals resample.
Writes Tests/AnalysisTests/Fixtures/block-length-arch.json.

    python3 -m venv /tmp/arch && /tmp/arch/bin/pip install arch numpy
    /tmp/arch/bin/python tests/reference/block_length_reference.py
"""
import json
import os

import arch
import numpy as np
from arch.bootstrap import optimal_block_length

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
FIXTURES = os.path.join(ROOT, "..", "shared", "fixtures")


def ar1(phi, n, seed):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n)
    x = np.empty(n)
    x[0] = e[0]
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def main():
    series = []
    for phi, n, seed in [(0.0, 400, 1), (0.3, 400, 2), (0.6, 400, 3), (0.9, 1000, 4), (-0.4, 300, 5), (0.6, 50, 6), (0.5, 5000, 7)]:
        series.append({"name": "ar1 phi=%g n=%d seed=%d" % (phi, n, seed), "values": ar1(phi, n, seed).tolist()})
    window = {}
    for run in ("baseline", "baseline-seed67", "stacked"):
        d = json.load(open(os.path.join(FIXTURES, "expected", run + ".json")))
        window[run] = np.array(d["tests"]["test-persuasion"]["per_window_loss"])
        series.append({"name": "per-window loss " + run, "values": window[run].tolist()})
    for run in ("stacked", "baseline-seed67"):
        series.append({"name": "per-window loss %s - baseline" % run, "values": (window[run] - window["baseline"]).tolist()})
    for s in series:
        s["circular"] = float(optimal_block_length(np.array(s["values"]))["circular"].iloc[0])
        print("%-45s n=%5d  b_cb = %.6f" % (s["name"], len(s["values"]), s["circular"]))
    out = {"source": "tests/reference/block_length_reference.py (arch %s, numpy %s)" % (arch.__version__, np.__version__),
           "series": series}
    path = os.path.join(ROOT, "Tests", "AnalysisTests", "Fixtures", "block-length-arch.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print(path)


if __name__ == "__main__":
    main()
