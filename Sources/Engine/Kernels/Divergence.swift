// Two models' next-token distributions at the same positions, compared (`gpt2lab compare`).
// For logits a, b (V) of one position: la = a − logsumexp(a), lb likewise, and
//   KL(A‖B) = Σ_v exp(la_v)·(la_v − lb_v),   nll = −la[target], −lb[target],   argmax of each,
//   and each one's confidence max_v exp(la_v) = 1 / Σ_v e^(a_v − max a) (a sum the KL pass makes anyway).
// Logits of both models for a block of rows come from the LM head (`GPT2Model.headLogits`); rows
// are split over threads, each row summed in Double. Forward only: nothing here has a backward.

/// What one position's two distributions give.
public struct PositionComparison: Sendable, Equatable {
    public var nllA: Float
    public var nllB: Float
    /// KL(A‖B) in nats.
    public var kl: Double
    public var argmaxA: Int32
    public var argmaxB: Int32
    /// The largest next-token probability of each model (the probability of its argmax).
    public var confidenceA: Float
    public var confidenceB: Float
}

/// Compares rows of logits a (rows, `strideA`) and b (rows, `strideB`) over their first V entries (the softmaxed
/// vocabulary: GPT-2's 50257 rows of a padded head) at `targets` (rows); out (rows) is written.
public func compareDistributions(_ out: UnsafeMutablePointer<PositionComparison>, a: UnsafePointer<Float>,
                                 b: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, v V: Int,
                                 strideA: Int, strideB: Int, threads: Int) {
    parallelChunks(rows, threads: threads) { range in
        for r in range {
            let ra = a + r * strideA, rb = b + r * strideB
            // Pass 1: the maxima. Pass 2, one exp per logit of each model (as scoring both costs):
            //   Sa = Σ e^(a−ma), Sb = Σ e^(b−mb), Sab = Σ e^(a−ma)·(a − b), and then
            //   KL(A‖B) = Σ p_a·(la − lb) = Sab/Sa − lseA + lseB (C kernel, sums in Double).
            let ma = gl_max(ra, V), mb = gl_max(rb, V)
            var sa = 0.0, sb = 0.0, sab = 0.0
            gl_kl_sums(ra, rb, V, ma, mb, &sa, &sb, &sab)
            let lseA = Double(ma) + log(sa), lseB = Double(mb) + log(sb)
            // The argmax is the first position holding the row's maximum.
            var ia = 0, ib = 0
            while ia < V - 1 && ra[ia] != ma { ia += 1 }
            while ib < V - 1 && rb[ib] != mb { ib += 1 }
            let t = Int(targets[r])
            out[r] = PositionComparison(nllA: Float(lseA - Double(ra[t])), nllB: Float(lseB - Double(rb[t])),
                                        kl: max(0, sab / sa - lseA + lseB), argmaxA: Int32(ia), argmaxB: Int32(ib),
                                        confidenceA: Float(1 / sa), confidenceB: Float(1 / sb))
        }
    }
}

import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
