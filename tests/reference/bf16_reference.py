"""Reference losses for `--precision bf16` (Tests/AnalysisTests/BF16Tests.swift), from PyTorch.

gpt2lab's bf16 mode: every matrix a product reads (the four block matrices, the token embedding,
the LM head) rounded to bf16 (round to nearest even), each product's input rounded to bf16, the
products summed in f32; the embedding sum, LayerNorm, attention, GELU, softmax and the loss in f32.
This script computes exactly that in PyTorch, independently of gpt2lab: torch's own
`Tensor.to(torch.bfloat16)` does the rounding, F.linear on the rounded values (exact products, f32
sums) does the products. Loss = mean NLL in float64 from the f32 logits, HF's recipe with disjoint
windows of the model's context (the last one shorter), vocabulary cropped to GPT-2's 50,257 rows.

Models: runs/baseline and runs/stacked (Raschka layout, bf16 weights: only the activation rounding
moves their loss) via bench/hessian/torch_hvp.py's minimal GPT-2, and formats/tinyb-llmc.bin (llm.c,
fp32 weights that bf16 really rounds) via the small llm.c reader below. Each also gets its f32 loss,
which must equal the fixtures' HF values (a check of this script's own loading).

    bench/.venv/bin/python tests/reference/bf16_reference.py
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "bench", "hessian"))
from torch_hvp import FIXTURES, load_model  # noqa: E402

OUT = os.path.join(ROOT, "Tests", "AnalysisTests", "Fixtures", "bf16-reference.json")


def bf(x):
    return x.to(torch.bfloat16).to(torch.float32)


class Rounded:
    """Patches nn.Linear.forward so each product reads bf16-rounded input and weight."""
    def __enter__(self):
        self.saved = torch.nn.Linear.forward
        torch.nn.Linear.forward = lambda m, x: F.linear(bf(x), bf(m.weight), m.bias)
        return self

    def __exit__(self, *a):
        torch.nn.Linear.forward = self.saved


def raschka_logits(model, x, bf16):
    t = x.shape[1]
    wte = bf(model.tok_emb.weight) if bf16 else model.tok_emb.weight
    h = F.embedding(x, wte) + model.pos_emb(torch.arange(t))
    for blk in model.blocks:
        h = blk(h)
    h = F.layer_norm(h, (h.shape[-1],), model.final_scale, model.final_shift, eps=1e-5)
    w = model.tok_emb.weight if model.tied else model.out_head.weight
    return bf(h) @ bf(w).t() if bf16 else h @ w.t()


def load_llmc(path):
    raw = open(path, "rb").read()
    hdr = np.frombuffer(raw[:1024], dtype="<i4")
    assert hdr[0] == 20240326 and hdr[1] == 3, hdr[:2]
    T, V, L, NH, C, Vp = (int(v) for v in hdr[2:8])
    a = np.frombuffer(raw[1024:], dtype="<f4")
    shapes = [("wte", (Vp, C)), ("wpe", (T, C)), ("ln1w", (L, C)), ("ln1b", (L, C)), ("qkvw", (L, 3 * C, C)),
              ("qkvb", (L, 3 * C)), ("attprojw", (L, C, C)), ("attprojb", (L, C)), ("ln2w", (L, C)),
              ("ln2b", (L, C)), ("fcw", (L, 4 * C, C)), ("fcb", (L, 4 * C)), ("fcprojw", (L, C, 4 * C)),
              ("fcprojb", (L, C)), ("lnfw", (C,)), ("lnfb", (C,))]
    p, o = {}, 0
    for name, s in shapes:
        n = int(np.prod(s))
        p[name] = torch.from_numpy(a[o:o + n].copy()).reshape(s)
        o += n
    assert o == a.size, (o, a.size)
    return p, dict(T=T, V=V, L=L, NH=NH, C=C)


def llmc_logits(p, cfg, x, bf16):
    r = bf if bf16 else (lambda v: v)
    C, NH, L = cfg["C"], cfg["NH"], cfg["L"]
    t = x.shape[1]
    h = F.embedding(x, r(p["wte"])) + p["wpe"][:t]
    for l in range(L):
        a = F.layer_norm(h, (C,), p["ln1w"][l], p["ln1b"][l], eps=1e-5)
        qkv = F.linear(r(a), r(p["qkvw"][l]), p["qkvb"][l])
        q, k, v = qkv.split(C, dim=-1)
        q, k, v = (z.view(1, t, NH, C // NH).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(1, t, C)
        h = h + F.linear(r(y), r(p["attprojw"][l]), p["attprojb"][l])
        m = F.layer_norm(h, (C,), p["ln2w"][l], p["ln2b"][l], eps=1e-5)
        f = F.gelu(F.linear(r(m), r(p["fcw"][l]), p["fcb"][l]), approximate="tanh")
        h = h + F.linear(r(f), r(p["fcprojw"][l]), p["fcprojb"][l])
    h = F.layer_norm(h, (C,), p["lnfw"], p["lnfb"], eps=1e-5)
    return r(h) @ r(p["wte"][:cfg["V"]]).t()


def loss(logits_fn, ids, T, vocab=50257):
    n, total, count, start = len(ids), 0.0, 0, 0
    while True:
        end = start + min(T, n - 1 - start)
        x = torch.from_numpy(ids[start:end]).unsqueeze(0)
        y = torch.from_numpy(ids[start + 1:end + 1])
        lp = torch.log_softmax(logits_fn(x)[0, :, :vocab].double(), dim=-1)
        total += -lp.gather(1, y.unsqueeze(1)).sum().item()
        count += end - start
        if end == n - 1:
            return total / count, count
        start += T


def main():
    torch.set_num_threads(2)
    ids = np.fromfile(os.path.join(FIXTURES, "data", "test-persuasion.bin"), dtype="<u2").astype(np.int64)
    out = {"source": "tests/reference/bf16_reference.py (PyTorch %s)" % torch.__version__,
           "test_set": "data/test-persuasion.bin", "checkpoints": {}}
    with torch.inference_mode():
        for run in ("baseline", "stacked"):
            meta = json.load(open(os.path.join(FIXTURES, "runs", run, "meta.json")))["model"]
            model, _, _ = load_model(os.path.join(FIXTURES, "runs", run, "model.safetensors"), meta)
            T = meta["context_length"]
            f32, n = loss(lambda x: raschka_logits(model, x, False), ids, T)
            with Rounded():
                b16, _ = loss(lambda x: raschka_logits(model, x, True), ids, T)
            out["checkpoints"]["runs/%s/model.safetensors" % run] = dict(context=T, tokens_scored=n, loss_f32=f32, loss_bf16=b16)
            print(run, f32, b16, b16 - f32)
        p, cfg = load_llmc(os.path.join(FIXTURES, "formats", "tinyb-llmc.bin"))
        f32, n = loss(lambda x: llmc_logits(p, cfg, x, False), ids, cfg["T"])
        b16, _ = loss(lambda x: llmc_logits(p, cfg, x, True), ids, cfg["T"])
        out["checkpoints"]["formats/tinyb-llmc.bin"] = dict(context=cfg["T"], tokens_scored=n, loss_f32=f32, loss_bf16=b16)
        print("tinyb", f32, b16, b16 - f32)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
