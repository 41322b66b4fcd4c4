#!/usr/bin/env python3
"""HF transformers' GPT2LMHeadModel scoring on a CUDA GPU: the reference side of bench/gpu/check.sh.

Same windows as `gpt2lab score` with stride = context: disjoint windows of T tokens, window k feeds
tokens[kT, kT+T) and its labels are tokens[kT+1, kT+T+1); the per-token NLL (cross-entropy on f32 logits) is
summed in float64. Windows go B at a time (--batch). Each mode runs one untimed warm-up batch, then the timed
pass: `seconds` covers forward + loss of every batch (torch.cuda.synchronize() before and after), not loading.

Modes (--modes, comma-separated, each run in turn in this process):
  f32             fp32 weights and products, TF32 off (torch.backends.cuda.matmul.allow_tf32 = False, cudnn too)
  tf32            fp32 weights, TF32 allowed for matmuls and cuDNN
  bf16-autocast   fp32 weights, forward under torch.autocast("cuda", dtype=torch.bfloat16)
  bf16-weights    the model cast to bfloat16 (weights and activations bf16), logits cast to fp32 for the loss
Prints one JSON line per mode: {"impl":"hf-<mode>","loss","tokens_scored","seconds","tokens_per_second",
"peak_gpu_bytes" (torch.cuda.max_memory_allocated during that mode), "torch","transformers","gpu",...}.
"""
import argparse
import json
import sys
import time

import numpy as np
import torch


def set_tf32(on: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on
    torch.set_float32_matmul_precision("high" if on else "highest")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="HF model directory (config.json + model.safetensors)")
    ap.add_argument("--test-set", required=True, help="uint16 LE token file")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--max-tokens", type=int, default=None, help="use only the first N tokens")
    ap.add_argument("--modes", default="f32,tf32,bf16-autocast,bf16-weights")
    args = ap.parse_args()

    from transformers import GPT2LMHeadModel
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if not torch.cuda.is_available():
        sys.exit("hf_gpu.py: torch sees no CUDA GPU")
    dev = torch.device("cuda")

    ids = np.fromfile(args.test_set, dtype="<u2").astype(np.int64)
    if args.max_tokens:
        ids = ids[:args.max_tokens]
    T = args.context
    nwin = (len(ids) - 1) // T  # whole windows only (the token files here are k*T + 1 long)
    if nwin < 1:
        sys.exit("hf_gpu.py: fewer tokens than one window")
    x_all = torch.from_numpy(ids[:nwin * T].reshape(nwin, T)).to(dev)
    y_all = torch.from_numpy(ids[1:nwin * T + 1].reshape(nwin, T)).to(dev)

    base = GPT2LMHeadModel.from_pretrained(args.model, dtype=torch.float32).to(dev).eval()
    for mode in args.modes.split(","):
        set_tf32(mode == "tf32")
        # bf16 weights: a second copy loaded as bf16 (casting `base` in place would lose its f32 weights).
        model = (GPT2LMHeadModel.from_pretrained(args.model, dtype=torch.bfloat16).to(dev).eval()
                 if mode == "bf16-weights" else base)
        autocast = mode == "bf16-autocast"

        def batch_nll(lo: int, hi: int) -> float:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                logits = model(input_ids=x_all[lo:hi], use_cache=False).logits
            nll = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                                    y_all[lo:hi].reshape(-1), reduction="none")
            return nll.double().sum().item()

        with torch.inference_mode():
            batch_nll(0, min(args.batch, nwin))  # warm-up
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            total = 0.0
            t0 = time.perf_counter()
            for lo in range(0, nwin, args.batch):
                total += batch_nll(lo, min(lo + args.batch, nwin))
            torch.cuda.synchronize()
            seconds = time.perf_counter() - t0
        scored = nwin * T
        print(json.dumps({
            "impl": "hf-" + mode, "loss": total / scored, "tokens_scored": scored, "seconds": seconds,
            "tokens_per_second": scored / seconds, "peak_gpu_bytes": torch.cuda.max_memory_allocated(),
            "batch": args.batch, "context": T, "torch": torch.__version__,
            "transformers": __import__("transformers").__version__, "gpu": torch.cuda.get_device_name(0),
            "attn_implementation": getattr(model.config, "_attn_implementation", None),
        }), flush=True)
        if model is not base:
            del model
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
