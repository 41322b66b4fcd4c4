// Seeded randomness for everything the engine and analyses draw (probes, test models).

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast, seedable generator. Same seed, same stream
/// on every platform, which `SystemRandomNumberGenerator` cannot promise.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Skips `draws` outputs, as that many calls of next() would (the GPU's probe draws them itself).
    public mutating func advance(draws: UInt64) { state &+= draws &* 0x9E37_79B9_7F4A_7C15 }
    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }
    /// Standard normal (Box–Muller).
    public mutating func nextGaussian() -> Double {
        let u1 = max(nextUnit(), 0x1p-60), u2 = nextUnit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

extension GPT2Weights {
    /// A random model for tests and benchmarks: matrices uniform in ±scale/√fan-in, embeddings
    /// uniform in ±scale, LayerNorm weights 1 ± 0.2 and biases ±0.1. `biases: false` leaves the
    /// four linear biases out of `stored` (zeros, not parameters), as bias-free checkpoints do.
    public static func random(config: GPT2Config, tied: Bool, biases: Bool, seed: UInt64, scale: Float = 1.5) -> GPT2Weights {
        var w = GPT2Weights(config: config, tied: tied)
        var rng = SplitMix64(seed: seed)
        func u() -> Float { Float(rng.nextUnit() * 2 - 1) }
        for id in w.layout.tensors {
            let shape = w.layout.shapes[id]!
            let n = w.layout.size(id)
            var values = [Float](repeating: 0, count: n)
            switch id.kind {
            case .lmHead where tied: continue
            case .qkvb, .attprojb, .fcb, .fcprojb:
                if !biases { continue }
                for i in 0..<n { values[i] = 0.1 * u() }
            case .ln1b, .ln2b, .lnfb: for i in 0..<n { values[i] = 0.1 * u() }
            case .ln1w, .ln2w, .lnfw: for i in 0..<n { values[i] = 1 + 0.2 * u() }
            case .wte, .wpe: for i in 0..<n { values[i] = scale * 0.5 * u() }
            default:
                let s = scale / Float(shape[1]).squareRoot()
                for i in 0..<n { values[i] = s * u() }
            }
            w.set(id, values)
        }
        return w
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
