#!/usr/bin/env python3
"""PyTorch's Hessian-vector products by double backprop on a CUDA GPU: the reference side of `gpt2lab hessian
--device cuda` in bench/gpu/check.sh.

The batch is `gpt2lab hessian`'s: the first B disjoint windows of T tokens (inputs tokens[bT, bT+T), labels
shifted by one), the loss their mean cross-entropy over every position. f32 weights and products, TF32 off,
eager attention (attn_implementation="eager": SDPA's fused kernels have no double backward). One untimed HVP
warms up; then --probes Rademacher probes v, each Hv = d(g·v)/dθ (create_graph=True), timed with
torch.cuda.synchronize() around each. Hutchinson's trace is the mean of vᵀHv with its standard error.
Prints one JSON line: {"impl":"torch-double-backprop","batch_loss","trace","stderr","probes",
"seconds_per_hvp" (median),"hvp_seconds","peak_gpu_bytes","torch","gpu"}.
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="HF model directory (config.json + model.safetensors)")
    ap.add_argument("--test-set", required=True, help="uint16 LE token file")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--probes", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from transformers import GPT2LMHeadModel

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    dev = torch.device("cuda")
    model = GPT2LMHeadModel.from_pretrained(args.model, attn_implementation="eager", torch_dtype=torch.float32).to(dev)
    model.eval()  # no dropout: the loss is a fixed function of θ
    B, T = args.batch, args.context
    toks = np.fromfile(args.test_set, dtype="<u2")[: B * T + 1].astype(np.int64)
    inputs = torch.from_numpy(toks[:-1].reshape(B, T)).to(dev)
    labels = torch.from_numpy(toks[1:].reshape(B, T)).to(dev)
    params = [p for p in model.parameters() if p.requires_grad]

    def loss_fn():
        logits = model(input_ids=inputs).logits.float()
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1))

    gen = torch.Generator(device=dev).manual_seed(args.seed)

    def hvp():
        vs = [torch.randint(0, 2, p.shape, generator=gen, device=dev, dtype=torch.float32) * 2 - 1 for p in params]
        loss = loss_fn()
        grads = torch.autograd.grad(loss, params, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(grads, vs))
        hv = torch.autograd.grad(dot, params)
        return loss.item(), sum((h * v).sum().item() for h, v in zip(hv, vs))

    hvp()  # warm-up
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times, values, loss = [], [], None
    for _ in range(args.probes):
        t0 = time.perf_counter()
        loss, vhv = hvp()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        values.append(vhv)
    n = len(values)
    print(json.dumps({
        "impl": "torch-double-backprop", "batch": B, "context": T, "batch_loss": loss,
        "trace": statistics.fmean(values), "stderr": statistics.stdev(values) / n ** 0.5 if n > 1 else None,
        "probes": n, "seconds_per_hvp": statistics.median(times), "hvp_seconds": times,
        "peak_gpu_bytes": torch.cuda.max_memory_allocated(), "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
