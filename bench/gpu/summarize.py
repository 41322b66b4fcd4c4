#!/usr/bin/env python3
"""Summary of bench/gpu/check.sh: reads its steps (one JSON object per line), prints the fixture losses
against HF transformers', the benchmark's medians and memory, and writes results.json.

    summarize.py RESULTS.jsonl FIXTURES_DIR OUT.json
"""
import json
import statistics
import sys

TOL = {"f32": 2e-4, "bf16": 1e-3}
DEVICES = ("cpu", "cuda", "cuda-f32", "cuda-tf32")   # cuda: the default --gpu-math (3xtf32)
BULKY = ("window_nll_sums", "window_counts", "window_losses", "window_indices")


def slim(o):
    if isinstance(o, dict):
        return {k: slim(v) for k, v in o.items() if k not in BULKY}
    if isinstance(o, list):
        return [slim(v) for v in o]
    return o


def hf_loss(fix, run):
    try:
        with open(f"{fix}/expected/{run}.json") as f:
            return json.load(f)["tests"]["test-persuasion"]["stride_256"]["loss"]
    except Exception as e:  # noqa: BLE001
        print(f"summary: no expected loss for {run}: {e}")
        return None


def hessian_summary(by, res):
    """gpt2lab hessian --device cuda against PyTorch's double backprop: seconds per HVP, the traces' z-score."""
    ours = (by.get("hessian gpt2lab cuda") or {}).get("output")
    theirs = (by.get("hessian torch") or {}).get("output")
    theirs = theirs[0] if isinstance(theirs, list) and theirs else theirs
    print("\n==== Hessian, 124M, batch 4 x 1024: seconds per HVP and Hutchinson's trace ====")
    if not (isinstance(ours, dict) and "trace" in ours and isinstance(theirs, dict) and "trace" in theirs):
        print("hessian: FAILED or skipped (see the log)")
        return
    z = (ours["trace"] - theirs["trace"]) / max((ours["stderr"] ** 2 + (theirs["stderr"] or 0) ** 2) ** 0.5, 1e-300)
    speed = theirs["seconds_per_hvp"] / ours["seconds_per_hvp"]
    res["hessian"] = {"gpt2lab_seconds_per_hvp": ours["seconds_per_hvp"], "torch_seconds_per_hvp": theirs["seconds_per_hvp"],
                      "speedup": speed, "gpt2lab_trace": ours["trace"], "gpt2lab_stderr": ours["stderr"],
                      "torch_trace": theirs["trace"], "torch_stderr": theirs["stderr"], "trace_z": z,
                      "gpt2lab_batch_loss": ours["batch_loss"], "torch_batch_loss": theirs["batch_loss"],
                      "gpt2lab_peak_gpu_bytes": (ours.get("gpu") or {}).get("peak_bytes"),
                      "torch_peak_gpu_bytes": theirs.get("peak_gpu_bytes")}
    print(f"gpt2lab cuda  {ours['seconds_per_hvp']:.3f} s/HVP  trace {ours['trace']:.5g} ± {ours['stderr']:.2g}  "
          f"loss {ours['batch_loss']:.6f}  fwd+bwd {ours['seconds_fwd_bwd']:.3f} s")
    print(f"torch         {theirs['seconds_per_hvp']:.3f} s/HVP  trace {theirs['trace']:.5g} ± {theirs['stderr'] or 0:.2g}  "
          f"loss {theirs['batch_loss']:.6f}")
    print(f"speed-up {speed:.2f}x; traces differ by {z:+.2f} combined standard errors")
    lz = (by.get("hessian gpt2lab cuda lanczos") or {}).get("output")
    if isinstance(lz, dict) and lz.get("top_eigenvalues"):
        # everything but the first gradient and the one trace probe: the Lanczos steps and the residual's product
        rest = lz["seconds"] - lz["seconds_fwd_bwd"] - lz["seconds_per_hvp"] * lz["samples"]
        per = rest / (lz["eigen_steps"] + 1)
        res["hessian"]["lanczos"] = {"steps": lz["eigen_steps"], "lambda_1": lz["top_eigenvalues"][0],
                                     "residual": lz["eigen_residuals"][0], "seconds": rest, "seconds_per_step": per}
        print(f"Lanczos on the GPU: {lz['eigen_steps']} steps, λ₁ {lz['top_eigenvalues'][0]:.6g} "
              f"(residual {lz['eigen_residuals'][0]:.2g}), {rest:.2f} s, {per:.3f} s a step")
    else:
        print("Lanczos on the GPU: FAILED or skipped (see the log)")


def compare_summary(by, res):
    """compare --device cuda: tokens per second on 256k tokens, and the slice's numbers against the CPU's."""
    print("\n==== compare, two 124M models: speed on the GPU, the first 8k tokens against the CPU ====")
    big = (by.get("compare gpt2lab cuda") or {}).get("output")
    g = (by.get("compare gpt2lab cuda slice") or {}).get("output")
    c = (by.get("compare gpt2lab cpu slice") or {}).get("output")
    out = {}
    if isinstance(big, dict) and "tokens_scored" in big:
        out["cuda_tokens_per_second"] = big["tokens_scored"] / big["seconds"]
        print(f"gpt2lab compare cuda: {big['tokens_scored']:,} tokens in {big['seconds']:.2f} s "
              f"({out['cuda_tokens_per_second']:,.0f} tok/s, both models), device {big.get('device')}")
    if isinstance(g, dict) and isinstance(c, dict) and "kl_mean" in g and "kl_mean" in c:
        out.update({"kl_cuda": g["kl_mean"], "kl_cpu": c["kl_mean"], "top1_cuda": g["top1_agreement"],
                    "top1_cpu": c["top1_agreement"], "loss_a_diff": g["loss_a"] - c["loss_a"],
                    "loss_b_diff": g["loss_b"] - c["loss_b"], "cpu_tokens_per_second": c["tokens_scored"] / c["seconds"]})
        print(f"slice: KL cuda {g['kl_mean']:.7f} cpu {c['kl_mean']:.7f}; top-1 {g['top1_agreement']:.5f} / "
              f"{c['top1_agreement']:.5f}; loss A diff {out['loss_a_diff']:+.2e}, B {out['loss_b_diff']:+.2e}; "
              f"cpu {out['cpu_tokens_per_second']:,.0f} tok/s")
    if not out:
        print("compare: FAILED or skipped (see the log)")
    res["compare"] = out


def main():
    path, fix, out_path = sys.argv[1:4]
    steps = [json.loads(l) for l in open(path) if l.strip()]
    by = {s["step"]: s for s in steps}
    failed = [f'{s["step"]} (rc {s["rc"]})' for s in steps if s["rc"] != 0]
    res = {"failed_steps": failed, "fixtures": [], "bench": {}, "cpu": {}}
    doc = by.get("doctor-json", {}).get("output")
    res["doctor"] = doc if isinstance(doc, dict) else None

    print("\n==== fixtures: loss against HF transformers (f32 tolerance 2e-4, bf16 1e-3) ====")
    for run in ("baseline", "reference"):
        want = hf_loss(fix, run)
        for dev in DEVICES:
            for prec in ("f32", "bf16"):
                if dev.startswith("cuda-") and prec == "bf16":
                    continue
                s = by.get(f"fixture {run} {dev} {prec}")
                o = s and s["output"]
                if not isinstance(o, dict) or "loss" not in o:
                    print(f"fixture {run:9} {dev:4} {prec:4} FAILED (see the log)")
                    res["fixtures"].append({"run": run, "device": dev, "precision": prec, "ok": False})
                    continue
                cpu = (by.get(f"fixture {run} cpu {prec}") or {}).get("output")
                vs_cpu = o["loss"] - cpu["loss"] if dev.startswith("cuda") and isinstance(cpu, dict) and "loss" in cpu else None
                diff = o["loss"] - want if want is not None else None
                ok = diff is not None and abs(diff) <= TOL[prec]
                print(f"fixture {run:9} {dev:9} {prec:4} loss {o['loss']:.7f}  HF {want:.7f}  diff {diff:+.2e}  "
                      f"{'PASS' if ok else 'FAIL'}" + (f"  (cuda - cpu {vs_cpu:+.2e})" if vs_cpu is not None else "")
                      + f"  {o.get('tokens_per_second', 0):.0f} tok/s")
                res["fixtures"].append({"run": run, "device": dev, "precision": prec, "loss": o["loss"], "hf_loss": want,
                                        "diff": diff, "cuda_minus_cpu": vs_cpu, "ok": ok, "gpu": o.get("gpu")})

    rows = {}
    for s in steps:
        name, o = s["step"], s["output"]
        if name.startswith("bench ") and " gpt2lab " in name and isinstance(o, dict) and "loss" in o:
            impl = "gpt2lab-cuda-" + name.split()[-1]
            rows.setdefault(impl, []).append({"loss": o["loss"], "tps": o["tokens_per_second"], "seconds": o["seconds"],
                                              "peak": (o.get("gpu") or {}).get("peak_bytes"), "tokens": o["tokens_scored"],
                                              "attention": (o.get("gpu") or {}).get("attention")})
        elif name.startswith("bench ") and name.endswith(" hf") and s["rc"] == 0:
            for r in o if isinstance(o, list) else []:
                if isinstance(r, dict) and "impl" in r:
                    rows.setdefault(r["impl"], []).append({"loss": r["loss"], "tps": r["tokens_per_second"],
                                                           "seconds": r["seconds"], "peak": r.get("peak_gpu_bytes"),
                                                           "tokens": r["tokens_scored"]})
    ref = statistics.median(r["loss"] for r in rows["hf-f32"]) if rows.get("hf-f32") else None
    print("\n==== 124M, 1M tokens, batch 32 x 1024: medians over rounds (tok/s), loss - HF f32 loss, peak GPU memory ====")
    for impl, rs in rows.items():
        tps = statistics.median(r["tps"] for r in rs)
        loss = statistics.median(r["loss"] for r in rs)
        peak = max((r["peak"] or 0) for r in rs)
        d = loss - ref if ref is not None else None
        res["bench"][impl] = {"median_tokens_per_second": tps, "tokens_per_second": [r["tps"] for r in rs], "loss": loss,
                              "loss_minus_hf_f32": d, "peak_gpu_bytes": peak, "tokens_scored": rs[0]["tokens"], "rounds": len(rs)}
        att = rs[0].get("attention")
        if att:
            res["bench"][impl]["attention"] = att
        print(f"{impl:22} {tps:12,.0f} tok/s  loss {loss:.7f}" + (f"  ({d:+.2e})" if d is not None else "")
              + f"  peak {peak / 2**30:.2f} GiB  rounds {len(rs)}" + (f"  attention: {att}" if att else ""))
    med = {k: v["median_tokens_per_second"] for k, v in res["bench"].items()}
    for ours, theirs in (("3xtf32", "hf-f32"), ("f32", "hf-f32"), ("tf32", "hf-tf32"), ("bf16", "hf-bf16-weights"),
                         ("bf16", "hf-bf16-autocast"), ("bf16-products", "hf-bf16-weights"), ("bf16", "gpt2lab-cuda-bf16-products")):
        if f"gpt2lab-cuda-{ours}" in med and theirs in med:
            a = med[f"gpt2lab-cuda-{ours}"] / med[theirs]
            res.setdefault("ratios", {})[f"gpt2lab-cuda-{ours} / {theirs}"] = a
            print(f"gpt2lab cuda {ours} / {theirs}: {a:.2f}x")

    hessian_summary(by, res)
    compare_summary(by, res)

    print("\n==== CPU engine, 16 threads, first 16k tokens ====")
    same = (by.get("cuda gpt2lab f32 same slice") or {}).get("output")
    for prec in ("f32", "bf16"):
        o = (by.get(f"cpu gpt2lab {prec}") or {}).get("output")
        if isinstance(o, dict) and "loss" in o:
            d = o["loss"] - same["loss"] if isinstance(same, dict) and "loss" in same else None
            res["cpu"][prec] = {"tokens_per_second": o["tokens_per_second"], "loss": o["loss"], "loss_minus_cuda_f32": d}
            print(f"gpt2lab cpu {prec:4} {o['tokens_per_second']:10,.0f} tok/s  loss {o['loss']:.7f}"
                  + (f"  (- cuda f32 on the slice: {d:+.2e})" if d is not None else ""))
        else:
            print(f"gpt2lab cpu {prec}: FAILED or skipped (see the log)")
    scan = {int(s["step"].split()[2]): s["output"] for s in steps if s["step"].startswith("cpu scan ")
            and isinstance(s["output"], dict) and "tokens_per_second" in s["output"]}
    if scan:
        base = scan.get(2) or scan[min(scan)]
        res["cpu"]["thread_scan"] = {n: o["tokens_per_second"] for n, o in sorted(scan.items())}
        for n, o in sorted(scan.items()):
            print(f"gpt2lab cpu f32 {n:2} threads {o['tokens_per_second']:10,.0f} tok/s  ({o['tokens_per_second'] / base['tokens_per_second']:.2f}x the "
                  f"{2 if 2 in scan else min(scan)}-thread rate)  loss {o['loss']:.7f}")
    if isinstance(same, dict) and "loss" in same:
        print(f"gpt2lab cuda f32 on the slice: {same['tokens_per_second']:,.0f} tok/s, loss {same['loss']:.7f}")
    print("\nfailed steps: " + (", ".join(failed) if failed else "none"))
    res["steps"] = slim(steps)
    with open(out_path, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
