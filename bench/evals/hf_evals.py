#!/usr/bin/env python3
"""Reference scores for gpt2lab's `eval` tests: HellaSwag (llm.c and lm-evaluation-harness recipes) and LAMBADA
(lm-eval's lambada_openai) on the fixture files, with HF transformers' GPT2LMHeadModel in fp32 on CPU.

Checkpoints: the fixtures' Raschka-layout runs (runs/NAME/model.safetensors + meta.json), mapped onto HF's GPT-2
names (Q/K/V concatenated into c_attn, nn.Linear weights transposed into Conv1D's [in, out]; no QKV bias → zero
bias; tied runs tie lm_head to wte). The mapping is checked by scoring test-persuasion.bin with disjoint windows and
comparing with expected/NAME.json's stride_256 loss (HF's own number) to 1e-5.

Tokenizer: tiktoken's GPT-2 encoding built from the fixtures' gpt2.tiktoken (offline; the same ids as HF's GPT-2
tokenizer, which lm-eval's HFLM uses). "<|endoftext|>" inside a text is ordinary text.

Recipes, written from the sources (see README "gpt2lab eval"):
- llmc (karpathy/llm.c dev/data/hellaswag.py, build-nanogpt hellaswag.py): context = ctx; each ending encoded on its
  own as " " + ending and appended to the encoded context; sum and mean NLL over the ending's tokens; pred = argmin
  of the sums, pred_norm = argmin of the means.
- lm-eval (lm_eval/tasks/hellaswag/utils.py + hellaswag.yaml): query = preprocess(activity_label + ": " + ctx_a +
  " " + ctx_b.capitalize()), choices = preprocess(ending); continuation = " " + choice; pred = argmax loglikelihood,
  pred_norm = argmax loglikelihood / len(choice) (characters of the choice, without the space: task.py).
- lambada_openai: context = " ".join(text.split(" ")[:-1]), target = " " + text.split(" ")[-1]; hit = greedy argmax
  reproduces every target token; ppl = exp(-mean of the per-example loglikelihoods).
- lm-eval's pair encoding (HFLM._encode_pair): trailing spaces of the context move to the continuation; whole =
  encode(context + continuation), context_enc = encode(context), continuation_enc = whole[len(context_enc):]; an
  empty context is [<|endoftext|>]. Both recipes truncate from the left: inputs = (context_enc +
  continuation_enc)[-(n_positions + 1):][:-1].

Usage: hf_evals.py FIXTURES_DIR EVALS_DIR OUT.json [RUN …]   (default runs: reference baseline)
  e.g. hf_evals.py ../shared/fixtures examples/evals Tests/AnalysisTests/Fixtures/evals/expected.json
"""
import json
import math
import re
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file
import tiktoken
import tiktoken.load
from transformers import GPT2Config, GPT2LMHeadModel

PAT_STR = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


class Tok:
    def __init__(self, path):
        self.enc = tiktoken.Encoding(name="gpt2", pat_str=PAT_STR, mergeable_ranks=tiktoken.load.load_tiktoken_bpe(path),
                                     special_tokens={"<|endoftext|>": 50256})

    def encode(self, text):
        return self.enc.encode(text, disallowed_special=())


def load_raschka(path: str, meta: dict) -> GPT2LMHeadModel:
    t = load_file(path)
    with safe_open(path, "pt") as f:
        md = f.metadata() or {}
    for missing, stored in md.items():
        if missing != "format" and missing not in t and stored in t:
            t[missing] = t[stored]
    m = meta["model"]
    tied = bool(m.get("weight_tying"))
    cfg = GPT2Config(vocab_size=m["vocab_size"], n_positions=m["context_length"], n_embd=m["emb_dim"],
                     n_layer=m["n_layers"], n_head=m["n_heads"], resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     layer_norm_epsilon=1e-5, activation_function="gelu_new", tie_word_embeddings=tied)
    model = GPT2LMHeadModel(cfg)
    C = m["emb_dim"]
    sd = {"transformer.wte.weight": t["tok_emb.weight"], "transformer.wpe.weight": t["pos_emb.weight"],
          "transformer.ln_f.weight": t["final_norm.scale"], "transformer.ln_f.bias": t["final_norm.shift"],
          "lm_head.weight": t["tok_emb.weight"] if tied else t["out_head.weight"]}
    for i in range(m["n_layers"]):
        p, h = f"trf_blocks.{i}.", f"transformer.h.{i}."
        w = torch.cat([t[p + f"att.W_{k}.weight"] for k in ("query", "key", "value")], 0)   # (3C, C) nn.Linear
        b = (torch.cat([t[p + f"att.W_{k}.bias"] for k in ("query", "key", "value")], 0)
             if p + "att.W_query.bias" in t else torch.zeros(3 * C))
        sd.update({h + "ln_1.weight": t[p + "norm1.scale"], h + "ln_1.bias": t[p + "norm1.shift"],
                   h + "ln_2.weight": t[p + "norm2.scale"], h + "ln_2.bias": t[p + "norm2.shift"],
                   h + "attn.c_attn.weight": w.t(), h + "attn.c_attn.bias": b,
                   h + "attn.c_proj.weight": t[p + "att.out_proj.weight"].t(), h + "attn.c_proj.bias": t[p + "att.out_proj.bias"],
                   h + "mlp.c_fc.weight": t[p + "ff.layers.0.weight"].t(), h + "mlp.c_fc.bias": t[p + "ff.layers.0.bias"],
                   h + "mlp.c_proj.weight": t[p + "ff.layers.2.weight"].t(), h + "mlp.c_proj.bias": t[p + "ff.layers.2.bias"]})
    sd = {k: v.to(torch.float32).contiguous() for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith(".attn.bias") and not k.endswith("masked_bias")]
    assert not missing and not unexpected, (missing, unexpected)
    return model.float().eval()


def preprocess(text: str) -> str:
    """lm-eval hellaswag utils.preprocess."""
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    text = text.replace("  ", " ")
    return text


class Scorer:
    def __init__(self, model, tok):
        self.model, self.tok, self.T = model, tok, model.config.n_positions

    def encode_pair_lmeval(self, context: str, continuation: str):
        if context == "":
            return [50256], self.tok.encode(continuation)
        n = len(context) - len(context.rstrip())
        if n > 0:
            continuation = context[-n:] + continuation
            context = context[:-n]
        whole = self.tok.encode(context + continuation)
        ctx = self.tok.encode(context)
        return ctx, whole[len(ctx):]

    def encode_pair_llmc(self, context: str, continuation: str):
        ctx = self.tok.encode(context)
        return (ctx if ctx else [50256]), self.tok.encode(continuation)

    @torch.inference_mode()
    def loglikelihood(self, ctx, cont):
        full = (ctx + cont)[-(self.T + 1):]
        inp = torch.tensor(full[:-1]).unsqueeze(0)
        logits = self.model(input_ids=inp, use_cache=False).logits[0]         # (T, V)
        logp = torch.log_softmax(logits.float(), dim=-1)[-len(cont):]          # (k, V)
        target = torch.tensor(cont)
        ll = logp.gather(1, target.unsqueeze(1)).squeeze(1).double()
        greedy = bool((logp.argmax(dim=-1) == target).all())
        return float(ll.sum()), greedy


def capitalize(s: str) -> str:
    return s.capitalize()


def hellaswag(scorer: Scorer, rows, recipe: str):
    preds = []
    for r in rows:
        if recipe == "llmc":
            ctx, ends = r["ctx"], r["endings"]
            pairs = [scorer.encode_pair_llmc(ctx, " " + e) for e in ends]
        else:
            query = preprocess(r["activity_label"] + ": " + r["ctx_a"] + " " + capitalize(r["ctx_b"]))
            ends = [preprocess(e) for e in r["endings"]]
            pairs = [scorer.encode_pair_lmeval(query, " " + e) for e in ends]
        lls, counts = [], []
        for c, k in pairs:
            ll, _ = scorer.loglikelihood(c, k)
            lls.append(ll)
            counts.append(len(k))
        lls_a = np.array(lls)
        if recipe == "llmc":
            pred = int(np.argmin(-lls_a))
            pred_norm = int(np.argmin(-lls_a / np.array(counts, dtype=float)))
        else:
            lens = np.array([float(len(e)) for e in ends])
            pred = int(np.argmax(lls_a))
            pred_norm = int(np.argmax(lls_a / lens))
        preds.append({"pred": pred, "pred_norm": pred_norm, "label": int(r["label"]), "loglikelihoods": lls,
                      "tokens": counts})
    n = len(preds)
    return {"examples": n, "acc": sum(p["pred"] == p["label"] for p in preds) / n,
            "acc_norm": sum(p["pred_norm"] == p["label"] for p in preds) / n, "predictions": preds}


def lambada(scorer: Scorer, rows):
    preds = []
    for r in rows:
        words = r["text"].split(" ")
        ctx, target = " ".join(words[:-1]), " " + words[-1]
        c, k = scorer.encode_pair_lmeval(ctx, target)
        ll, greedy = scorer.loglikelihood(c, k)
        preds.append({"hit": greedy, "loglikelihood": ll, "tokens": len(k)})
    n = len(preds)
    return {"examples": n, "acc": sum(p["hit"] for p in preds) / n,
            "ppl": math.exp(-sum(p["loglikelihood"] for p in preds) / n), "predictions": preds}


@torch.inference_mode()
def check_loss(model, fixtures, name):
    ids = torch.from_numpy(np.fromfile(f"{fixtures}/data/test-persuasion.bin", dtype="<u2").astype(np.int64))
    T, n = model.config.n_positions, ids.numel()
    total, count, b = 0.0, 0, 0
    while b < n - 1:
        e = min(b + T, n - 1)
        logits = model(input_ids=ids[b:e].unsqueeze(0), use_cache=False).logits[0]
        total += torch.nn.functional.cross_entropy(logits, ids[b + 1:e + 1], reduction="sum").double().item()
        count += e - b
        b = e
    want = json.load(open(f"{fixtures}/expected/{name}.json"))["tests"]["test-persuasion"]["stride_256"]["loss"]
    got = total / count
    assert abs(got - want) < 1e-5, (name, got, want)
    return got


def main() -> int:
    fixtures, evals, out = sys.argv[1:4]
    runs = sys.argv[4:] or ["reference", "baseline"]
    torch.set_num_threads(1)
    tok = Tok(f"{fixtures}/tokenizer/gpt2.tiktoken")
    assert tok.encode("Every effort moves you") == [6109, 3626, 6100, 345]
    hs = [json.loads(l) for l in open(f"{evals}/hellaswag.jsonl", encoding="utf-8") if l.strip()]
    lb = [json.loads(l) for l in open(f"{evals}/lambada.jsonl", encoding="utf-8") if l.strip()]
    result = {"generator": "bench/evals/hf_evals.py", "torch": torch.__version__,
              "transformers": __import__("transformers").__version__, "runs": {}}
    for name in runs:
        meta = json.load(open(f"{fixtures}/runs/{name}/meta.json"))
        model = load_raschka(f"{fixtures}/runs/{name}/model.safetensors", meta)
        loss = check_loss(model, fixtures, name)
        s = Scorer(model, tok)
        result["runs"][name] = {"test_loss_check": loss, "hellaswag": {"llmc": hellaswag(s, hs, "llmc"),
                                                                       "lm-eval": hellaswag(s, hs, "lm-eval")},
                                "lambada": lambada(s, lb)}
        r = result["runs"][name]
        print(name, "loss", loss, "llmc", r["hellaswag"]["llmc"]["acc"], r["hellaswag"]["llmc"]["acc_norm"],
              "lm-eval", r["hellaswag"]["lm-eval"]["acc"], r["hellaswag"]["lm-eval"]["acc_norm"],
              "lambada", r["lambada"]["acc"], r["lambada"]["ppl"], file=sys.stderr)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
