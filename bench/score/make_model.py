#!/usr/bin/env python3
"""Write a GPT-2-small-shaped checkpoint with random weights plus a random test set.

Output (default bench/score/data/):
  model.safetensors, config.json   HF layout, written by GPT2LMHeadModel.save_pretrained(safe_serialization=True),
                                   fp32, tied LM head (so no lm_head.weight tensor is stored).
  tokens.bin                       N random token ids, uint16 little-endian (nanoGPT's format).
  manifest.json                    what was generated and with which seed.

The weights are seeded and follow GPT-2's initialisation: every matrix and embedding N(0, 0.02), the residual
projections (attn.c_proj, mlp.c_proj) N(0, 0.02/sqrt(2*n_layer)) as in GPT-2/nanoGPT, LayerNorm gains 1, and all
biases (LayerNorm shifts included) small random N(0, 0.01) so a loader that drops or misplaces a bias shows up
in the loss. Random weights make the loss about ln(vocab) ~ 10.8 nats; what matters is that both sides agree.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "data"), help="output directory (default: %(default)s)")
    ap.add_argument("--tokens", type=int, default=8 * 1024 + 1, help="test-set length N (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=1234, help="seed for weights and tokens (default: %(default)s)")
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--n-embd", type=int, default=768)
    ap.add_argument("--n-layer", type=int, default=12)
    ap.add_argument("--n-head", type=int, default=12)
    args = ap.parse_args()

    t0 = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)

    config = GPT2Config(
        vocab_size=args.vocab,
        n_positions=args.context,
        n_embd=args.n_embd,
        n_layer=args.n_layer,
        n_head=args.n_head,
        n_inner=None,  # 4 * n_embd
        activation_function="gelu_new",  # GPT-2's tanh GELU
        layer_norm_epsilon=1e-5,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        tie_word_embeddings=True,
    )
    model = GPT2LMHeadModel(config).float().eval()

    # Deterministic re-initialisation, independent of transformers' own init code (which changes across versions).
    gen = torch.Generator().manual_seed(args.seed)
    resid_std = 0.02 / math.sqrt(2 * args.n_layer)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            if name.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.01)
            elif ".ln_" in name or name.startswith("transformer.ln_f") or ".ln_f." in name:
                p.fill_(1.0)  # LayerNorm gain
            elif name.endswith("c_proj.weight"):
                p.copy_(torch.randn(p.shape, generator=gen) * resid_std)
            else:  # wte, wpe, c_attn, c_fc
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
    model.tie_weights()
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr(), "LM head is not tied"

    model.save_pretrained(args.out, safe_serialization=True)
    n_params = sum(p.numel() for p in model.parameters())  # tied pair counted once

    rng = np.random.default_rng(args.seed)
    tokens = rng.integers(0, args.vocab, size=args.tokens, dtype=np.int64).astype("<u2")
    tokens.tofile(os.path.join(args.out, "tokens.bin"))

    st_path = os.path.join(args.out, "model.safetensors")
    manifest = {
        "seed": args.seed,
        "config": {"vocab_size": args.vocab, "n_positions": args.context, "n_embd": args.n_embd,
                   "n_layer": args.n_layer, "n_head": args.n_head, "tied": True, "dtype": "float32"},
        "params": n_params,
        "model_bytes": os.path.getsize(st_path),
        "tokens": int(tokens.size),
        "torch": torch.__version__,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(json.dumps(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
