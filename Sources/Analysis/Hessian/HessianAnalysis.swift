import Engine
import Foundation

// The library entry point for `gpt2lab hessian`: batch → gradient → Hutchinson trace (with
// per-tensor and per-layer parts) → top eigenvalues. No printing; progress goes to a callback.

public enum HessianError: LocalizedError, Equatable {
    case notEnoughTokens(needed: Int, available: Int)
    case tokenOutOfRange(position: Int, token: Int32, vocabSize: Int)
    case contextTooLong(context: Int, maximum: Int)
    case invalidArgument(name: String, value: String, expected: String)

    public var errorDescription: String? {
        switch self {
        case let .notEnoughTokens(needed, available):
            return "the Hessian batch needs \(needed) tokens (B·T + 1) but the test set has \(available)"
        case let .tokenOutOfRange(position, token, vocabSize):
            return "token \(token) at position \(position) is outside the model's vocabulary (size \(vocabSize))"
        case let .contextTooLong(context, maximum):
            return "context \(context) is longer than the model's context length \(maximum)"
        case let .invalidArgument(name, value, expected):
            return "\(name) = \(value) is invalid: expected \(expected)"
        }
    }
}

/// What `hessianAnalysis` returns; JSON keys as the fixtures and the report use them.
public struct HessianResult: Codable, Sendable, Equatable {
    /// Hutchinson estimate of tr(H), H the Hessian of the mean cross-entropy of the batch.
    public var trace: Double
    /// Its standard error.
    public var stderr: Double
    /// Probes used.
    public var samples: Int
    /// Mean cross-entropy of the batch at θ (nats).
    public var batchLoss: Double
    /// Per stored tensor (canonical name): its diagonal block's trace estimate; sums to `trace`.
    public var perTensor: [String: Double]
    /// Standard error of each `perTensor` entry.
    public var perTensorStderr: [String: Double]
    /// Per group: "embeddings" (wte, wpe), "h.N" (block N), "ln_f", "lm_head"; sums to `trace`.
    public var perLayer: [String: Double]
    /// L2 norm of the gradient of each stored tensor (canonical name).
    public var gradNorms: [String: Double]
    /// Top eigenvalues by power iteration with deflation, largest first.
    public var topEigenvalues: [Double]
    /// Wall time of the whole analysis.
    public var seconds: Double
    /// Relative finite-difference step δ = ‖εv‖/‖θ‖ of the trace's Hessian-vector products.
    public var epsilon: Double
    /// The same for power iteration (smaller; see `defaultEigenRelativeStep`).
    public var eigenEpsilon: Double
    /// Power-iteration steps used for each eigenvalue.
    public var eigenIterations: [Int]
    /// Wall time of one forward+backward pass (the gradient at θ).
    public var secondsFwdBwd: Double
    /// Mean wall time of one Hessian-vector product during the trace (two forward+backward passes).
    public var secondsPerHVP: Double
    public var batch: Int
    public var context: Int
    /// Vocabulary rows the cross-entropy's softmax ran over.
    public var softmaxRows: Int? = nil

    enum CodingKeys: String, CodingKey {
        case trace, stderr, samples, batchLoss = "batch_loss", perTensor = "per_tensor", perLayer = "per_layer"
        case perTensorStderr = "per_tensor_stderr"
        case gradNorms = "grad_norms", topEigenvalues = "top_eigenvalues", seconds, epsilon, batch, context
        case eigenEpsilon = "eigen_epsilon", eigenIterations = "eigen_iterations"
        case secondsFwdBwd = "seconds_fwd_bwd", secondsPerHVP = "seconds_per_hvp", softmaxRows = "softmax_rows"
    }
}

/// The per-layer group a tensor belongs to.
public func hessianGroup(_ id: TensorID) -> String {
    if let l = id.layer { return "h.\(l)" }
    switch id.kind {
    case .wte, .wpe: return "embeddings"
    case .lmHead: return "lm_head"
    default: return "ln_f"
    }
}

/// The Hessian batch: the first `batch` disjoint windows of `context` tokens; window b's inputs
/// are tokens[bT ..< (b+1)T], its targets the same shifted by one. Returns (B, T) flattened.
public func hessianBatch(tokens: [Int32], batch: Int, context: Int, vocabSize: Int) throws
    -> (inputs: [Int32], targets: [Int32]) {
    guard batch >= 1 else { throw HessianError.invalidArgument(name: "batch", value: "\(batch)", expected: "at least 1") }
    guard context >= 1 else { throw HessianError.invalidArgument(name: "context", value: "\(context)", expected: "at least 1") }
    let needed = batch * context + 1
    guard tokens.count >= needed else { throw HessianError.notEnoughTokens(needed: needed, available: tokens.count) }
    for i in 0..<needed where tokens[i] < 0 || Int(tokens[i]) >= vocabSize {
        throw HessianError.tokenOutOfRange(position: i, token: tokens[i], vocabSize: vocabSize)
    }
    return (Array(tokens[0..<(needed - 1)]), Array(tokens[1..<needed]))
}

/// Hessian analysis of `weights` on the first `batch` windows of `context` tokens of `tokens`.
/// - samples: Hutchinson probes (the cap when `tol` is set); tol: stop when stderr/|trace| < tol.
/// - seed: seeds the probes (and, through a derived seed, the power-iteration start vectors).
/// - topK: eigenvalues wanted (0 skips power iteration); maxIterations, eigenTol as PyHessian's.
/// - relativeStep: δ of the trace's finite-difference HVPs; eigenRelativeStep: of power iteration's
///   (see GPT2LossHessian).
/// - progress: (phase, done, total) with phase "gradient", "trace" or "eigenvalue N".
public func hessianAnalysis(weights: GPT2Weights, backend: CPUBackend = CPUBackend(), tokens: [Int32],
                            batch: Int = 4, context: Int? = nil, samples: Int = 100, tol: Double? = nil,
                            seed: UInt64 = 0, topK: Int = 1, maxIterations: Int = 100, eigenTol: Double = 1e-3,
                            relativeStep: Double = defaultRelativeStep,
                            eigenRelativeStep: Double = defaultEigenRelativeStep,
                            progress: ((String, Int, Int) -> Void)? = nil) throws -> HessianResult {
    let start = Date()
    let cfg = weights.config
    let T = context ?? cfg.contextLength
    guard T <= cfg.contextLength else { throw HessianError.contextTooLong(context: T, maximum: cfg.contextLength) }
    guard samples >= 1 else { throw HessianError.invalidArgument(name: "samples", value: "\(samples)", expected: "at least 1") }
    guard topK >= 0 else { throw HessianError.invalidArgument(name: "topK", value: "\(topK)", expected: "0 or more") }
    if let tol, !(tol > 0) { throw HessianError.invalidArgument(name: "tol", value: "\(tol)", expected: "a positive number") }
    guard relativeStep > 0, eigenRelativeStep > 0 else {
        throw HessianError.invalidArgument(name: "relativeStep", value: "\(relativeStep)", expected: "a positive number")
    }
    let (inputs, targets) = try hessianBatch(tokens: tokens, batch: batch, context: T, vocabSize: cfg.softmaxVocab)
    let op = GPT2LossHessian(weights: weights, backend: backend, inputs: inputs, targets: targets, b: batch, t: T,
                             relativeStep: relativeStep)

    let gradStart = Date()
    let (loss, grad) = op.gradient()
    let secondsFwdBwd = Date().timeIntervalSince(gradStart)
    progress?("gradient", 1, 1)
    var gradNorms: [String: Double] = [:]
    for blk in op.blocks {
        var ss = 0.0
        for i in blk.range { ss += Double(grad[i]) * Double(grad[i]) }
        gradNorms[blk.name] = ss.squareRoot()
    }

    var rng = SplitMix64(seed: seed)
    let traceStart = Date()
    let trace = try hutchinsonTrace(op, samples: samples, tol: tol, rng: &rng) { progress?("trace", $0, $1) }
    let secondsPerHVP = Date().timeIntervalSince(traceStart) / Double(trace.samples)
    var perLayer: [String: Double] = [:]
    for id in weights.parameterTensors { perLayer[hessianGroup(id), default: 0] += trace.perBlock[id.canonicalName] ?? 0 }

    var eigen = EigenEstimate(values: [], vectors: [], iterations: [])
    if topK > 0 {
        op.relativeStep = eigenRelativeStep
        var erng = SplitMix64(seed: seed ^ 0x5EED_E16E_0000_0001)
        eigen = try topEigenvalues(op, count: topK, maxIterations: maxIterations, tol: eigenTol, rng: &erng) {
            progress?("eigenvalue \($0 + 1)", $1, maxIterations)
        }
    }
    return HessianResult(trace: trace.mean, stderr: trace.stderr, samples: trace.samples, batchLoss: loss,
                         perTensor: trace.perBlock, perTensorStderr: trace.perBlockStderr, perLayer: perLayer, gradNorms: gradNorms, topEigenvalues: eigen.values,
                         seconds: Date().timeIntervalSince(start), epsilon: relativeStep, eigenEpsilon: eigenRelativeStep,
                         eigenIterations: eigen.iterations, secondsFwdBwd: secondsFwdBwd, secondsPerHVP: secondsPerHVP,
                         batch: batch, context: T, softmaxRows: cfg.softmaxVocab)
}
