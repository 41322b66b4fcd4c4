"""Independent reference for ReportTests.testMeanStdMatchNumpy: numpy's mean and std (ddof=1) of the
HF per-window losses of the baseline run (../shared/fixtures/expected/baseline.json, stride 256),
and the token-weighted loss from those windows. Run from the repository root:
    python3 Tests/ReportTests/Fixtures/make_window_stats.py
"""
import json
import numpy as np

src = json.load(open("../shared/fixtures/expected/baseline.json"))
t = src["tests"]["test-persuasion"]
w = np.array(t["per_window_loss"], dtype=np.float64)
# disjoint windows of 256 over 115,031 tokens: 449 full windows of 256 targets, the last one shorter
n_scored = t["stride_256"]["tokens_scored"]
counts = np.full(len(w), 256, dtype=np.float64)
counts[-1] = n_scored - 256 * (len(w) - 1)
out = {
    "source": "shared/fixtures/expected/baseline.json tests.test-persuasion.per_window_loss (HF transformers)",
    "per_window_loss": w.tolist(),
    "counts": counts.astype(int).tolist(),
    "mean": float(np.mean(w)),
    "std_ddof1": float(np.std(w, ddof=1)),
    "weighted_loss": float(np.sum(w * counts) / np.sum(counts)),
    "hf_loss": t["stride_256"]["loss"],
}
json.dump(out, open("Tests/ReportTests/Fixtures/window_stats.json", "w"), indent=1)
print(out["mean"], out["std_ddof1"], out["weighted_loss"], out["hf_loss"])
