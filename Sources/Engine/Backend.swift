// The handful of operations a GPT-2 forward (and backward) needs, behind one interface.
//
// `CPUBackend` runs them on OpenBLAS sgemm plus SIMD16 Swift kernels. A CUDA backend can
// implement the same protocol (with device buffers behind the pointers) without touching the
// Checkpoints, TestSets or Analysis modules: they only ever talk to `GPT2Model`.
//
// Shapes use the legend in Config.swift. All pointers are row-major Float buffers.

public protocol ComputeBackend: Sendable {
    /// out (N, OC) = inp (N, C) · weightᵀ (OC, C) + bias (OC)
    func matmul(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                bias: UnsafePointer<Float>?, n: Int, c: Int, oc: Int)
    /// out (N, C) = LayerNorm(inp) · weight + bias; caches mean, rstd (N)
    func layerNorm(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                   inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, n: Int, c: Int)
    /// out = gelu_tanh(inp), elementwise over `count`
    func gelu(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count: Int)
    /// out (B, T, C) = causal softmax(q·kᵀ/√hs)·v per head, from qkv (B, T, 3C); att (B, NH, T, T) optional cache
    func attention(out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>?, qkv: UnsafePointer<Float>,
                   b: Int, t: Int, c: Int, nh: Int)
    /// out (C) = softmax(q·kᵀ/√hs)·v per head for one query q (C) against n cached keys and values (n, C);
    /// scores is an (n) scratch. The attention of one generation step (see Generate.swift).
    func attentionStep(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                       values: UnsafePointer<Float>, scores: UnsafeMutablePointer<Float>, n: Int, c: Int, nh: Int)
    /// nll[i] = logsumexp(x_i · headᵀ) − (x_i · headᵀ)[target_i] for each i in `rows`; x (N, C), head (V, C)
    func crossEntropy(nll: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, head: UnsafePointer<Float>,
                      targets: UnsafePointer<Int32>, rows: [Int], n: Int, c: Int, v: Int)

    // Backward ops: each adds (+=) into its gradient outputs; see the kernel files for the maths.

    /// dinp (N, C) += dout · weight; dweight (OC, C) += doutᵀ · inp; dbias (OC) += Σ dout. dout is (N, OC).
    func matmulBackward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                        dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                        weight: UnsafePointer<Float>, n: Int, c: Int, oc: Int)
    /// LayerNorm backward from forward's inp (N, C), mean and rstd (N); dinp (N, C), dweight, dbias (C) +=.
    func layerNormBackward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                           dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                           weight: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                           n: Int, c: Int)
    /// dinp += dout · gelu'(inp), elementwise over `count`.
    func geluBackward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, dout: UnsafePointer<Float>, count: Int)
    /// dqkv (B, T, 3C) += attention backward of dout (B, T, C), from qkv and the cached att (B, NH, T, T).
    func attentionBackward(dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
                           att: UnsafePointer<Float>, b: Int, t: Int, c: Int, nh: Int)
    /// Fused LM head + cross-entropy forward and backward over `rows`: writes nll[i]; dx (N, C) += and
    /// dhead (V, C) += the gradients of scale · Σ_rows nll. Never holds all (N, V) logits.
    func crossEntropyBackward(nll: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>,
                              dhead: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, head: UnsafePointer<Float>,
                              targets: UnsafePointer<Int32>, rows: [Int], scale: Float, n: Int, c: Int, v: Int)
}

/// CPU kernels: OpenBLAS (single-threaded per call) with rows split across `threads`.
public struct CPUBackend: ComputeBackend {
    public let threads: Int

    public init(threads: Int? = nil) {
        self.threads = max(1, threads ?? ProcessInfoCores.active)
        // Each thread calls sgemm on its own block; OpenBLAS's own threads would oversubscribe.
        openblasSingleThreaded()
        // OpenBLAS's kernel table for this CPU, before the first product (Runtime.swift).
        ensureGEMMSelected()
    }

    public func matmul(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                       bias: UnsafePointer<Float>?, n: Int, c: Int, oc: Int) {
        matmulForward(out, inp, weight, bias, n: n, c: c, oc: oc, threads: threads)
    }
    public func layerNorm(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                          inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, n: Int, c: Int) {
        layerNormForward(out, mean, rstd, inp, weight, bias, n: n, c: c, threads: threads)
    }
    public func gelu(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count: Int) {
        geluForward(out, inp, count: count, threads: threads)
    }
    public func attention(out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>?, qkv: UnsafePointer<Float>,
                          b: Int, t: Int, c: Int, nh: Int) {
        attentionForward(out, att, qkv, b: b, t: t, c: c, nh: nh, threads: threads)
    }
    public func attentionStep(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                              values: UnsafePointer<Float>, scores: UnsafeMutablePointer<Float>, n: Int, c: Int, nh: Int) {
        attentionStepForward(out, q, keys, values, scores: scores, n: n, c: c, nh: nh)
    }
    public func crossEntropy(nll: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, head: UnsafePointer<Float>,
                             targets: UnsafePointer<Int32>, rows: [Int], n: Int, c: Int, v: Int) {
        crossEntropyForward(nll, x, head, targets, active: rows, n: n, c: c, v: v, threads: threads)
    }
    public func matmulBackward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                               dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, n: Int, c: Int, oc: Int) {
        Engine.matmulBackward(dinp, dweight, dbias, dout, inp, weight, n: n, c: c, oc: oc, threads: threads)
    }
    public func layerNormBackward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                                  dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                                  weight: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                  n: Int, c: Int) {
        Engine.layerNormBackward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, n: n, c: c, threads: threads)
    }
    public func geluBackward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, dout: UnsafePointer<Float>, count: Int) {
        Engine.geluBackward(dinp, inp, dout, count: count, threads: threads)
    }
    public func attentionBackward(dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
                                  att: UnsafePointer<Float>, b: Int, t: Int, c: Int, nh: Int) {
        Engine.attentionBackward(dqkv, dout, qkv, att, b: b, t: t, c: c, nh: nh, threads: threads)
    }
    public func crossEntropyBackward(nll: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                     dhead: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, head: UnsafePointer<Float>,
                                     targets: UnsafePointer<Int32>, rows: [Int], scale: Float, n: Int, c: Int, v: Int) {
        Engine.crossEntropyBackward(nll, dx, dhead, x, head, targets, active: rows, scale: scale, n: n, c: c, v: v,
                                    threads: threads)
    }
}

import CBLAS
import Foundation

func openblasSingleThreaded() { openblas_set_num_threads(1) }

enum ProcessInfoCores {
    static var active: Int { ProcessInfo.processInfo.activeProcessorCount }
}
