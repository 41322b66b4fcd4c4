import Engine
import Plumbing
import Foundation

// The library entry point for `gpt2lab hessian`: batch → gradient → Hutchinson trace (with
// per-tensor, per-layer and per-block parts from the same probes) → top eigenvalues (Lanczos) →
// optionally the spectral density (SLQ). No printing; progress goes to a callback.

public enum HessianError: LocalizedError, Equatable {
    case notEnoughTokens(needed: Int, available: Int)
    case tokenOutOfRange(position: Int, token: Int32, vocabSize: Int)
    case contextTooLong(context: Int, maximum: Int)
    case invalidArgument(name: String, value: String, expected: String)
    /// The Lanczos basis (every step's vector, as full reorthogonalisation needs) would not fit in memory: the
    /// host's `available`, nor (when a GPU computes the products) the GPU's `device` bytes.
    case lanczosMemory(steps: Int, dimension: Int, needed: Int, available: Int, device: Int? = nil)
    case batchMemory(batch: Int, context: Int, needed: Int, available: Int)

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
        case let .lanczosMemory(steps, dimension, needed, available, device):
            let fit = max(0, max(available, device ?? 0) / (dimension * 4) - lanczosWorkVectors)
            let room = "\(formatBytes(available)) is available here" + (device.map { " (and \(formatBytes($0)) on the GPU)" } ?? "")
            return "the Lanczos runs keep every step's vector: \(steps) steps (+\(lanczosWorkVectors) working vectors) × "
                + "\(groupedThousands(dimension)) floats need \(formatBytes(needed)), and \(room); "
                + (fit > 0 ? "at most \(fit) steps fit (fewer eigenvalue or density steps)" : "no Lanczos run fits (no eigenvalues or density)")
        case let .batchMemory(batch, context, needed, available):
            return "the Hessian's batch of \(batch) × \(context) tokens needs \(formatBytes(needed)) on the CPU (every layer's "
                + "activations and attention probabilities, kept for the backward), and \(formatBytes(available)) is available "
                + "here; use a smaller --batch or --context"
        }
    }
}

/// What `hessianAnalysis` returns; JSON keys as the fixtures and the report use them.
public struct HessianResult: Codable, Sendable, Equatable {
    /// Hutchinson estimate of tr(H), H the Hessian of the mean cross-entropy of the batch.
    public var trace: Double
    /// Its standard error; NaN (null in JSON) with one probe.
    @NullIfNaN public var stderr: Double
    /// Probes used.
    public var samples: Int
    /// Mean cross-entropy of the batch at θ (nats).
    public var batchLoss: Double
    /// Per stored tensor (canonical name): its diagonal block's trace estimate; sums to `trace`.
    public var perTensor: [String: Double]
    /// Standard error of each `perTensor` entry.
    @NullIfNaNValues public var perTensorStderr: [String: Double]
    /// Per group: "embeddings" (wte, wpe), "h.N" (block N), "ln_f", "lm_head"; sums to `trace`.
    public var perLayer: [String: Double]
    /// Per block (`hessianBlock`: each layer's attn.qkv, attn.proj, mlp.fc, mlp.proj, ln_1, ln_2; wte, wpe,
    /// ln_f, lm_head): trace and standard error from the same probes; the traces sum to `trace`.
    public var byBlock: [String: PartTrace] = [:]
    /// Per role summed over the layers (`hessianRole`), from the same probes; absent in older results.
    public var byRole: [String: PartTrace]? = nil
    /// L2 norm of the gradient of each stored tensor (canonical name).
    public var gradNorms: [String: Double]
    /// Top eigenvalues by Lanczos, largest magnitude first.
    public var topEigenvalues: [Double]
    /// ‖Hy − λy‖ of each unit Ritz vector y, from one extra HVP each.
    public var eigenResiduals: [Double] = []
    /// The same from the Lanczos recurrence (β·|last component of T's eigenvector|).
    public var eigenResidualEstimates: [Double] = []
    /// Lanczos steps (HVPs) the eigenvalues took, and whether the residual rule stopped them.
    public var eigenSteps: Int = 0
    public var eigenConverged: Bool = true
    /// Wall time of the whole analysis.
    public var seconds: Double
    /// Relative finite-difference step δ = ‖εv‖/‖θ‖ of the trace's Hessian-vector products.
    public var epsilon: Double
    /// The same for Lanczos (eigenvalues and density; smaller, see `defaultEigenRelativeStep`).
    public var eigenEpsilon: Double
    /// The spectral density (SLQ), when asked for.
    public var density: HessianDensity? = nil
    /// Wall time of one forward+backward pass (the gradient at θ).
    public var secondsFwdBwd: Double
    /// Mean wall time of one Hessian-vector product during the trace (two forward+backward passes).
    public var secondsPerHVP: Double
    public var batch: Int
    public var context: Int
    /// Vocabulary rows the cross-entropy's softmax ran over.
    public var softmaxRows: Int? = nil
    /// "cuda:N" when the gradients ran on a GPU (FP32 products), nil on the CPU; the GPU with its peak memory.
    public var device: String? = nil
    public var gpu: GPUInfo? = nil

    enum CodingKeys: String, CodingKey {
        case trace, stderr, samples, batchLoss = "batch_loss", perTensor = "per_tensor", perLayer = "per_layer"
        case perTensorStderr = "per_tensor_stderr"
        case gradNorms = "grad_norms", topEigenvalues = "top_eigenvalues", seconds, epsilon, batch, context
        case byBlock = "by_block", byRole = "by_role", eigenResiduals = "eigen_residuals", eigenResidualEstimates = "eigen_residual_estimates"
        case eigenEpsilon = "eigen_epsilon", eigenSteps = "eigen_steps", eigenConverged = "eigen_converged", density
        case secondsFwdBwd = "seconds_fwd_bwd", secondsPerHVP = "seconds_per_hvp", softmaxRows = "softmax_rows"
        case device, gpu
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

/// The block a tensor's trace is reported under with `--by-block`: layer and role.
public func hessianBlock(_ id: TensorID) -> String {
    let h = "h.\(id.layer ?? 0)."
    switch id.kind {
    case .wte: return "wte"
    case .wpe: return "wpe"
    case .ln1w, .ln1b: return h + "ln_1"
    case .qkvw, .qkvb: return h + "attn.qkv"
    case .attprojw, .attprojb: return h + "attn.proj"
    case .ln2w, .ln2b: return h + "ln_2"
    case .fcw, .fcb: return h + "mlp.fc"
    case .fcprojw, .fcprojb: return h + "mlp.proj"
    case .lnfw, .lnfb: return "ln_f"
    case .lmHead: return "lm_head"
    }
}

/// The roles `byRole` sums over the layers, in network order.
public let hessianRoles = ["embeddings", "attn.qkv", "attn.proj", "mlp.fc", "mlp.proj", "layernorm", "lm_head"]

/// The role a tensor's trace is summed under in `byRole`: a `hessianBlock` without its layer, the two
/// embeddings together and every LayerNorm (ln_1, ln_2, ln_f) together.
public func hessianRole(_ id: TensorID) -> String {
    switch id.kind {
    case .wte, .wpe: return "embeddings"
    case .ln1w, .ln1b, .ln2w, .ln2b, .lnfw, .lnfb: return "layernorm"
    case .qkvw, .qkvb: return "attn.qkv"
    case .attprojw, .attprojb: return "attn.proj"
    case .fcw, .fcb: return "mlp.fc"
    case .fcprojw, .fcprojb: return "mlp.proj"
    case .lmHead: return "lm_head"
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

/// A stage of `hessianAnalysis`, as its progress callback names it (the CLI's progress label is its description).
public enum HessianStage: Sendable, Equatable, CustomStringConvertible {
    case gradient, trace, eigenvalues
    /// The spectral density's n-th Lanczos run (from 1).
    case density(Int)
    public var description: String {
        switch self {
        case .gradient: return "gradient"
        case .trace: return "trace"
        case .eigenvalues: return "eigenvalues"
        case let .density(n): return "density \(n)"
        }
    }
}

/// Hessian analysis of `weights` on the first `batch` windows of `context` tokens of `tokens`.
/// - samples: Hutchinson probes (the cap when `tol` is set); tol: stop when stderr/|trace| < tol.
/// - seed: seeds the probes (and, through derived seeds, the Lanczos start vectors).
/// - topK: eigenvalues wanted (0 skips them); maxIterations: Lanczos steps at most; eigenTol: the
///   residual rule (‖r‖ ≤ tol·|λ|, see `topEigenvalues`).
/// - density: SLQ settings, nil to skip it.
/// - relativeStep: δ of the trace's finite-difference HVPs; eigenRelativeStep: of Lanczos's
///   (see GPT2LossHessian).
/// - device: where the gradients run (`openGradientDevice`).
/// - progress: (stage, done, total).
public func hessianAnalysis(weights: GPT2Weights, backend: CPUBackend = CPUBackend(), device: ComputeDevice = .cpu, tokens: [Int32],
                            batch: Int = 4, context: Int? = nil, samples: Int = 100, tol: Double? = nil,
                            seed: UInt64 = 0, topK: Int = 1, maxIterations: Int = 100, eigenTol: Double = 1e-3,
                            density: DensityOptions? = nil,
                            relativeStep: Double = defaultRelativeStep,
                            eigenRelativeStep: Double = defaultEigenRelativeStep,
                            progress: ((HessianStage, Int, Int) -> Void)? = nil) throws -> HessianResult {
    let start = Date()
    let cfg = weights.config
    let T = context ?? cfg.contextLength
    try validateHessianArguments(context: T, maximum: cfg.contextLength, samples: samples, tol: tol, topK: topK,
                                 maxIterations: maxIterations, eigenTol: eigenTol, density: density,
                                 steps: [relativeStep, eigenRelativeStep])
    let (inputs, targets) = try hessianBatch(tokens: tokens, batch: batch, context: T, vocabSize: cfg.softmaxVocab)
    let gpu = try openGradientDevice(device, weights: weights)
    if gpu == nil {
        try checkGradientMemory(config: cfg, dimension: weights.layout.count, batch: batch, context: T)
        try checkLanczosMemory(dimension: weights.layout.count, topK: topK, maxIterations: maxIterations, density: density)
    }
    let op = GPT2LossHessian(weights: weights, backend: backend, inputs: inputs, targets: targets, b: batch, t: T,
                             relativeStep: relativeStep, gpu: gpu)

    let gradStart = Date()
    let (loss, grad) = try op.lossGradient()
    let secondsFwdBwd = Date().timeIntervalSince(gradStart)
    if let gpu {  // after the first gradient, whose buffers stay: what is free now is what a basis could take
        try checkLanczosMemory(dimension: weights.layout.count, topK: topK, maxIterations: maxIterations, density: density,
                               deviceFree: try lanczosDeviceRoom(gpu))
    }
    progress?(.gradient, 1, 1)
    var gradNorms: [String: Double] = [:]
    for blk in op.blocks {
        var ss = 0.0
        for i in blk.range { ss += Double(grad[i]) * Double(grad[i]) }
        gradNorms[blk.name] = ss.squareRoot()
    }

    var rng = SplitMix64(seed: seed)
    let traceStart = Date()
    let trace = try hutchinsonTrace(op, samples: samples, tol: tol, rng: &rng) { progress?(.trace, $0, $1) }
    let secondsPerHVP = Date().timeIntervalSince(traceStart) / Double(trace.samples)
    let tensors = weights.parameterTensors
    let perLayer = trace.grouped(tensors.map(hessianGroup)).mapValues(\.trace)

    op.relativeStep = eigenRelativeStep
    var erng = SplitMix64(seed: seed ^ 0x5EED_E16E_0000_0001)
    let eigen = try topEigenvalues(op, count: topK, maxSteps: maxIterations, tol: eigenTol, rng: &erng) { step, total, _ in
        progress?(.eigenvalues, step, total)
    }
    var result = HessianResult(trace: trace.mean, stderr: trace.stderr, samples: trace.samples, batchLoss: loss,
                               perTensor: trace.perBlock, perTensorStderr: trace.perBlockStderr, perLayer: perLayer,
                               byBlock: trace.grouped(tensors.map(hessianBlock)),
                               byRole: trace.grouped(tensors.map(hessianRole)), gradNorms: gradNorms,
                               topEigenvalues: eigen.values, eigenResiduals: eigen.residuals,
                               eigenResidualEstimates: eigen.residualEstimates, eigenSteps: eigen.steps,
                               eigenConverged: eigen.converged, seconds: 0, epsilon: relativeStep,
                               eigenEpsilon: eigenRelativeStep, secondsFwdBwd: secondsFwdBwd,
                               secondsPerHVP: secondsPerHVP, batch: batch, context: T, softmaxRows: cfg.softmaxVocab)
    if let density {
        var drng = SplitMix64(seed: seed ^ 0x5EED_D0E5_0000_0002)
        result.density = try spectralDensity(op, options: density, rng: &drng) { k, step, total in
            progress?(.density(k + 1), step, total)
        }
    }
    if let gpu {
        result.device = ComputeDevice.cuda(gpu.info.ordinal).description
        result.gpu = gpu.info
        result.gpu?.peakBytes = gpu.peakBytes
    }
    result.seconds = Date().timeIntervalSince(start)
    return result
}

/// The GPU gradient `device` asks for: none for `.cpu`; GPU N for `.cuda(N)` (throws one line naming what
/// is missing when it cannot run); for `.auto` as openOnDevice says.
public func openGradientDevice(_ device: ComputeDevice, weights: GPT2Weights) throws -> CUDAGradient? {
    try openOnDevice(device) { try CUDAGradient(weights: weights, ordinal: $0) }
}

/// Vectors a Lanczos run holds beside its basis: w, the Ritz vector and Hy.
let lanczosWorkVectors = 3

/// Checks, before any work, that the Lanczos runs' bases fit in memory: the top eigenvalues' (up to
/// `maxIterations` steps when `topK` > 0) and the density's (`density.steps` per vector, one vector at a time),
/// each step a vector of `dimension` floats, in the host's `available` bytes or the GPU's `deviceFree` (when the GPU
/// computes the products: the basis stays there when it fits, Krylov.swift). `available` nil (unknown) passes.
public func checkLanczosMemory(dimension: Int, topK: Int, maxIterations: Int, density: DensityOptions?,
                               available: Int? = availableMemoryBytes(), deviceFree: Int? = nil) throws {
    let steps = max(topK > 0 ? maxIterations : 0, density?.steps ?? 0)
    guard steps > 0 else { return }
    try requireLanczosRoom(steps: steps, dimension: dimension, available: available, deviceFree: deviceFree)
}

/// Vectors of the parameter count the CPU's Hessian-vector products hold beside the activations: θ ± εv, both
/// gradients, the probe and its product (GPT2LossHessian).
let hvpWorkVectors = 6

/// Checks, before any work, that the CPU's gradient of a `batch` × `context` batch fits in memory: activations kept
/// for the backward (the attention probabilities grow as context²), the backward's scratch and the products' vectors.
/// A batch of 8,000 windows asked for 72 GB in one allocation and crashed. `available` nil (unknown) passes.
public func checkGradientMemory(config: GPT2Config, dimension: Int, batch: Int, context: Int,
                                available: Int? = availableMemoryBytes()) throws {
    guard let available else { return }
    let needed = Activations.bytes(config: config, b: batch, t: context, keepAll: true)
        + GradientScratch.bytes(config: config, b: batch, t: context) + hvpWorkVectors * dimension * MemoryLayout<Float>.size
    if needed > available {
        throw HessianError.batchMemory(batch: batch, context: context, needed: needed, available: available)
    }
}

/// Throws `HessianError.lanczosMemory` unless `steps` steps of `dimension` floats (and the working vectors) fit in
/// the host's `available` bytes (nil: unknown, taken as fitting) or the GPU's `deviceFree`.
func requireLanczosRoom(steps: Int, dimension: Int, available: Int?, deviceFree: Int?) throws {
    guard let available else { return }
    let needed = lanczosBytes(steps: steps, dimension: dimension)
    if needed > available && needed > (deviceFree ?? 0) {
        throw HessianError.lanczosMemory(steps: steps, dimension: dimension, needed: needed, available: available,
                                         device: deviceFree.map { max(0, $0) })
    }
}

func validateHessianArguments(context: Int, maximum: Int, samples: Int, tol: Double?, topK: Int, maxIterations: Int,
                              eigenTol: Double, density: DensityOptions?, steps: [Double]) throws {
    func bad(_ name: String, _ value: Any, _ expected: String) -> HessianError {
        .invalidArgument(name: name, value: "\(value)", expected: expected)
    }
    guard context <= maximum else { throw HessianError.contextTooLong(context: context, maximum: maximum) }
    guard samples >= 1 else { throw bad("samples", samples, "at least 1") }
    guard topK >= 0 else { throw bad("topK", topK, "0 or more") }
    guard maxIterations >= 1 else { throw bad("maxIterations", maxIterations, "at least 1") }
    guard eigenTol > 0 else { throw bad("eigenTol", eigenTol, "a positive number") }
    if let tol, !(tol > 0) { throw bad("tol", tol, "a positive number") }
    for s in steps where !(s > 0) { throw bad("relativeStep", s, "a positive number") }
    if let density {
        guard density.vectors >= 1 else { throw bad("density vectors", density.vectors, "at least 1") }
        guard density.steps >= 1 else { throw bad("density steps", density.steps, "at least 1") }
        guard density.bins >= 2 else { throw bad("density bins", density.bins, "at least 2") }
        guard density.sigmaSquared > 0 else { throw bad("density sigma²", density.sigmaSquared, "a positive number") }
    }
}
