#!/usr/bin/env python3
"""Medians of bench/score/run.sh's logs: tokens/s, loss, peak RSS per side, ratios, the gpt2lab kernel profile.

    summarize.py LOGS K MODEL THREADS RESULTS_JSON SIDE...
Writes RESULTS_JSON and prints a table. Ratios are gpt2lab (the plain build) over each other side; loss
differences are against HF f32; peak RSS comes from /usr/bin/time -v (the whole process).
"""
import json
import os
import re
import statistics
import sys

med = statistics.median


def load(path):
    t = open(path).read()
    return json.loads(t[t.index("{"):t.rindex("}") + 1])


def maxrss_mb(path):
    m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", open(path).read())
    return int(m.group(1)) / 1024.0 if m else None


def main():
    logs, k, model, threads, out, *sides = sys.argv[1:]
    k = int(k)
    model_bytes = os.path.getsize(model)
    res = {"k": k, "threads": int(threads), "model": model, "model_bytes": model_bytes, "sides": {}}
    for s in sides:
        if not os.path.exists(f"{logs}/{s}.1.json"):
            continue
        runs = []
        for i in range(1, k + 1):
            r = load(f"{logs}/{s}.{i}.json")
            r["tokens_per_second"] = r.get("tokens_per_second") or r["tokens_scored"] / r["seconds"]
            r["peak_rss_mb"] = maxrss_mb(f"{logs}/{s}.{i}.time")
            runs.append(r)
        res["sides"][s] = {"runs": runs, "tokens_per_second": med(r["tokens_per_second"] for r in runs),
                           "loss": med(r["loss"] for r in runs), "tokens_scored": runs[0]["tokens_scored"],
                           "peak_rss_mb": med(r["peak_rss_mb"] for r in runs),
                           "runtime": runs[0].get("runtime")}
    S = res["sides"]
    gemm = [load(f"{logs}/sgemm.{i}.json") for i in range(1, k + 1) if os.path.exists(f"{logs}/sgemm.{i}.json")]
    if gemm:
        res["sgemm"] = {"core": gemm[0]["core"], "threads": gemm[0]["threads"],
                        "gflops_per_second": med(g["gflops_per_second"] for g in gemm), "runs": gemm}
    if os.path.exists(f"{logs}/gpt2lab.profile.json"):
        res["gpt2lab_profile"] = load(f"{logs}/gpt2lab.profile.json").get("profile")

    lines = [f"side            tok/s    loss            |Δloss| vs HF   peak RSS   (median of {k}, {threads} threads)"]
    hf_loss = S.get("hf", {}).get("loss")
    for s, d in S.items():
        dl = f"{abs(d['loss'] - hf_loss):.2e}" if hf_loss is not None else "-"
        lines.append(f"{s:14s} {d['tokens_per_second']:7.1f}   {d['loss']:.9f}   {dl:>10s}   {d['peak_rss_mb']:6.0f} MB")
    if "gpt2lab" in S:
        g = S["gpt2lab"]
        res["ratios_gpt2lab_over"] = {s: g["tokens_per_second"] / d["tokens_per_second"] for s, d in S.items() if s != "gpt2lab"}
        for s, r in res["ratios_gpt2lab_over"].items():
            lines.append(f"tok/s gpt2lab / {s}: {r:.3f}")
        res["gpt2lab_peak_rss_over_checkpoint"] = g["peak_rss_mb"] * 2**20 / model_bytes
        lines.append(f"gpt2lab peak RSS / checkpoint ({model_bytes / 2**20:.0f} MiB): {res['gpt2lab_peak_rss_over_checkpoint']:.2f}")
        if hf_loss is not None:
            res["loss_abs_diff_gpt2lab_hf"] = abs(g["loss"] - hf_loss)
        if g.get("runtime"):
            rt = g["runtime"]
            lines.append(f"gpt2lab runtime: {rt['cpu']}, {rt['isa']}, GEMM {rt['gemm_kernel']} (by {rt['gemm_selected_by']}),"
                         f" elementwise {rt['elementwise']}, {rt['threads']} threads, {rt['precision']}")
    if "gpt2lab-bf16" in S:
        b = S["gpt2lab-bf16"]
        res["ratios_gpt2lab_bf16_over"] = {s: b["tokens_per_second"] / d["tokens_per_second"]
                                           for s, d in S.items() if s != "gpt2lab-bf16"}
        for s, r in res["ratios_gpt2lab_bf16_over"].items():
            lines.append(f"tok/s gpt2lab-bf16 / {s}: {r:.3f}")
        res["gpt2lab_bf16_peak_rss_over_checkpoint"] = b["peak_rss_mb"] * 2**20 / model_bytes
        lines.append(f"gpt2lab-bf16 peak RSS / checkpoint: {res['gpt2lab_bf16_peak_rss_over_checkpoint']:.2f}")
        if "gpt2lab" in S:
            res["loss_abs_diff_gpt2lab_bf16_f32"] = abs(b["loss"] - S["gpt2lab"]["loss"])
            lines.append(f"|loss bf16 - loss f32| (gpt2lab): {res['loss_abs_diff_gpt2lab_bf16_f32']:.2e}")
    prof = res.get("gpt2lab_profile")
    if prof:
        lines.append("gpt2lab --profile (one extra run):  kernel  seconds  share  GFLOP/s")
        for name, r in sorted(prof["kernels"].items(), key=lambda kv: -kv[1]["seconds"]):
            rate = f"{r['gflops_per_second']:.1f}" if r.get("gflops_per_second") else ""
            lines.append(f"  {name:14s} {r['seconds']:8.3f} {100 * r['share']:5.1f}%  {rate}")
        lines.append(f"  {'other':14s} {prof['other_seconds']:8.3f}")
        lines.append(f"  end to end {prof['end_to_end_gflops_per_second']:.1f} GFLOP/s")
        if "sgemm" in res:
            res["end_to_end_over_sgemm"] = prof["end_to_end_gflops_per_second"] / res["sgemm"]["gflops_per_second"]
            lines.append(f"  sgemm alone ({res['sgemm']['core']}, {res['sgemm']['threads']} threads): "
                         f"{res['sgemm']['gflops_per_second']:.1f} GFLOP/s; end to end / sgemm = {res['end_to_end_over_sgemm']:.2f}")
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    print("\n".join(lines))
    print(f"(written to {out})")


if __name__ == "__main__":
    main()
