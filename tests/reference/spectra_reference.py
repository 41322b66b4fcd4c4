#!/usr/bin/env python3
"""WeightWatcher's layer metrics for the fixture checkpoints, the reference `gpt2lab spectra` is tested against.

Writes Tests/AnalysisTests/Fixtures/spectra-weightwatcher.json, and spectra-weightwatcher-fused.json with each
block's q, k and v weights as one [3C, C] matrix (`--qkv fused`). Never run by the tests.

Set-up (no torch needed):
    python3 -m venv /tmp/ww-venv
    /tmp/ww-venv/bin/pip install weightwatcher==0.7.7 powerlaw safetensors numpy
    /tmp/ww-venv/bin/python tests/reference/spectra_reference.py

The checkpoints are bf16 safetensors in Raschka/gpjt names; each 2-D `*.weight` tensor (widened to float32, as
`.float()` would) becomes one entry of a dict WeightWatcher analyses as a PyTorch state dict. WeightWatcher's
state-dict path type-checks for torch.Tensor even for numpy values; without torch installed the name is undefined,
so a stand-in class is put in its place (it only makes those isinstance-style checks false).

Per matrix: WeightWatcher's alpha, xmin, D, lambda_max (largest eigenvalue of WᵀW, unnormalised), alpha_weighted,
stable_rank, num_evals, its warning; with randomize=True and mp_fit=True (np.random seeded) its own spike counts
(num_spikes from its kernel-density MP fit, rand_num_spikes, max_rand_eval) for context. `spikes_mp_edge` is the
count gpt2lab reports, computed here with scipy: eigenvalues above WeightWatcher's mp_fit bulk edge plus its
Tracy-Widom margin with sigma_mp = 1 on the ESD rescaled to mean 1 (what mp_fit gives for an exactly random W).
WeightWatcher skips matrices with N > max_N = 50000 (the 50257-row token embedding and LM head); those are fitted in
a second pass with max_N raised and marked `ww_default_skipped`. A tied checkpoint stores its one embedding as
`out_head.weight` (tok_emb.weight is the alias in `__metadata__`), so that is the name WeightWatcher sees for it.
"""
import json, os, struct, sys, types

import numpy as np
import scipy.linalg

import weightwatcher as ww
import weightwatcher.weightwatcher as wwmod

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
FIXTURES = os.path.join(ROOT, "..", "shared", "fixtures", "runs")
OUT = os.path.join(ROOT, "Tests", "AnalysisTests", "Fixtures", "spectra-weightwatcher.json")
OUT_FUSED = os.path.join(ROOT, "Tests", "AnalysisTests", "Fixtures", "spectra-weightwatcher-fused.json")


class _NotATensor:  # stands in for torch.Tensor: numpy arrays are never one
    pass


wwmod.torch = types.SimpleNamespace(Tensor=_NotATensor)


def read_bf16_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        body = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        assert info["dtype"] == "BF16", (name, info["dtype"])
        bits = np.frombuffer(body[a:b], dtype="<u2").astype(np.uint32) << 16
        out[name] = bits.view(np.float32).reshape(info["shape"])
    return out


def mp_edge_spikes(evals, N, M):
    """Eigenvalues above WeightWatcher's mp_fit edge (bulk_max + sqrt(TW)) with sigma_mp = 1."""
    Q = N / M
    scale = len(evals) / np.sum(evals)          # mp_fit's Wscale² (mean eigenvalue → 1)
    bulk_max = (1 + 1 / np.sqrt(Q)) ** 2
    tw = 1 / np.sqrt(Q) * np.power(bulk_max, 2 / 3) * np.power(M, -2 / 3)
    edge = (bulk_max + np.sqrt(tw)) / scale
    return int(np.sum(evals > edge)), float(edge)


def analyse(weights, max_N):
    np.random.seed(0)
    watcher = ww.WeightWatcher(model=weights)
    return watcher.analyze(randomize=True, mp_fit=True, max_N=max_N)


def fuse_qkv(weights):
    """Each block's W_query, W_key, W_value ([C, C] each, nn.Linear's [out, in]) as one [3C, C] matrix: the
    matrix HF's fused c_attn (Conv1D [C, 3C]) is up to a transpose, which leaves its ESD unchanged."""
    out = {}
    for k, v in weights.items():
        if ".att.W_query." in k:
            out[k.replace("W_query", "W_qkv")] = np.concatenate(
                [v, weights[k.replace("W_query", "W_key")], weights[k.replace("W_query", "W_value")]], axis=0)
        elif ".att.W_key." not in k and ".att.W_value." not in k:
            out[k] = v
    return out


def run(name, file="model.safetensors", fused=False):
    tensors = read_bf16_safetensors(os.path.join(FIXTURES, name, file))
    weights = {k: v for k, v in tensors.items() if k.endswith(".weight") and v.ndim == 2}
    if fused:
        weights = fuse_qkv(weights)
    default = analyse(weights, 50000)
    extra = analyse({k: v for k, v in weights.items() if max(v.shape) > 50000}, 10**6)
    rows = []
    for details, skipped in ((default, False), (extra, True)):
        for _, r in details.iterrows():
            W = weights[r["longname"] + ".weight"].astype(np.float64)
            sv = scipy.linalg.svd(W, compute_uv=False)
            evals = np.sort(sv * sv)
            spikes, edge = mp_edge_spikes(evals, max(W.shape), min(W.shape))
            rows.append({
                "name": r["longname"] + ".weight", "shape": list(W.shape), "ww_default_skipped": skipped,
                "alpha": float(r["alpha"]), "xmin": float(r["xmin"]), "D": float(r["D"]),
                "lambda_max": float(r["lambda_max"]), "alpha_weighted": float(r["alpha_weighted"]),
                "stable_rank": float(r["stable_rank"]), "num_evals": int(r["num_evals"]),
                "num_pl_spikes": int(r["num_pl_spikes"]), "warning": r["warning"],
                "spikes_mp_edge": spikes, "mp_edge": edge,
                "ww_num_spikes": int(r["num_spikes"]), "ww_rand_num_spikes": int(r["rand_num_spikes"]),
                "ww_max_rand_eval": float(r["max_rand_eval"]),
                "evals_smallest": evals[:3].tolist(), "evals_largest": evals[-3:].tolist(),
            })
    summary = {"mean_alpha": float(default["alpha"].mean()),
               "mean_alpha_weighted": float(default["alpha_weighted"].mean())}
    return {"checkpoint": f"runs/{name}/{file}", "matrices": rows, "ww_summary": summary}


def main():
    out = {"weightwatcher": ww.__version__, "numpy": np.__version__,
           "runs": [run("baseline"), run("reference"),
                    # the baseline's step checkpoints: the report's spectra across training steps
                    run("baseline", "step-000571.safetensors"), run("baseline", "step-001143.safetensors")]}
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", OUT)
    # `gpt2lab spectra --qkv fused`: the attention weight whole, as WeightWatcher sees an HF GPT2LMHeadModel's c_attn
    fused = {"weightwatcher": ww.__version__, "numpy": np.__version__,
             "runs": [run("baseline", fused=True), run("reference", fused=True)]}
    with open(OUT_FUSED, "w") as f:
        json.dump(fused, f, indent=1)
        f.write("\n")
    print("wrote", OUT_FUSED)


if __name__ == "__main__":
    sys.exit(main())
