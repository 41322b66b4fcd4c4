#!/usr/bin/env python3
"""Score a token file with ONNX Runtime (CPU, fp32) on an ONNX export of HF's GPT2LMHeadModel with the loss in
the graph: the third side of the score benchmark.

The graph (a plain-torch GPT-2 over the checkpoint's tensors, exported once with torch.onnx.export, TorchScript
exporter, opset 17, cached next to the model as model-loss.onnx + its external weights) takes input_ids (1, T) int64 and labels (T) int64 and
returns the per-token NLL (T) float32: log_softmax of the logits, gathered at the labels. Windows and scoring
follow hf_score.py (HF's strided recipe; only the last n_scored positions of each window count; float64 sum).
One untimed warm-up window; `seconds` covers the windows only. ORT: intra_op_num_threads = --threads,
inter_op 1, sequential execution, graph optimisations ORT_ENABLE_ALL.

Prints one JSON line: {"impl":"ort","loss","tokens_scored","seconds","tokens_per_second","peak_rss_mb",
"onnxruntime","threads",...}; peak_rss_mb is getrusage ru_maxrss of this process (export excluded: it runs in a
child process when the .onnx file is missing).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
sys.path.insert(0, HERE)
from hf_score import windows  # noqa: E402


def export(model_dir: str, path: str) -> None:
    """A plain-torch GPT-2 on the HF checkpoint's tensors (transformers' own GPT2LMHeadModel does not export:
    its mask code uses aten::diff, which the TorchScript exporter lacks), with the NLL at the end."""
    import math
    import torch
    import torch.nn.functional as F
    from safetensors.torch import load_file

    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    sd = {k.removeprefix("transformer."): v for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items()}
    C, NH, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)

    class GPT2WithLoss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.ParameterDict({k.replace(".", "_"): torch.nn.Parameter(v.float(), requires_grad=False)
                                             for k, v in sd.items()})

        def w(self, name):
            return self.p[name.replace(".", "_")]

        def forward(self, input_ids, labels):  # (1, T), (T) -> nll (T)
            T = input_ids.shape[1]
            x = self.w("wte.weight")[input_ids[0]] + self.w("wpe.weight")[:T]  # (T, C)
            mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
            for l in range(L):
                h = f"h.{l}."
                y = F.layer_norm(x, (C,), self.w(h + "ln_1.weight"), self.w(h + "ln_1.bias"), eps)
                qkv = y @ self.w(h + "attn.c_attn.weight") + self.w(h + "attn.c_attn.bias")  # Conv1D: (C, 3C)
                q, k, v = (t.view(T, NH, C // NH).transpose(0, 1) for t in qkv.split(C, dim=1))  # (NH, T, hs)
                s = (q @ k.transpose(1, 2)) / math.sqrt(C // NH)
                a = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1) @ v
                x = x + a.transpose(0, 1).reshape(T, C) @ self.w(h + "attn.c_proj.weight") + self.w(h + "attn.c_proj.bias")
                y = F.layer_norm(x, (C,), self.w(h + "ln_2.weight"), self.w(h + "ln_2.bias"), eps)
                y = F.gelu(y @ self.w(h + "mlp.c_fc.weight") + self.w(h + "mlp.c_fc.bias"), approximate="tanh")
                x = x + y @ self.w(h + "mlp.c_proj.weight") + self.w(h + "mlp.c_proj.bias")
            x = F.layer_norm(x, (C,), self.w("ln_f.weight"), self.w("ln_f.bias"), eps)
            head = self.w("lm_head.weight") if "lm_head.weight" in sd else self.w("wte.weight")
            logp = torch.log_softmax(x @ head.t(), dim=-1)  # (T, V)
            return -logp.gather(1, labels.unsqueeze(1)).squeeze(1)

    x = torch.zeros(1, 16, dtype=torch.int64)
    y = torch.zeros(16, dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(GPT2WithLoss().eval(), (x, y), path, input_names=["input_ids", "labels"], output_names=["nll"],
                          dynamic_axes={"input_ids": {1: "T"}, "labels": {0: "T"}, "nll": {0: "T"}},
                          opset_version=17, dynamo=False, external_data=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DATA, help="HF model directory (config.json + model.safetensors)")
    ap.add_argument("--test-set", default=os.path.join(DATA, "tokens.bin"), help="uint16 LE token file")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--stride", type=int, default=None)
    ap.add_argument("--export-only", action="store_true", help="write model-loss.onnx and exit")
    args = ap.parse_args()

    path = os.path.join(args.model, "model-loss.onnx")
    if args.export_only:
        export(args.model, path)
        return 0
    if not os.path.exists(path):
        subprocess.run([sys.executable, __file__, "--model", args.model, "--export-only"], check=True,
                       stdout=sys.stderr)

    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    t_load = time.perf_counter()
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    load_seconds = time.perf_counter() - t_load

    ids = np.fromfile(args.test_set, dtype="<u2").astype(np.int64)
    stride = args.stride or args.context
    plan = list(windows(ids.size, args.context, stride))

    def score_window(begin: int, end: int, n_scored: int) -> float:
        nll = sess.run(["nll"], {"input_ids": ids[begin:end][None, :], "labels": ids[begin + 1:end + 1]})[0]
        return float(nll[-n_scored:].astype(np.float64).sum())

    score_window(*plan[0])
    total, scored = 0.0, 0
    t0 = time.perf_counter()
    for b, e, s in plan:
        total += score_window(b, e, s)
        scored += s
    seconds = time.perf_counter() - t0
    print(json.dumps({
        "impl": "ort", "loss": total / scored, "tokens_scored": scored, "seconds": seconds,
        "tokens_per_second": scored / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "onnxruntime": ort.__version__, "threads": args.threads, "context": args.context, "stride": stride,
        "windows": len(plan), "load_seconds": load_seconds,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
