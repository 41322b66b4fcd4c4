import Engine

// The one primitive the Hessian analyses rest on (as PyHessian's `hessian_vector_product`):
// a symmetric linear map v ↦ Hv on a flat Float vector. Hutchinson and Lanczos (top eigenvalues, SLQ) are
// written against this protocol only, so a quadratic ½xᵀAx with known A tests them exactly.

/// A named block of coordinates that are parameters. Probes are zero outside all blocks, and
/// trace breakdowns are reported per block.
public struct HVPBlock: Sendable, Equatable {
    public let name: String
    public let range: Range<Int>
    public init(name: String, range: Range<Int>) { self.name = name; self.range = range }
}

public protocol HVPOperator {
    /// Length of the vectors `hvp` takes and returns.
    var dimension: Int { get }
    /// The parameter coordinates, in order, non-overlapping; probes live on these only.
    var blocks: [HVPBlock] { get }
    /// H·v. `v` is zero outside `blocks`; the result's entries outside `blocks` are ignored.
    func hvp(_ v: [Float]) throws -> [Float]
    /// Hutchinson's next probe where the operator keeps its vectors (a GPU): for v = `rademacher(…, rng: &rng)`,
    /// Σ_{i∈block} v_i (Hv)_i per block, with `rng` advanced as that call advances it; nil (the default) when the
    /// operator has no such path, and the caller draws v and calls `hvp`.
    func rademacherParts(rng: inout SplitMix64) throws -> [Double]?
    /// Where a Lanczos run of `steps` steps keeps its vectors (Krylov.swift): host arrays by default, when they
    /// fit in memory (else `HessianError.lanczosMemory`).
    func krylovSpace(steps: Int) throws -> any KrylovSpace
}

extension HVPOperator {
    public func rademacherParts(rng: inout SplitMix64) throws -> [Double]? { nil }
    public func krylovSpace(steps: Int) throws -> any KrylovSpace { try hostKrylov(self, steps: steps) }
}

/// The SplitMix64 draws `rademacher` takes for each block (64 signs a draw, each block starting a fresh draw):
/// each block's first draw and the total.
func rademacherDraws(_ blocks: [HVPBlock]) -> (first: [Int], total: Int) {
    var first: [Int] = [], total = 0
    for b in blocks { first.append(total); total += (b.range.count + 63) / 64 }
    return (first, total)
}

/// A dense symmetric matrix as an operator: Hv = A·v (row-major n×n, Double inside).
/// The Hessian of ½xᵀAx, for tests and as a worked example.
public struct DenseSymmetricOperator: HVPOperator {
    public let n: Int
    public let a: [Double]
    public let blocks: [HVPBlock]
    public init(n: Int, a: [Double], blocks: [HVPBlock]? = nil) {
        self.n = n; self.a = a
        self.blocks = blocks ?? [HVPBlock(name: "x", range: 0..<n)]
    }
    public var dimension: Int { n }
    public func hvp(_ v: [Float]) throws -> [Float] {
        (0..<n).map { i in
            var s = 0.0
            for j in 0..<n { s += a[i * n + j] * Double(v[j]) }
            return Float(s)
        }
    }
}

// Vector helpers over flat buffers, Double accumulation (PyHessian's utils.py, without in-place surprises).

@inline(__always) func dotD<F: BinaryFloatingPoint>(_ a: [F], _ b: [F]) -> Double {
    var s = 0.0
    for i in 0..<a.count { s += Double(a[i]) * Double(b[i]) }
    return s
}

@inline(__always) func dotD(_ a: [Float], _ b: [Float], _ r: Range<Int>) -> Double {
    var s = 0.0
    for i in r { s += Double(a[i]) * Double(b[i]) }
    return s
}

func normD<F: BinaryFloatingPoint>(_ a: [F]) -> Double { dotD(a, a).squareRoot() }

/// Zero outside `blocks`.
func restricted(_ v: [Float], to blocks: [HVPBlock]) -> [Float] {
    var out = [Float](repeating: 0, count: v.count)
    for b in blocks { for i in b.range { out[i] = v[i] } }
    return out
}
