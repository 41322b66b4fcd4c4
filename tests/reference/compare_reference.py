"""Reference values for `gpt2lab compare` (Tests/AnalysisTests/CompareTests.swift), from PyTorch.

Models A = runs/baseline, B = runs/stacked (Raschka layout, loaded by bench/hessian/torch_hvp.py's
minimal GPT-2, whose batch loss matches HF's fixtures); test set data/test-persuasion.bin in
disjoint windows of the models' context (256), HF's recipe (last window shorter). Per scored token,
in float64 from fp32 logits: NLL under each model, KL(A||B) = sum p_A (log p_A - log p_B), and
whether the argmaxes agree. Writes Tests/AnalysisTests/Fixtures/compare-baseline-stacked.json.

    bench/.venv/bin/python tests/reference/compare_reference.py
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "bench", "hessian"))
from torch_hvp import FIXTURES, load_model  # noqa: E402


def main() -> None:
    torch.set_num_threads(2)
    models = []
    for run in ("baseline", "stacked"):
        meta = json.load(open(os.path.join(FIXTURES, "runs", run, "meta.json")))["model"]
        model, _, _ = load_model(os.path.join(FIXTURES, "runs", run, "model.safetensors"), meta)
        models.append(model)
    ids = np.fromfile(os.path.join(FIXTURES, "data", "test-persuasion.bin"), dtype="<u2").astype(np.int64)
    T = 256
    n = len(ids)
    sum_a = np.zeros(T); sum_b = np.zeros(T); count = np.zeros(T, dtype=np.int64)
    kl_sum = 0.0; agree = 0; tokens = 0; deltas = []
    with torch.inference_mode():
        start = 0
        while True:
            end = start + min(T, n - 1 - start)
            x = torch.from_numpy(ids[start:end]).unsqueeze(0)
            y = torch.from_numpy(ids[start + 1:end + 1])
            la = torch.log_softmax(models[0](x)[0].double(), dim=-1)
            lb = torch.log_softmax(models[1](x)[0].double(), dim=-1)
            nll_a = -la.gather(1, y.unsqueeze(1)).squeeze(1)
            nll_b = -lb.gather(1, y.unsqueeze(1)).squeeze(1)
            kl = (la.exp() * (la - lb)).sum(dim=-1)
            t = end - start
            sum_a[:t] += nll_a.numpy(); sum_b[:t] += nll_b.numpy(); count[:t] += 1
            kl_sum += kl.sum().item()
            agree += (la.argmax(-1) == lb.argmax(-1)).sum().item()
            tokens += t
            deltas.append((nll_b - nll_a).numpy())
            if end == n - 1:
                break
            start += T
    d = np.concatenate(deltas)
    out = {
        "source": "tests/reference/compare_reference.py (PyTorch %s, fp32 forward, float64 log-softmax)" % torch.__version__,
        "a": "runs/baseline/model.safetensors", "b": "runs/stacked/model.safetensors",
        "test_set": "data/test-persuasion.bin", "context": T, "tokens_scored": tokens,
        "loss_a": float(sum_a.sum() / tokens), "loss_b": float(sum_b.sum() / tokens),
        "loss_by_position": {"a": (sum_a / count).tolist(), "b": (sum_b / count).tolist()},
        "position_counts": count.tolist(),
        "kl_mean": kl_sum / tokens, "top1_agreement": agree / tokens,
        "delta_quantiles": {k: float(np.quantile(d, q)) for k, q in
                            [("p01", .01), ("p05", .05), ("p25", .25), ("p50", .5), ("p75", .75), ("p95", .95), ("p99", .99)]},
    }
    path = os.path.join(ROOT, "Tests", "AnalysisTests", "Fixtures", "compare-baseline-stacked.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(path, out["loss_a"], out["loss_b"], out["kl_mean"], out["top1_agreement"])


if __name__ == "__main__":
    main()
