"""Reference test losses across training steps for the report's `loss_across_steps`
(Tests/AnalysisTests/StepLossTests.swift), from HF transformers.

Checkpoints: the fixtures' baseline run at steps 571 and 1143 (runs/baseline/step-*.safetensors) and its final
checkpoint (model.safetensors, step 2286 from meta.json), mapped onto HF's GPT2LMHeadModel by bench/evals/hf_evals.py's
`load_raschka` (Q/K/V concatenated into c_attn, nn.Linear weights transposed into Conv1D). The final checkpoint's loss
is also checked against expected/baseline.json (HF's own number, computed elsewhere) to 1e-5, which checks the
mapping. Test set: data/test-persuasion.bin in disjoint windows of the model's context (256; HF's strided recipe
with stride = context, the last window shorter). Per window, Σ NLL in float64 from fp32 logits. Writes
Tests/AnalysisTests/Fixtures/step-losses.json.

    bench/.venv/bin/python tests/reference/step_losses.py [FIXTURES_DIR]   (default ../shared/fixtures)
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "bench", "evals"))
from hf_evals import load_raschka  # noqa: E402


def window_nll_sums(model, ids: torch.Tensor):
    T, n = model.config.n_positions, ids.numel()
    sums, counts, b = [], [], 0
    with torch.no_grad():
        while b < n - 1:
            e = min(b + T, n - 1)
            logits = model(input_ids=ids[b:e].unsqueeze(0), use_cache=False).logits[0]      # (t, V) fp32
            sums.append(F.cross_entropy(logits.double(), ids[b + 1:e + 1], reduction="sum").item())
            counts.append(e - b)
            b = e
    return sums, counts


def main() -> int:
    torch.set_num_threads(2)
    fixtures = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "fixtures"))
    run = os.path.join(fixtures, "runs", "baseline")
    meta = json.load(open(os.path.join(run, "meta.json")))
    ids = torch.from_numpy(np.fromfile(os.path.join(fixtures, "data", "test-persuasion.bin"), dtype="<u2").astype(np.int64))
    files = [("step-000571.safetensors", 571), ("step-001143.safetensors", 1143), ("model.safetensors", meta["steps"])]
    out = []
    for name, step in files:
        model = load_raschka(os.path.join(run, name), meta)
        sums, counts = window_nll_sums(model, ids)
        loss = sum(sums) / sum(counts)
        if name == "model.safetensors":
            want = json.load(open(os.path.join(fixtures, "expected", "baseline.json")))["tests"]["test-persuasion"]["stride_256"]["loss"]
            assert abs(loss - want) < 1e-5, (loss, want)
        out.append({"run": "baseline", "file": name, "step": step, "loss": loss, "tokens_scored": sum(counts),
                    "window_nll_sums": sums})
        print(f"{name}: step {step} loss {loss:.6f} over {len(sums)} windows")
    doc = {"source": "tests/reference/step_losses.py (HF transformers GPT2LMHeadModel, fp32, float64 NLL sums)",
           "test_set": "data/test-persuasion.bin", "context": 256, "stride": 256,
           "torch": torch.__version__, "transformers": __import__("transformers").__version__, "checkpoints": out}
    path = os.path.join(ROOT, "Tests", "AnalysisTests", "Fixtures", "step-losses.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
