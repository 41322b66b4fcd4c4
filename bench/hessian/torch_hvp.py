#!/usr/bin/env python3
"""PyTorch reference cost of one Hessian-vector product (HVP) on a Raschka-layout GPT-2 checkpoint, CPU, fp32.

Loads a checkpoint in the Raschka / LLMs-from-scratch layout (tok_emb.weight, pos_emb.weight,
trf_blocks.N.att.W_query|W_key|W_value.weight [+ .bias], att.out_proj, att.mask (buffer, ignored),
norm1/norm2.scale|shift, ff.layers.0|2, final_norm.scale|shift, out_head.weight) with its meta.json (emb_dim,
n_heads, n_layers, context_length), into a minimal GPT-2 written here (tanh GELU, LayerNorm eps 1e-5, causal
attention written out as in Raschka's code, no dropout), converted to fp32. Tied checkpoints (one tensor stored
plus a __metadata__ alias "missing name -> stored name", as safetensors.torch.save_model writes) are supported.

Batch: the first B disjoint windows of T tokens of the test set (inputs [b*T, (b+1)*T), targets shifted by one);
loss = mean cross-entropy over the B*T targets.

Times (median of --repeats, after --warmup untimed runs):
  fwd_bwd_seconds  forward + backward (gradients of the loss w.r.t. every parameter)
  hvp_seconds      forward + backward with create_graph + the second backward of <grad, v>, v a Rademacher vector
                   over all parameters (exact double-backprop HVP, as used for Hutchinson trace estimates)
  ratio            hvp_seconds / fwd_bwd_seconds

Prints one JSON line. If the expected-values file (default: the fixture's expected/<run>.json) has hessian.batch_loss,
checks batch_loss against it (--tol, default 2e-4) and exits 1 on a mismatch; grad norms are compared too
(hessian.grad_norms), for information.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from safetensors import safe_open

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "fixtures")


class Block(torch.nn.Module):
    def __init__(self, d: int, n_heads: int, qkv_bias: bool):
        super().__init__()
        self.n_heads = n_heads
        self.norm1_scale = torch.nn.Parameter(torch.ones(d))
        self.norm1_shift = torch.nn.Parameter(torch.zeros(d))
        self.W_query = torch.nn.Linear(d, d, bias=qkv_bias)
        self.W_key = torch.nn.Linear(d, d, bias=qkv_bias)
        self.W_value = torch.nn.Linear(d, d, bias=qkv_bias)
        self.out_proj = torch.nn.Linear(d, d)
        self.norm2_scale = torch.nn.Parameter(torch.ones(d))
        self.norm2_shift = torch.nn.Parameter(torch.zeros(d))
        self.ff0 = torch.nn.Linear(d, 4 * d)
        self.ff2 = torch.nn.Linear(4 * d, d)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.n_heads
        hd = d // h
        q = self.W_query(x).view(b, t, h, hd).transpose(1, 2)
        k = self.W_key(x).view(b, t, h, hd).transpose(1, 2)
        v = self.W_value(x).view(b, t, h, hd).transpose(1, 2)
        scores = q @ k.transpose(2, 3)
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), diagonal=1)
        scores = scores.masked_fill(mask, float("-inf"))
        w = torch.softmax(scores / math.sqrt(hd), dim=-1)
        ctx = (w @ v).transpose(1, 2).reshape(b, t, d)
        return self.out_proj(ctx)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x.shape[-1]
        x = x + self.attention(F.layer_norm(x, (d,), self.norm1_scale, self.norm1_shift, eps=1e-5))
        y = F.layer_norm(x, (d,), self.norm2_scale, self.norm2_shift, eps=1e-5)
        return x + self.ff2(F.gelu(self.ff0(y), approximate="tanh"))


class GPT(torch.nn.Module):
    def __init__(self, vocab: int, ctx: int, d: int, n_heads: int, n_layers: int, qkv_bias: bool, tied: bool):
        super().__init__()
        self.tok_emb = torch.nn.Embedding(vocab, d)
        self.pos_emb = torch.nn.Embedding(ctx, d)
        self.blocks = torch.nn.ModuleList(Block(d, n_heads, qkv_bias) for _ in range(n_layers))
        self.final_scale = torch.nn.Parameter(torch.ones(d))
        self.final_shift = torch.nn.Parameter(torch.zeros(d))
        self.tied = tied
        self.out_head = None if tied else torch.nn.Linear(d, vocab, bias=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.shape[1]
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(t, device=idx.device))
        for blk in self.blocks:
            x = blk(x)
        x = F.layer_norm(x, (x.shape[-1],), self.final_scale, self.final_shift, eps=1e-5)
        w = self.tok_emb.weight if self.tied else self.out_head.weight
        return x @ w.t()


def raschka_to_local(name: str) -> str:
    """Map a Raschka-layout tensor name to this module's parameter name."""
    fixed = {"tok_emb.weight": "tok_emb.weight", "pos_emb.weight": "pos_emb.weight",
             "final_norm.scale": "final_scale", "final_norm.shift": "final_shift",
             "out_head.weight": "out_head.weight"}
    if name in fixed:
        return fixed[name]
    parts = name.split(".")
    assert parts[0] == "trf_blocks", name
    i, rest = parts[1], ".".join(parts[2:])
    table = {"norm1.scale": "norm1_scale", "norm1.shift": "norm1_shift",
             "norm2.scale": "norm2_scale", "norm2.shift": "norm2_shift"}
    if rest in table:
        local = table[rest]
    elif rest.startswith("att."):
        local = rest[len("att."):]  # W_query.weight, out_proj.bias, ...
    elif rest.startswith("ff.layers.0."):
        local = "ff0." + rest[len("ff.layers.0."):]
    elif rest.startswith("ff.layers.2."):
        local = "ff2." + rest[len("ff.layers.2."):]
    else:
        raise KeyError(name)
    return f"blocks.{i}.{local}"


def load_model(path: str, meta: dict):
    tensors = load_file(path)
    with safe_open(path, "pt") as f:
        metadata = f.metadata() or {}
    aliases = {k: v for k, v in metadata.items() if k != "format" and k not in tensors and v in tensors}
    for missing, stored in aliases.items():
        tensors[missing] = tensors[stored]
    tied = ("out_head.weight" in aliases or "tok_emb.weight" in aliases
            or bool(meta.get("weight_tying")) and "out_head.weight" not in tensors)
    if tied and "out_head.weight" not in tensors:
        tensors["out_head.weight"] = tensors["tok_emb.weight"]
    qkv_bias = "trf_blocks.0.att.W_query.bias" in tensors
    vocab, d = tensors["tok_emb.weight"].shape
    ctx = tensors["pos_emb.weight"].shape[0]
    assert d == meta["emb_dim"] and ctx == meta["context_length"], (d, ctx, meta)
    model = GPT(vocab, ctx, d, meta["n_heads"], meta["n_layers"], qkv_bias, tied)
    params = dict(model.named_parameters())
    seen = set()
    with torch.no_grad():
        for name, t in tensors.items():
            if name.endswith(".att.mask"):
                continue  # causal-mask buffer
            if tied and name == "out_head.weight":
                continue
            local = raschka_to_local(name)
            p = params[local]
            assert tuple(p.shape) == tuple(t.shape), (name, p.shape, t.shape)
            p.copy_(t.to(torch.float32))
            seen.add(local)
    missing = set(params) - seen
    assert not missing, f"checkpoint lacks {sorted(missing)}"
    # Parameter names in the checkpoint's own naming, one per stored tensor (a tied pair once).
    local_to_raschka = {raschka_to_local(n): n for n in tensors
                        if not n.endswith(".att.mask") and not (tied and n == "out_head.weight")}
    if tied and "tok_emb.weight" in aliases:  # the stored one is out_head.weight
        local_to_raschka["tok_emb.weight"] = aliases["tok_emb.weight"]
    return model.float().eval(), tied, local_to_raschka


def median_time(fn, repeats: int, warmup: int):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), ts


def default_expected(checkpoint: str) -> str:
    run_dir = os.path.dirname(os.path.abspath(checkpoint))
    run = os.path.basename(run_dir)
    stem = os.path.splitext(os.path.basename(checkpoint))[0]
    name = run if stem == "model" else f"{run}-{stem}"
    return os.path.join(os.path.dirname(os.path.dirname(run_dir)), "expected", f"{name}.json")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=f"{FIXTURES}/runs/baseline/model.safetensors")
    ap.add_argument("--meta", default=None, help="meta.json (default: beside the checkpoint)")
    ap.add_argument("--test-set", default=f"{FIXTURES}/data/test-persuasion.bin")
    ap.add_argument("--expected", default=None, help="expected JSON (default: fixtures expected/<run>.json); "
                    "'none' skips the check")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=None, help="window length (default: context_length)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0, help="seed of the Rademacher vector")
    ap.add_argument("--tol", type=float, default=2e-4)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    meta_path = args.meta or os.path.join(os.path.dirname(args.checkpoint), "meta.json")
    with open(meta_path) as f:
        meta = json.load(f)
    meta = meta.get("model", meta)
    model, tied, names = load_model(args.checkpoint, meta)
    T = args.seq or meta["context_length"]
    B = args.batch

    ids = np.fromfile(args.test_set, dtype="<u2").astype(np.int64)
    assert ids.size >= B * T + 1, "test set too short"
    x = torch.from_numpy(ids[: B * T].reshape(B, T).copy())
    y = torch.from_numpy(ids[1: B * T + 1].reshape(B, T).copy())

    params = [p for p in model.parameters()]
    pnames = [n for n, _ in model.named_parameters()]
    gen = torch.Generator().manual_seed(args.seed)
    vec = [torch.randint(0, 2, p.shape, generator=gen).to(torch.float32) * 2 - 1 for p in params]

    def loss_fn():
        logits = model(x)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    state = {}

    def fwd_bwd():
        loss = loss_fn()
        state["grads"] = torch.autograd.grad(loss, params)
        state["loss"] = loss.item()

    def hvp():
        loss = loss_fn()
        grads = torch.autograd.grad(loss, params, create_graph=True)
        gv = sum((g * v).sum() for g, v in zip(grads, vec))
        hv = torch.autograd.grad(gv, params)
        state["vHv"] = sum(float((h.double() * v.double()).sum()) for h, v in zip(hv, vec))

    fwd_bwd_s, fb_all = median_time(fwd_bwd, args.repeats, args.warmup)
    hvp_s, hvp_all = median_time(hvp, args.repeats, args.warmup)

    out = {
        "batch_loss": state["loss"],
        "fwd_bwd_seconds": fwd_bwd_s,
        "hvp_seconds": hvp_s,
        "ratio": hvp_s / fwd_bwd_s,
        "threads": torch.get_num_threads(),
        "checkpoint": args.checkpoint,
        "batch": B,
        "seq": T,
        "params": sum(p.numel() for p in params),
        "tied": tied,
        "vHv_one_sample": state["vHv"],
        "fwd_bwd_all": fb_all,
        "hvp_all": hvp_all,
        "torch": torch.__version__,
    }

    ok = True
    exp_path = args.expected or default_expected(args.checkpoint)
    if args.expected != "none" and os.path.exists(exp_path):
        with open(exp_path) as f:
            hess = json.load(f).get("hessian") or {}
        if "batch_loss" in hess:
            diff = abs(out["batch_loss"] - hess["batch_loss"])
            ok = diff <= args.tol
            out.update(expected_file=exp_path, expected_batch_loss=hess["batch_loss"],
                       batch_loss_abs_diff=diff, batch_loss_ok=ok)
        if "grad_norms" in hess:
            rel = []
            for n, g in zip(pnames, state["grads"]):
                key = names.get(n)
                if key in hess["grad_norms"] and hess["grad_norms"][key] > 0:
                    rel.append(abs(float(g.double().norm()) - hess["grad_norms"][key]) / hess["grad_norms"][key])
            if rel:
                out["grad_norms_max_rel_diff"] = max(rel)
                out["grad_norms_compared"] = len(rel)
        if "trace" in hess:
            out["expected_trace"] = hess["trace"]
    print(json.dumps(out), flush=True)
    if not ok:
        print(f"torch_hvp.py: batch_loss {out['batch_loss']} differs from {exp_path}: "
              f"{out['expected_batch_loss']} (|diff| {out['batch_loss_abs_diff']:.3g} > {args.tol})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
