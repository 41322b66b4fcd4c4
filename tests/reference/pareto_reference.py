#!/usr/bin/env python3
"""A synthetic ESD with a known power-law tail, and WeightWatcher's fit of it, for gpt2lab's power-law fit tests.

Writes Tests/AnalysisTests/Fixtures/pareto-sample.json: 1500 draws from a continuous power law with alpha = 2.5 above
xmin = 0.5 (inverse CDF of numpy uniforms, seed 7) plus 500 uniform draws in [0.01, 0.5) below it (a "bulk"), and the
result of WeightWatcher's own default fit (weightwatcher.WW_powerlaw.WWFit on the values above 1e-5). Never run by
the tests. Set-up: see spectra_reference.py.
"""
import json, os

import numpy as np
from weightwatcher.WW_powerlaw import WWFit

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "AnalysisTests", "Fixtures", "pareto-sample.json")
ALPHA, XMIN = 2.5, 0.5

rng = np.random.default_rng(7)
tail = XMIN * (1 - rng.random(1500)) ** (-1 / (ALPHA - 1))
bulk = rng.uniform(0.01, XMIN, 500)
sample = np.concatenate([tail, bulk])
rng.shuffle(sample)
fit = WWFit(sample[sample > 1e-5])
out = {"true_alpha": ALPHA, "true_xmin": XMIN, "values": sample.tolist(),
       "ww_fit": {"alpha": float(fit.alpha), "xmin": float(fit.xmin), "D": float(fit.D), "sigma": float(fit.sigma),
                  "tail_count": int(np.sum(sample >= fit.xmin))}}
with open(OUT, "w") as f:
    json.dump(out, f)
    f.write("\n")
print("wrote", OUT, out["ww_fit"])
