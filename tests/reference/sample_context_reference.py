#!/usr/bin/env python3
"""HF transformers' greedy completions at the end of the context, the reference `gpt2lab sample` is tested against.

Writes Tests/AnalysisTests/Fixtures/sample-context-hf.json. Never run by the tests. Needs torch and transformers
(bench/.venv has them): bench/.venv/bin/python tests/reference/sample_context_reference.py

The fixture ../shared/fixtures/formats/tinyb-sharded is an HF save_pretrained folder with n_positions = 64. HF
`generate(do_sample=False)` can decode until prompt + completion = n_positions + 1: the last token is predicted from a
full window and never fed back (asked for more, it fails looking up position n_positions). Cases: a 4-token prompt
with 61 new tokens, and a prompt of exactly 64 tokens with one.
"""
import json, os, shutil, sys, tempfile

import torch
from transformers import GPT2LMHeadModel, GPT2TokenizerFast

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
FIXTURES = os.path.join(ROOT, "..", "shared", "fixtures")
OUT = os.path.join(ROOT, "Tests", "AnalysisTests", "Fixtures", "sample-context-hf.json")


def main():
    model = GPT2LMHeadModel.from_pretrained(os.path.join(FIXTURES, "formats", "tinyb-sharded"), dtype=torch.float32).eval()
    with tempfile.TemporaryDirectory() as d:   # from_pretrained wants the files under HF's names
        shutil.copy(os.path.join(FIXTURES, "tokenizer", "encoder.json"), os.path.join(d, "vocab.json"))
        shutil.copy(os.path.join(FIXTURES, "tokenizer", "vocab.bpe"), os.path.join(d, "merges.txt"))
        tok = GPT2TokenizerFast.from_pretrained(d)
    T = model.config.n_positions
    text = open(os.path.join(FIXTURES, "data", "test-persuasion.txt"), encoding="utf-8").read()
    words = text.split(" ")
    full = next(" ".join(words[:n]) for n in range(1, 400) if len(tok.encode(" ".join(words[:n]))) >= T)
    assert len(tok.encode(full)) == T, "no prefix of exactly T tokens"
    cases = []
    for prompt in ("Every effort moves you", full):
        ids = tok.encode(prompt)
        new = T + 1 - len(ids)   # one more and HF looks up position T: an IndexError, not a stop
        with torch.no_grad():
            out = model.generate(torch.tensor([ids]), max_new_tokens=new, do_sample=False, pad_token_id=50256)
        cases.append({"prompt": prompt, "prompt_ids": ids, "max_new_tokens": new, "ids": out[0, len(ids):].tolist()})
    with open(OUT, "w") as f:
        json.dump({"checkpoint": "formats/tinyb-sharded", "n_positions": T, "cases": cases}, f, indent=1)
        f.write("\n")
    print("wrote", OUT, [len(c["ids"]) for c in cases])


if __name__ == "__main__":
    sys.exit(main())
