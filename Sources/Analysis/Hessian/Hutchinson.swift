import Engine

// Hutchinson's trace estimator (Hutchinson 1989; PyHessian's `trace`): for Rademacher probes v
// (entries ±1 with equal probability), E[vᵀHv] = tr(H). We report the mean of the samples and its
// standard error (sample standard deviation / √n), and split each sample's vᵀHv over the
// operator's blocks, Σ_{i∈block} v_i (Hv)_i, whose means are unbiased estimates of the
// block-diagonal traces and add up to the total.

/// The result of a Hutchinson run.
public struct TraceEstimate: Sendable {
    /// Mean of vᵀHv over the samples.
    public var mean: Double
    /// Standard error of the mean: sample std (n − 1 denominator) / √n; 0 with one sample.
    public var stderr: Double
    /// The individual vᵀHv values, in draw order.
    public var sampleValues: [Double]
    /// Per block name: mean over samples of Σ_{i∈block} v_i (Hv)_i.
    public var perBlock: [String: Double]
    /// Per block name: the standard error of that mean (0 with one sample).
    public var perBlockStderr: [String: Double] = [:]
    public var samples: Int { sampleValues.count }
}

/// Rademacher vector (±1) on `blocks`, zero elsewhere; 64 signs per generator draw.
public func rademacher(dimension: Int, blocks: [HVPBlock], rng: inout SplitMix64) -> [Float] {
    var v = [Float](repeating: 0, count: dimension)
    for b in blocks {
        var bits: UInt64 = 0, left = 0
        for i in b.range {
            if left == 0 { bits = rng.next(); left = 64 }
            v[i] = bits & 1 == 0 ? 1 : -1
            bits >>= 1; left -= 1
        }
    }
    return v
}

/// Estimates tr(H) with Rademacher probes drawn from `rng`.
/// - samples: the number of probes, or the cap when `tol` is given.
/// - tol: stop early once stderr/|mean| < tol (PyHessian's relative rule), after `minSamples`.
/// - progress: called with (samples done, samples cap) after each probe.
public func hutchinsonTrace<Op: HVPOperator>(_ op: Op, samples: Int, tol: Double? = nil, minSamples: Int = 5,
                                              rng: inout SplitMix64,
                                              progress: ((Int, Int) -> Void)? = nil) throws -> TraceEstimate {
    let blocks = op.blocks
    var values: [Double] = []
    var blockSums = [Double](repeating: 0, count: blocks.count)
    var blockSquares = [Double](repeating: 0, count: blocks.count)
    var estimate = TraceEstimate(mean: 0, stderr: 0, sampleValues: [], perBlock: [:])
    for s in 0..<max(1, samples) {
        let v = rademacher(dimension: op.dimension, blocks: blocks, rng: &rng)
        let hv = try op.hvp(v)
        var total = 0.0
        for (k, b) in blocks.enumerated() {
            let part = dotD(v, hv, b.range)
            blockSums[k] += part
            blockSquares[k] += part * part
            total += part
        }
        values.append(total)
        estimate = summarize(values)
        progress?(s + 1, samples)
        if let tol, values.count >= max(2, minSamples), estimate.mean != 0,
           estimate.stderr / abs(estimate.mean) < tol { break }
    }
    let n = Double(values.count)
    var perBlock: [String: Double] = [:], perBlockStderr: [String: Double] = [:]
    for (k, b) in blocks.enumerated() {
        let mean = blockSums[k] / n
        perBlock[b.name, default: 0] += mean
        // one-pass variance is fine here: the parts are O(trace), their spread comparable
        let variance = n > 1 ? max(0, (blockSquares[k] - n * mean * mean) / (n - 1)) : 0
        perBlockStderr[b.name] = (variance / n).squareRoot()
    }
    estimate.perBlock = perBlock
    estimate.perBlockStderr = perBlockStderr
    return estimate
}

func summarize(_ values: [Double]) -> TraceEstimate {
    let n = Double(values.count)
    let mean = values.reduce(0, +) / n
    var stderr = 0.0
    if values.count > 1 {
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        stderr = (variance / n).squareRoot()
    }
    return TraceEstimate(mean: mean, stderr: stderr, sampleValues: values, perBlock: [:])
}
