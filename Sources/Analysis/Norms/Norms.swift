// Weight-norm statistics of a checkpoint: per tensor, per role and layer, and totals.
//
// Canonical tensors come from `GPT2Weights` (only `stored` ones: a tied LM head is the token
// embedding and is counted once). The fused QKV tensors are also split into their Q, K and V
// rows. The checkpoint's own tensors, by their own names, come from the Checkpoints module as
// `(name, shape, values)`; their stats are computed the same way.

import Engine

/// One named tensor as a checkpoint stores it (its own name, its own shape).
public typealias NamedTensor = (name: String, shape: [Int], values: [Float])

/// Moments of `values`, all in Double; spectral norm too when `matrix` is (rows, cols).
public func tensorNormStats(_ values: UnsafeBufferPointer<Float>, matrix: (rows: Int, cols: Int)? = nil,
                            options: NormOptions = NormOptions()) -> TensorNormStats {
    let n = values.count
    var sum = 0.0, sumSq = 0.0, maxAbs = 0.0
    for x in values {
        let d = Double(x)
        sum += d
        sumSq += d * d
        maxAbs = max(maxAbs, abs(d))
    }
    let mean = n > 0 ? sum / Double(n) : 0
    var centred = 0.0                       // second pass: Σ (w − mean)², no cancellation
    for x in values { let d = Double(x) - mean; centred += d * d }
    var stats = TensorNormStats(l2: sumSq.squareRoot(), sumSq: sumSq,
                                rms: n > 0 ? (sumSq / Double(n)).squareRoot() : 0, mean: mean,
                                std: n > 0 ? (centred / Double(n)).squareRoot() : 0, maxAbs: maxAbs, count: n)
    if let m = matrix, options.spectral, m.rows * m.cols == n, n > 0 {
        let est = spectralNorm(values, rows: m.rows, cols: m.cols, tolerance: options.tolerance,
                               maxIterations: options.maxIterations)
        stats.spectralNorm = est.sigma
        stats.stableRank = est.sigma.flatMap { $0 > 0 ? sumSq / ($0 * $0) : nil }
    }
    return stats
}

/// Moments of `values`; spectral norm too when `shape` has two or more dimensions, viewing the
/// tensor as (product of the leading dims, last dim).
public func tensorNormStats(_ values: [Float], shape: [Int], options: NormOptions = NormOptions()) -> TensorNormStats {
    let m = shape.count >= 2 ? (rows: shape.dropLast().reduce(1, *), cols: shape.last ?? 1) : nil
    return values.withUnsafeBufferPointer { tensorNormStats($0, matrix: m, options: options) }
}

/// Stats of a checkpoint's own tensors, by their own names. A name seen twice is counted once.
public func sourceTensorNormStats(_ tensors: [NamedTensor], options: NormOptions = NormOptions())
    -> [String: TensorNormStats] {
    var out: [String: TensorNormStats] = [:]
    var opts = options
    opts.spectral = options.spectral && options.spectralForSourceTensors
    for t in tensors where out[t.name] == nil {
        out[t.name] = tensorNormStats(t.values, shape: t.shape, options: opts)
    }
    return out
}

/// All norm statistics of one checkpoint.
/// - Parameters:
///   - checkpoint: label stored in the result (a path or run name).
///   - weights: the canonical weights; only `stored` tensors count.
///   - sourceTensors: the checkpoint's own tensors by their own names (optional).
public func checkpointNormStats(checkpoint: String, weights: GPT2Weights, sourceTensors: [NamedTensor] = [],
                                options: NormOptions = NormOptions()) -> CheckpointNormStats {
    let layout = weights.layout
    let C = weights.config.nEmbd
    var tensors: [String: TensorNormStats] = [:]
    var total = 0.0, decay = 0.0, noDecay = 0.0
    var roleSumSq: [String: [String: Double]] = [:]
    var layerSumSq: [String: Double] = [:]

    weights.data.withUnsafeBufferPointer { data in
        for id in weights.parameterTensors {
            let shape = layout.shapes[id]!
            let r = layout.range(id)
            let slice = UnsafeBufferPointer(rebasing: data[r])
            let matrix = shape.count == 2 ? (rows: shape[0], cols: shape[1]) : nil
            let s = tensorNormStats(slice, matrix: matrix, options: options)
            tensors[id.canonicalName] = s
            total += s.sumSq
            if shape.count >= 2 { decay += s.sumSq } else { noDecay += s.sumSq }
            let role = ParameterRole(id.kind).rawValue, key = layerKey(id)
            roleSumSq[role, default: [:]][key, default: 0] += s.sumSq
            layerSumSq[key, default: 0] += s.sumSq

            // Q, K, V: consecutive blocks of C rows (qkvw is (3C, C), qkvb is (3C)).
            if id.kind == .qkvw || id.kind == .qkvb {
                let part = id.kind == .qkvw ? C * C : C
                for (i, tag) in ["q", "k", "v"].enumerated() {
                    let sub = UnsafeBufferPointer(rebasing: data[(r.lowerBound + i * part)..<(r.lowerBound + (i + 1) * part)])
                    tensors["\(id.canonicalName)[\(tag)]"] =
                        tensorNormStats(sub, matrix: id.kind == .qkvw ? (rows: C, cols: C) : nil, options: options)
                }
            }
        }
    }
    return CheckpointNormStats(
        checkpoint: checkpoint, tensors: tensors,
        sourceTensors: sourceTensorNormStats(sourceTensors, options: options),
        totalSumSq: total, decaySumSq: decay, noDecaySumSq: noDecay,
        byRole: roleSumSq.mapValues { $0.mapValues { $0.squareRoot() } },
        byLayer: layerSumSq.mapValues { $0.squareRoot() })
}
