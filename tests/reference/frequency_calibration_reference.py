"""Reference values for `compare`'s Δ by token-frequency bucket and next-token calibration
(Tests/AnalysisTests/FrequencyCalibrationTests.swift), from numpy (no PyTorch needed) and arch's
optimal_block_length for the bootstrap's block length.

Models A = runs/baseline, B = runs/stacked (Raschka layout, bf16 safetensors read here byte by byte),
run by a minimal GPT-2 forward written here in float64 (LayerNorm eps 1e-5, tanh GELU, causal attention);
its per-token NLLs reproduce PyTorch's loss, KL and top-1 agreement in compare-baseline-stacked.json
(checked below, the script stops on a mismatch). Test set data/test-persuasion.bin in disjoint windows
of 256 (HF's recipe, last window shorter), as compare_reference.py.

Per scored token: NLL under each model, confidence = max softmax probability, correct = argmax == target.
- Buckets: types ranked by count (descending, ties by token id); ranks 1-10, 11-100, 101-1000,
  1001-10000, > 10000, and unseen (count 0). Two frequency sources: the test set itself (every token it
  holds; no unseen bucket) and "training data" = its first 50,000 tokens (so later tokens can be unseen).
- Per bucket: tokens, mean NLL A and B, Δ = B − A, and the paired circular block bootstrap of gpt2lab's
  Statistics.swift reproduced bit for bit: block length ℓ = ⌈arch's optimal_block_length (circular)⌉ of the
  per-window linearisation d_w − Δ·count_w (at least 1); each replicate ⌈n/ℓ⌉ blocks of ℓ consecutive
  windows (wrapping), cut to n, each block's start one SplitMix64 draw (seed 0, consecutive over the
  replicates) mapped by Lemire (high 64 bits of draw × n);
  2000 replicates, Δ* = Σ_w (sumB − sumA) / Σ_w count over the drawn windows (a replicate that
  draws none of the bucket's tokens has no Δ* and is left out; none does in this fixture's buckets),
  95% percentile interval (numpy's linear quantile), p = min(1, max(1/B, 2·min(P(Δ* ≤ 0), P(Δ* ≥ 0)))).
- ECE over 15 equal-width bins ((m−1)/15, m/15] (Guo et al. 2017): Σ (n_b/N)|acc_b − conf_b|.
Writes Tests/AnalysisTests/Fixtures/frequency-calibration-baseline-stacked.json.

    python3 tests/reference/frequency_calibration_reference.py
"""
import json
import os
import struct

import numpy as np
from arch.bootstrap import optimal_block_length

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
FIXTURES = os.path.join(ROOT, "..", "shared", "fixtures")
T = 256
TRAIN_PREFIX = 50_000
EDGES = [10, 100, 1000, 10000]
BINS = 15
MASK64 = (1 << 64) - 1


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        lo, hi = v["data_offsets"]
        assert v["dtype"] == "BF16", v["dtype"]
        raw = np.frombuffer(data[lo:hi], dtype="<u2").astype(np.uint32) << 16
        out[name] = raw.view(np.float32).astype(np.float64).reshape(v["shape"])
    return out


def layer_norm(x, g, b):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + 1e-5) * g + b


def hidden(w, meta, idx):
    """Final-LayerNorm output (b, t, d) for token ids idx (b, t)."""
    b, t = idx.shape
    d, h = meta["emb_dim"], meta["n_heads"]
    hd = d // h
    x = w["tok_emb.weight"][idx] + w["pos_emb.weight"][:t]
    causal = np.triu(np.ones((t, t), dtype=bool), 1)
    for layer in range(meta["n_layers"]):
        p = "trf_blocks.%d." % layer
        y = layer_norm(x, w[p + "norm1.scale"], w[p + "norm1.shift"])
        q, k, v = (y @ w[p + "att.W_%s.weight" % s].T + w.get(p + "att.W_%s.bias" % s, 0) for s in ("query", "key", "value"))
        q, k, v = (z.reshape(b, t, h, hd).transpose(0, 2, 1, 3) for z in (q, k, v))
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd)
        s[:, :, causal] = -np.inf
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, t, d)
        x = x + ctx @ w[p + "att.out_proj.weight"].T + w[p + "att.out_proj.bias"]
        y = layer_norm(x, w[p + "norm2.scale"], w[p + "norm2.shift"])
        u = y @ w[p + "ff.layers.0.weight"].T + w[p + "ff.layers.0.bias"]
        u = 0.5 * u * (1 + np.tanh(np.sqrt(2 / np.pi) * (u + 0.044715 * u ** 3)))
        x = x + u @ w[p + "ff.layers.2.weight"].T + w[p + "ff.layers.2.bias"]
    return layer_norm(x, w["final_norm.scale"], w["final_norm.shift"])


def per_token(models, ids):
    """Per scored token, in window order: window index, target, and per model NLL, confidence, argmax; and KL(A||B)."""
    n = len(ids)
    starts = list(range(0, n - 1, T))
    rows = {"window": [], "target": [], "kl": []}
    for m in range(2):
        rows.update({"nll%d" % m: [], "conf%d" % m: [], "argmax%d" % m: []})
    for wi, start in enumerate(starts):
        end = start + min(T, n - 1 - start)
        x, y = ids[start:end][None, :], ids[start + 1:end + 1]
        logp = []
        for m, (w, meta) in enumerate(models):
            z = hidden(w, meta, x)[0] @ w["out_head.weight"].T
            mx = z.max(-1, keepdims=True)
            lse = mx[:, 0] + np.log(np.exp(z - mx).sum(-1))
            lp = z - lse[:, None]
            rows["nll%d" % m].append(-lp[np.arange(len(y)), y])
            rows["conf%d" % m].append(np.exp(mx[:, 0] - lse))
            rows["argmax%d" % m].append(z.argmax(-1))
            logp.append(lp)
        rows["kl"].append((np.exp(logp[0]) * (logp[0] - logp[1])).sum(-1))
        rows["window"].append(np.full(len(y), wi))
        rows["target"].append(y)
    return {k: np.concatenate(v) for k, v in rows.items()}, len(starts)


def bootstrap_indices(n, resamples, seed=0, block=1):
    """gpt2lab's circular block resampling of 0..<n: per replicate ceil(n/block) block starts (SplitMix64 draws,
    Lemire-mapped to 0..<n), each followed by block - 1 consecutive indices mod n, cut to n; (resamples, n)."""
    blocks = -(-n // block)
    starts = splitmix_below(n, resamples * blocks, seed).reshape(resamples, blocks)
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]) % n
    return idx.reshape(resamples, blocks * block)[:, :n]


def block_length(residuals):
    """ceil of arch's optimal circular block length, at least 1 (1 when undefined), at most n."""
    if len(residuals) < 2 or not np.any(residuals - residuals.mean()):
        return 1
    b = float(optimal_block_length(residuals)["circular"].iloc[0])
    return 1 if not np.isfinite(b) else int(min(max(1, np.ceil(b)), len(residuals)))


def splitmix_below(n, count, seed=0):
    """count SplitMix64 draws (seed), each Lemire-mapped to 0..<n."""
    k = np.arange(1, count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + k * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        hi, lo = z >> np.uint64(32), z & np.uint64(0xFFFFFFFF)
        nn = np.uint64(n)
        idx = (hi * nn + ((lo * nn) >> np.uint64(32))) >> np.uint64(32)
    return idx.astype(np.int64)


def buckets(tok, n_windows, counts, from_test_set):
    seen = np.flatnonzero(counts > 0)
    order = seen[np.lexsort((seen, -counts[seen]))]
    rank = np.zeros(len(counts), dtype=np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    bucket_of = np.where(rank == 0, len(EDGES) + 1, np.searchsorted(EDGES, rank, side="left"))
    out = []
    labels = ["1-10", "11-100", "101-1000", "1001-10000", ">10000", "unseen"]
    for k, label in enumerate(labels):
        if label == "unseen" and from_test_set:
            continue
        ids = np.flatnonzero(bucket_of == k)
        sel = bucket_of[tok["target"]] == k
        n = int(sel.sum())
        entry = {"label": label, "types": int(len(ids)), "count_max": int(counts[ids].max()) if len(ids) else 0,
                 "count_min": int(counts[ids].min()) if len(ids) else 0, "tokens": n}
        if n:
            sa = np.bincount(tok["window"][sel], weights=tok["nll0"][sel], minlength=n_windows)
            sb = np.bincount(tok["window"][sel], weights=tok["nll1"][sel], minlength=n_windows)
            c = np.bincount(tok["window"][sel], minlength=n_windows)
            d = sb - sa
            block = block_length(d - d.sum() / n * c)
            idx = bootstrap_indices(n_windows, 2000, block=block)
            drawn = c[idx].sum(1)
            reps = np.sort(d[idx].sum(1)[drawn > 0] / drawn[drawn > 0])
            B = len(reps)
            p = min(1.0, max(1 / B, 2 * min((reps <= 0).mean(), (reps >= 0).mean())))
            entry.update({"loss_a": sa.sum() / n, "loss_b": sb.sum() / n, "delta": d.sum() / n,
                          "delta_lo": float(np.quantile(reps, 0.025)), "delta_hi": float(np.quantile(reps, 0.975)),
                          "p_value": p, "block": block})
        out.append(entry)
    return out


def calibration(conf, correct):
    b = np.clip(np.ceil(conf * BINS).astype(np.int64) - 1, 0, BINS - 1)
    N = len(conf)
    bins, ece = [], 0.0
    for m in range(BINS):
        s = b == m
        k = int(s.sum())
        if k:
            c, a = conf[s].mean(), correct[s].mean()
            ece += k / N * abs(a - c)
            bins.append({"tokens": k, "confidence": c, "accuracy": a})
        else:
            bins.append({"tokens": 0, "confidence": None, "accuracy": None})
    # How many tokens lie within 1e-6 of a bin edge (f32 vs f64 could put them in the neighbour bin).
    near = int((np.abs(conf * BINS - np.round(conf * BINS)) < 1e-6 * BINS).sum())
    return {"ece": ece, "accuracy": correct.mean(), "confidence": conf.mean(), "bins": bins, "near_edge": near}


def main():
    models = []
    for run in ("baseline", "stacked"):
        meta = json.load(open(os.path.join(FIXTURES, "runs", run, "meta.json")))["model"]
        models.append((read_safetensors(os.path.join(FIXTURES, "runs", run, "model.safetensors")), meta))
    ids = np.fromfile(os.path.join(FIXTURES, "data", "test-persuasion.bin"), dtype="<u2").astype(np.int64)
    tok, n_windows = per_token(models, ids)
    # The forward written here against PyTorch's values for the same pair.
    ref = json.load(open(os.path.join(ROOT, "Tests", "AnalysisTests", "Fixtures", "compare-baseline-stacked.json")))
    check = {"loss_a": tok["nll0"].mean(), "loss_b": tok["nll1"].mean(), "kl_mean": tok["kl"].mean(),
             "top1_agreement": (tok["argmax0"] == tok["argmax1"]).mean()}
    for k, v in check.items():
        print("%-15s numpy %.9f  PyTorch %.9f  |diff| %.2e" % (k, v, ref[k], abs(v - ref[k])))
        assert abs(v - ref[k]) < (2e-4 if k == "top1_agreement" else 2e-6), k
    V = 50257
    out = {
        "source": "tests/reference/frequency_calibration_reference.py (numpy %s, float64 forward)" % np.__version__,
        "a": "runs/baseline/model.safetensors", "b": "runs/stacked/model.safetensors",
        "test_set": "data/test-persuasion.bin", "context": T, "windows": n_windows, "tokens_scored": len(tok["target"]),
        "bootstrap": {"resamples": 2000, "seed": 0, "level": 0.95},
        "frequencies_test_set": buckets(tok, n_windows, np.bincount(ids, minlength=V), True),
        "train_prefix_tokens": TRAIN_PREFIX,
        "frequencies_train_prefix": buckets(tok, n_windows, np.bincount(ids[:TRAIN_PREFIX], minlength=V), False),
        "calibration": {"a": calibration(tok["conf0"], (tok["argmax0"] == tok["target"]).astype(np.float64)),
                        "b": calibration(tok["conf1"], (tok["argmax1"] == tok["target"]).astype(np.float64))},
    }
    path = os.path.join(ROOT, "Tests", "AnalysisTests", "Fixtures", "frequency-calibration-baseline-stacked.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    for name in ("frequencies_test_set", "frequencies_train_prefix"):
        print(name)
        for b in out[name]:
            print("  %-11s %6d  %s" % (b["label"], b["tokens"], "" if not b["tokens"] else
                  "A %.4f B %.4f Δ %+.4f [%+.4f, %+.4f] p %.4f block %d" % (b["loss_a"], b["loss_b"], b["delta"], b["delta_lo"], b["delta_hi"], b["p_value"], b["block"])))
    for m in ("a", "b"):
        c = out["calibration"][m]
        print("ECE %s %.6f  accuracy %.6f  confidence %.6f  near an edge %d" % (m, c["ece"], c["accuracy"], c["confidence"], c["near_edge"]))
    print(path)


if __name__ == "__main__":
    main()
