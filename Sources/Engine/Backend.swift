// The operations a GPT-2 forward (and backward) needs, on the CPU: OpenBLAS sgemm plus SIMD16
// Swift kernels (Kernels/), each with the row split across `threads`. The model and the analyses
// call only these, so a second GEMM provider or precision is added here, in one place.
//
// Shapes use the legend in Config.swift. All pointers are row-major Float buffers.

/// CPU kernels: OpenBLAS (single-threaded per call) with rows split across `threads`.
public struct CPUBackend: Sendable {
    public let threads: Int

    public init(threads: Int? = nil) {
        self.threads = max(1, threads ?? ProcessInfoCores.active)
        // Each thread calls sgemm on its own block; OpenBLAS's own threads would oversubscribe.
        openblasSingleThreaded()
        // OpenBLAS's kernel table for this CPU, before the first product (Runtime.swift).
        ensureGEMMSelected()
        // The f32 block products' path (MatmulF32Choice.swift), before any timing or profile starts.
        _ = f32GEMM
    }

    /// out (N, OC) = inp (N, C) · weightᵀ (OC, C) + bias (OC)
    public func matmul(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                       bias: UnsafePointer<Float>?, n: Int, c: Int, oc: Int) {
        matmulForward(out, inp, weight, bias, n: n, c: c, oc: oc, threads: threads)
    }
    /// out (N, OC) = bf16(inp) (N, C) · weightᵀ (OC, C, bf16) + bias (OC), f32 sums; rounds `inp` in place.
    public func matmulBF16(out: UnsafeMutablePointer<Float>, inp: UnsafeMutablePointer<Float>, weight: UnsafePointer<UInt16>,
                           bias: UnsafePointer<Float>?, n: Int, c: Int, oc: Int) {
        matmulForwardBF16(out, inp, weight, bias, n: n, c: c, oc: oc, threads: threads)
    }
    /// out (N, C) = LayerNorm(inp) · weight + bias; caches mean, rstd (N)
    public func layerNorm(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>?, rstd: UnsafeMutablePointer<Float>?,
                          inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, n: Int, c: Int) {
        layerNormForward(out, mean, rstd, inp, weight, bias, n: n, c: c, threads: threads)
    }
    /// out = gelu_tanh(inp), elementwise over `count`
    public func gelu(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count: Int) {
        geluForward(out, inp, count: count, threads: threads)
    }
    /// out (B, T, C) = causal softmax(q·kᵀ/√hs)·v per head, from qkv (B, T, 3C); att (B, NH, T, T) optional cache
    public func attention(out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>?, qkv: UnsafePointer<Float>,
                          b: Int, t: Int, c: Int, nh: Int) {
        attentionForward(out, att, qkv, b: b, t: t, c: c, nh: nh, threads: threads)
    }
    /// out (C) = softmax(q·kᵀ/√hs)·v per head for one query q (C) against n cached keys and values (n, C);
    /// scores is an (n) scratch. The attention of one generation step (see Generate.swift).
    public func attentionStep(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                              values: UnsafePointer<Float>, scores: UnsafeMutablePointer<Float>, n: Int, c: Int, nh: Int) {
        attentionStepForward(out, q, keys, values, scores: scores, n: n, c: c, nh: nh)
    }
    /// nll[i] = logsumexp(x_i · headᵀ) − (x_i · headᵀ)[target_i] for each i in `rows`; x (N, C), head (V, C)
    /// With `headBF16` the head is that bf16 matrix (and `head` is not read).
    public func crossEntropy(nll: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, head: UnsafePointer<Float>,
                             targets: UnsafePointer<Int32>, rows: [Int], n: Int, c: Int, v: Int,
                             headBF16: UnsafePointer<UInt16>? = nil) {
        crossEntropyForward(nll, x, head, targets, active: rows, n: n, c: c, v: v, threads: threads, headBF16: headBF16)
    }
    /// dinp (N, C) += dout · weight; dweight (OC, C) += doutᵀ · inp; dbias (OC) += Σ dout. dout is (N, OC).
    public func matmulBackward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                               dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, n: Int, c: Int, oc: Int) {
        Engine.matmulBackward(dinp, dweight, dbias, dout, inp, weight, n: n, c: c, oc: oc, threads: threads)
    }
    /// LayerNorm backward from forward's inp (N, C), mean and rstd (N); dinp (N, C), dweight, dbias (C) +=.
    public func layerNormBackward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                                  dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                                  weight: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                  n: Int, c: Int) {
        Engine.layerNormBackward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, n: n, c: c, threads: threads)
    }
    /// dinp += dout · gelu'(inp), elementwise over `count`.
    public func geluBackward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, dout: UnsafePointer<Float>, count: Int) {
        Engine.geluBackward(dinp, inp, dout, count: count, threads: threads)
    }
    /// dqkv (B, T, 3C) += attention backward of dout (B, T, C), from qkv and the cached att (B, NH, T, T).
    public func attentionBackward(dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
                                  att: UnsafePointer<Float>, b: Int, t: Int, c: Int, nh: Int) {
        Engine.attentionBackward(dqkv, dout, qkv, att, b: b, t: t, c: c, nh: nh, threads: threads)
    }
    /// Fused LM head + cross-entropy forward and backward over `rows`: writes nll[i]; dx (N, C) += and
    /// dhead (V, C) += the gradients of scale · Σ_rows nll. Never holds all (N, V) logits.
    public func crossEntropyBackward(nll: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                     dhead: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, head: UnsafePointer<Float>,
                                     targets: UnsafePointer<Int32>, rows: [Int], scale: Float, n: Int, c: Int, v: Int) {
        Engine.crossEntropyBackward(nll, dx, dhead, x, head, targets, active: rows, scale: scale, n: n, c: c, v: v,
                                    threads: threads)
    }
}

import CBLAS
import CKernels
import Foundation

func openblasSingleThreaded() { openblas_set_num_threads(1) }

/// The default thread count: the CPUs this process may run on (its affinity mask, which taskset, Slurm and
/// cgroup cpusets set), not every CPU of the machine.
public enum ProcessInfoCores {
    public static var active: Int { Int(gl_cpu_available()) }
}
