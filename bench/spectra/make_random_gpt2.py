#!/usr/bin/env python3
"""A GPT-2-small-shaped checkpoint (124M: 12 layers, width 768, context 1024, vocab 50257) with random float32 weights,
in HF's layout (Conv1D [in, out] matrices, tied LM head so no lm_head.weight), written with numpy only (no torch).

Weights follow GPT-2's initialisation: matrices and embeddings N(0, 0.02), residual projections N(0, 0.02/sqrt(24)),
LayerNorm gains 1, biases 0. Seeded. Usage: python3 make_random_gpt2.py OUT_DIR  (writes model.safetensors, config.json)
"""
import json, os, struct, sys

import numpy as np


def main(out_dir):
    L, C, T, V = 12, 768, 1024, 50257
    rng = np.random.default_rng(1234)
    f = np.float32
    t = {"wte.weight": rng.normal(0, 0.02, (V, C)).astype(f), "wpe.weight": rng.normal(0, 0.02, (T, C)).astype(f)}
    for l in range(L):
        p = f"h.{l}."
        t[p + "ln_1.weight"], t[p + "ln_1.bias"] = np.ones(C, f), np.zeros(C, f)
        t[p + "attn.c_attn.weight"], t[p + "attn.c_attn.bias"] = rng.normal(0, 0.02, (C, 3 * C)).astype(f), np.zeros(3 * C, f)
        t[p + "attn.c_proj.weight"] = rng.normal(0, 0.02 / np.sqrt(2 * L), (C, C)).astype(f)
        t[p + "attn.c_proj.bias"] = np.zeros(C, f)
        t[p + "ln_2.weight"], t[p + "ln_2.bias"] = np.ones(C, f), np.zeros(C, f)
        t[p + "mlp.c_fc.weight"], t[p + "mlp.c_fc.bias"] = rng.normal(0, 0.02, (C, 4 * C)).astype(f), np.zeros(4 * C, f)
        t[p + "mlp.c_proj.weight"] = rng.normal(0, 0.02 / np.sqrt(2 * L), (4 * C, C)).astype(f)
        t[p + "mlp.c_proj.bias"] = np.zeros(C, f)
    t["ln_f.weight"], t["ln_f.bias"] = np.ones(C, f), np.zeros(C, f)
    header, offset = {}, 0
    for name, a in t.items():
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "model.safetensors"), "wb") as out:
        out.write(struct.pack("<Q", len(blob)) + blob)
        for a in t.values():
            out.write(a.tobytes())
    with open(os.path.join(out_dir, "config.json"), "w") as out:
        json.dump({"model_type": "gpt2", "n_layer": L, "n_embd": C, "n_head": 12, "n_positions": T, "n_ctx": T,
                   "vocab_size": V}, out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "data"))
