import Dispatch

// Opt-in per-kernel timing (`gpt2lab score --profile`): wall time and FLOPs per kernel class,
// summed over every call made from the engine's calling thread. Off by default; when off, each
// kernel entry pays one load of a global flag.

/// The kernel classes a forward/backward pass is made of.
public enum KernelClass: String, CaseIterable, Codable, Sendable {
    case matmul          // the linear layers (qkv, attn proj, fc, fc proj), forward and backward
    case attention       // QKᵀ, causal softmax, P·V (and their backward)
    case lmHeadLoss = "lm_head_loss"  // LM head product + logsumexp + NLL (and backward)
    case layerNorm = "layernorm"
    case gelu
    case residual
    case embedding
}

/// Totals of one kernel class.
public struct KernelTotals: Codable, Sendable, Equatable {
    public var calls = 0
    public var seconds = 0.0
    /// Multiply-adds × 2 of the matrix products inside (0 for elementwise kernels).
    public var flops = 0.0
    public init() {}
}

public enum KernelProfile {
    nonisolated(unsafe) static var enabled = false
    nonisolated(unsafe) private static var totals: [KernelClass: KernelTotals] = [:]

    /// Starts (and zeroes) the profile; kernel calls from now on are timed.
    public static func start() { totals = [:]; enabled = true }
    /// Stops timing and returns the totals since `start`, leaving none behind (a later `stop` without a `start`
    /// returns nothing, whatever ran before).
    public static func stop() -> [KernelClass: KernelTotals] {
        enabled = false
        defer { totals = [:] }
        return totals
    }

    /// Totals added to class `k` (one kernel call from end, or the GPU forward's stages).
    static func add(_ k: KernelClass, calls: Int, seconds: Double, flops: Double) {
        guard enabled, calls > 0 else { return }
        var t = totals[k] ?? KernelTotals()
        t.calls += calls; t.seconds += seconds; t.flops += flops
        totals[k] = t
    }

    @inline(__always)
    static func begin() -> UInt64 { enabled ? DispatchTime.now().uptimeNanoseconds : 0 }

    @inline(__always)
    static func end(_ k: KernelClass, _ t0: UInt64, flops: @autoclosure () -> Double = 0) {
        guard enabled else { return }
        add(k, calls: 1, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9, flops: flops())
    }
}
