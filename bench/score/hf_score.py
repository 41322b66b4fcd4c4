#!/usr/bin/env python3
"""Score a token file with HF transformers' GPT2LMHeadModel on CPU (fp32): the reference side of the score benchmark.

Recipe (HF's strided-window perplexity recipe): windows of T = context tokens starting every `stride` tokens;
window k feeds inputs tokens[b, e) with b = k*stride, e = min(b + T, n - 1), and its labels are the same positions
shifted by one (tokens[b+1, e+1)); only the last e - prev_e positions are scored (with stride = T, every position,
and the windows are disjoint). The loss is the float64 sum of the per-token NLL over all scored tokens divided by
their number. The first window is run once before timing (warm-up, not timed); `seconds` covers every window of
the timed pass (model forward + log-softmax NLL), not model loading.

--bf16 runs each forward under torch.autocast("cpu", dtype=torch.bfloat16): matrix products in bf16 (oneDNN),
the cross-entropy on the logits cast back to fp32.

Prints one JSON line on stdout:
  {"impl":"hf","loss":...,"tokens_scored":...,"seconds":...,"tokens_per_second":...,"peak_rss_mb":...,
   "torch":"...","threads":n, ...}
peak_rss_mb is getrusage(RUSAGE_SELF).ru_maxrss of this process (model loading included).
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")


def windows(n: int, context: int, stride: int):
    """Yield (begin, end, n_scored) for HF's strided recipe over n tokens (n - 1 predictable positions)."""
    prev_end = 0
    begin = 0
    while True:
        end = min(begin + context, n - 1)
        yield begin, end, end - prev_end
        prev_end = end
        if end == n - 1:
            return
        begin += stride


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DATA, help="HF model directory (config.json + model.safetensors)")
    ap.add_argument("--test-set", default=os.path.join(DATA, "tokens.bin"), help="uint16 LE token file")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default: %(default)s)")
    ap.add_argument("--context", type=int, default=None, help="window length (default: config n_positions)")
    ap.add_argument("--stride", type=int, default=None, help="stride (default: = context, disjoint windows)")
    ap.add_argument("--attn", default=None, help="attn_implementation (default: transformers' default, sdpa)")
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--bf16", action="store_true",
                    help="run the forward under torch.autocast('cpu', dtype=torch.bfloat16) (weights stay fp32)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    from transformers import GPT2LMHeadModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    kw = {}
    if args.attn:
        kw["attn_implementation"] = args.attn
    t_load = time.perf_counter()
    try:
        model = GPT2LMHeadModel.from_pretrained(args.model, dtype=torch.float32, **kw)
    except TypeError:  # transformers < 4.56 spells it torch_dtype
        model = GPT2LMHeadModel.from_pretrained(args.model, torch_dtype=torch.float32, **kw)
    model = model.float().eval()
    load_seconds = time.perf_counter() - t_load

    context = args.context or model.config.n_positions
    stride = args.stride or context
    if not (0 < stride <= context <= model.config.n_positions):
        sys.exit(f"hf_score.py: need 0 < stride <= context <= {model.config.n_positions}")

    ids = torch.from_numpy(np.fromfile(args.test_set, dtype="<u2").astype(np.int64))
    n = ids.numel()
    if n < 2:
        sys.exit("hf_score.py: test set needs at least 2 tokens")
    plan = list(windows(n, context, stride))

    def score_window(begin: int, end: int, n_scored: int) -> float:
        x = ids[begin:end].unsqueeze(0)
        y = ids[begin + 1:end + 1]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            logits = model(input_ids=x, use_cache=False).logits[0, -n_scored:]
        nll = torch.nn.functional.cross_entropy(logits.float(), y[-n_scored:], reduction="none")
        return nll.double().sum().item()

    with torch.inference_mode():
        if not args.no_warmup:
            score_window(*plan[0])
        total = 0.0
        scored = 0
        t0 = time.perf_counter()
        for b, e, s in plan:
            total += score_window(b, e, s)
            scored += s
        seconds = time.perf_counter() - t0

    out = {
        "impl": "hf-bf16-autocast" if args.bf16 else "hf",
        "loss": total / scored,
        "tokens_scored": scored,
        "seconds": seconds,
        "tokens_per_second": scored / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "transformers": __import__("transformers").__version__,
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "context": context,
        "stride": stride,
        "windows": len(plan),
        "load_seconds": load_seconds,
    }
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
