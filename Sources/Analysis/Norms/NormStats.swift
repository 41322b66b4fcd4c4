// Weight-norm statistics: the result types.
//
// Everything is accumulated in Double. The JSON keys are the report's (snake_case); the Swift
// names are Swift's. `Norms.swift` computes these, `NormsSpectral.swift` the spectral norms.

import Engine

/// Moments and norms of one tensor, over all of its elements.
public struct TensorNormStats: Codable, Sendable, Equatable {
    /// ‖w‖₂ = √(Σ w²).
    public var l2: Double
    /// Σ w² (the tensor's share of ‖θ‖²).
    public var sumSq: Double
    /// √(Σ w² / n).
    public var rms: Double
    public var mean: Double
    /// Population standard deviation √(Σ (w − mean)² / n), two-pass.
    public var std: Double
    /// max |w|.
    public var maxAbs: Double
    /// n, the number of elements.
    public var count: Int
    /// Largest singular value σ_max, for tensors with two or more dimensions (viewed as
    /// [product of the leading dims, last dim]); nil for vectors or when not computed.
    public var spectralNorm: Double?
    /// ‖W‖²_F / σ²_max, in [1, min(rows, cols)]; nil when there is no spectral norm or it is 0.
    public var stableRank: Double?

    enum CodingKeys: String, CodingKey {
        case l2, sumSq = "sum_sq", rms, mean, std, maxAbs = "max_abs", count
        case spectralNorm = "spectral_norm", stableRank = "stable_rank"
    }

    public init(l2: Double, sumSq: Double, rms: Double, mean: Double, std: Double, maxAbs: Double, count: Int,
                spectralNorm: Double? = nil, stableRank: Double? = nil) {
        self.l2 = l2; self.sumSq = sumSq; self.rms = rms; self.mean = mean; self.std = std
        self.maxAbs = maxAbs; self.count = count; self.spectralNorm = spectralNorm; self.stableRank = stableRank
    }
}

/// What a tensor does in the network; the grouping used for per-layer norm charts.
public enum ParameterRole: String, Codable, CaseIterable, Sendable {
    case tokenEmbedding = "token_embedding"
    case positionEmbedding = "position_embedding"
    case attentionQKV = "attn_qkv"
    case attentionOutput = "attn_out"
    case mlpIn = "mlp_in"
    case mlpOut = "mlp_out"
    case layerNormGain = "ln_gain"
    case layerNormBias = "ln_bias"
    /// Biases of the linear layers (QKV, attention output, MLP in and out).
    case otherBias = "other_bias"
    /// A separate (untied) LM head.
    case lmHead = "lm_head"

    public init(_ kind: TensorKind) {
        switch kind {
        case .wte: self = .tokenEmbedding
        case .wpe: self = .positionEmbedding
        case .qkvw: self = .attentionQKV
        case .attprojw: self = .attentionOutput
        case .fcw: self = .mlpIn
        case .fcprojw: self = .mlpOut
        case .ln1w, .ln2w, .lnfw: self = .layerNormGain
        case .ln1b, .ln2b, .lnfb: self = .layerNormBias
        case .qkvb, .attprojb, .fcb, .fcprojb: self = .otherBias
        case .lmHead: self = .lmHead
        }
    }

    /// Human-readable name for chart titles.
    public var title: String {
        switch self {
        case .tokenEmbedding: return "token embedding"
        case .positionEmbedding: return "position embedding"
        case .attentionQKV: return "attention QKV"
        case .attentionOutput: return "attention output"
        case .mlpIn: return "MLP in"
        case .mlpOut: return "MLP out"
        case .layerNormGain: return "LayerNorm gain"
        case .layerNormBias: return "LayerNorm bias"
        case .otherBias: return "linear biases"
        case .lmHead: return "LM head"
        }
    }
}

/// Group key for a tensor in `byRole` / `byLayer`: the block index ("0", "1", …) for
/// per-block tensors, "embedding" for wte/wpe, "final" for ln_f and the LM head.
public func layerKey(_ id: TensorID) -> String {
    if let l = id.layer { return String(l) }
    switch id.kind {
    case .wte, .wpe: return "embedding"
    default: return "final"
    }
}

/// Norm statistics of one checkpoint.
public struct CheckpointNormStats: Codable, Sendable, Equatable {
    /// The checkpoint's label (usually its path or run name).
    public var checkpoint: String
    /// Stored tensors by canonical name, plus the Q, K and V parts of the fused attention
    /// tensors as `h.N.attn.c_attn.weight[q]` (and `[k]`, `[v]`, and the same for the bias).
    public var tensors: [String: TensorNormStats]
    /// The checkpoint's own tensors by their own names (empty when not given).
    public var sourceTensors: [String: TensorNormStats]
    /// ‖θ‖² over all stored tensors, a tied embedding once; the Q/K/V parts are not added again.
    public var totalSumSq: Double
    /// ‖θ‖² of the decay group: tensors with two or more dimensions (nanoGPT's rule, embeddings included).
    public var decaySumSq: Double
    /// ‖θ‖² of the no-decay group: 1-D tensors (biases, LayerNorm parameters).
    public var noDecaySumSq: Double
    /// L2 norm per role and layer key (see `layerKey`): the norm of all that role's tensors in that layer.
    public var byRole: [String: [String: Double]]
    /// L2 norm per layer key over all roles.
    public var byLayer: [String: Double]

    enum CodingKeys: String, CodingKey {
        case checkpoint, tensors, sourceTensors = "source_tensors"
        case totalSumSq = "total_sum_sq", decaySumSq = "decay_sum_sq", noDecaySumSq = "no_decay_sum_sq"
        case byRole = "by_role", byLayer = "by_layer"
    }

    public init(checkpoint: String, tensors: [String: TensorNormStats], sourceTensors: [String: TensorNormStats],
                totalSumSq: Double, decaySumSq: Double, noDecaySumSq: Double,
                byRole: [String: [String: Double]], byLayer: [String: Double]) {
        self.checkpoint = checkpoint; self.tensors = tensors; self.sourceTensors = sourceTensors
        self.totalSumSq = totalSumSq; self.decaySumSq = decaySumSq; self.noDecaySumSq = noDecaySumSq
        self.byRole = byRole; self.byLayer = byLayer
    }

    /// L2 norm of `role` in block `layer`, nil when that block has no such tensor.
    public func l2(role: ParameterRole, layer: Int) -> Double? { byRole[role.rawValue]?[String(layer)] }
}

/// Knobs for the norm computation.
public struct NormOptions: Sendable {
    /// Compute spectral norms and stable ranks of matrices (the expensive part).
    public var spectral: Bool = true
    /// Also for the checkpoint's own tensors (they are the canonical ones reshaped or split,
    /// so this mostly repeats work).
    public var spectralForSourceTensors: Bool = true
    /// Power iteration stops when its relative residual ‖Gv − λv‖/λ is below this (see
    /// `topEigenvalue`); σ is then accurate to far better than this.
    public var tolerance: Double = 1e-6
    /// Power iteration gives up after this many steps; LAPACK then finds σ exactly (NormsSpectral.swift).
    public var maxIterations: Int = 500
    public init() {}
}
