// Canonical GPT-2 parameters: one flat Float buffer, named views into it.
//
// Every checkpoint layout (HF, nanoGPT, Raschka/gpjt, KerasHub, HF-TF) is mapped by the
// Checkpoints module into this one set. Matrices are stored as nn.Linear does: [out, in],
// row-major, so y = x·Wᵀ + b (llm.c's convention).
//
// Tensors a checkpoint lacks (biases of a bias-free model, the LM head of a tied model) still
// get space here, filled with zeros (or ignored, for a tied head), but they are not
// *parameters*: `isStored` says which tensors the checkpoint really had. Gradients and
// Hessian-vector products reuse this same layout.

/// The kinds of tensor in a GPT-2 model, in network order.
public enum TensorKind: String, CaseIterable, Sendable, Codable {
    case wte        // (V, C)   token embedding
    case wpe        // (Tmax, C) position embedding
    case ln1w, ln1b // (C)      LayerNorm before attention
    case qkvw       // (3C, C)  fused query/key/value projection, rows [q; k; v]
    case qkvb       // (3C)
    case attprojw   // (C, C)   attention output projection
    case attprojb   // (C)
    case ln2w, ln2b // (C)      LayerNorm before the MLP
    case fcw        // (F, C)   MLP in
    case fcb        // (F)
    case fcprojw    // (C, F)   MLP out
    case fcprojb    // (C)
    case lnfw, lnfb // (C)      final LayerNorm
    case lmHead     // (V, C)   separate LM head; absent when tied to wte

    /// Whether there is one of these per transformer block.
    public var perLayer: Bool {
        switch self {
        case .wte, .wpe, .lnfw, .lnfb, .lmHead: return false
        default: return true
        }
    }

    /// HF-style canonical name; `layer` is required for per-layer kinds.
    public func canonicalName(layer: Int? = nil) -> String {
        let l = layer ?? 0
        switch self {
        case .wte: return "wte.weight"
        case .wpe: return "wpe.weight"
        case .ln1w: return "h.\(l).ln_1.weight"
        case .ln1b: return "h.\(l).ln_1.bias"
        case .qkvw: return "h.\(l).attn.c_attn.weight"
        case .qkvb: return "h.\(l).attn.c_attn.bias"
        case .attprojw: return "h.\(l).attn.c_proj.weight"
        case .attprojb: return "h.\(l).attn.c_proj.bias"
        case .ln2w: return "h.\(l).ln_2.weight"
        case .ln2b: return "h.\(l).ln_2.bias"
        case .fcw: return "h.\(l).mlp.c_fc.weight"
        case .fcb: return "h.\(l).mlp.c_fc.bias"
        case .fcprojw: return "h.\(l).mlp.c_proj.weight"
        case .fcprojb: return "h.\(l).mlp.c_proj.bias"
        case .lnfw: return "ln_f.weight"
        case .lnfb: return "ln_f.bias"
        case .lmHead: return "lm_head.weight"
        }
    }

    /// Shape of one instance (one layer's slice for per-layer kinds).
    public func shape(_ c: GPT2Config) -> [Int] {
        let C = c.nEmbd, F = c.nInner
        switch self {
        case .wte, .lmHead: return [c.vocabSize, C]
        case .wpe: return [c.contextLength, C]
        case .ln1w, .ln1b, .ln2w, .ln2b, .attprojb, .fcprojb, .lnfw, .lnfb: return [C]
        case .qkvw: return [3 * C, C]
        case .qkvb: return [3 * C]
        case .attprojw: return [C, C]
        case .fcw: return [F, C]
        case .fcb: return [F]
        case .fcprojw: return [C, F]
        }
    }
}

/// One named tensor inside the flat buffer.
public struct TensorID: Hashable, Sendable, Comparable {
    public let kind: TensorKind
    /// Block index for per-layer kinds, nil otherwise.
    public let layer: Int?
    public init(_ kind: TensorKind, layer: Int? = nil) { self.kind = kind; self.layer = layer }
    public var canonicalName: String { kind.canonicalName(layer: layer) }
    public static func < (a: TensorID, b: TensorID) -> Bool {
        (a.layer ?? -1, TensorKind.allCases.firstIndex(of: a.kind)!) <
            (b.layer ?? -1, TensorKind.allCases.firstIndex(of: b.kind)!)
    }
}

/// Where each tensor lives in the flat buffer. Order: wte, wpe, then per block
/// (ln1w … fcprojb), then lnfw, lnfb, lmHead — network order, so walking the flat
/// buffer walks the model front to back. A tied layout has no lmHead slot at all (the head
/// is wte), which saves V·C floats.
public struct ParameterLayout: Sendable {
    public let config: GPT2Config
    /// All tensors in buffer order (lmHead only when untied).
    public let tensors: [TensorID]
    public let offsets: [TensorID: Int]
    public let shapes: [TensorID: [Int]]
    public let count: Int
    /// The same offsets as typed fields, for the kernels (see Tensors.swift).
    public let tensorOffsets: ModelOffsets

    public init(config: GPT2Config, tied: Bool = false) {
        self.config = config
        var ids: [TensorID] = [TensorID(.wte), TensorID(.wpe)]
        for l in 0..<config.nLayer {
            for k in TensorKind.allCases where k.perLayer { ids.append(TensorID(k, layer: l)) }
        }
        ids += [TensorID(.lnfw), TensorID(.lnfb)]
        if !tied { ids.append(TensorID(.lmHead)) }
        var offs: [TensorID: Int] = [:], shp: [TensorID: [Int]] = [:]
        var n = 0
        for id in ids {
            let s = id.kind.shape(config)
            offs[id] = n; shp[id] = s
            n += s.reduce(1, *)
        }
        tensors = ids; offsets = offs; shapes = shp; count = n
        tensorOffsets = ModelOffsets(offs, layers: config.nLayer, tied: tied)
    }

    public func size(_ id: TensorID) -> Int { shapes[id]!.reduce(1, *) }
    public func range(_ id: TensorID) -> Range<Int> { offsets[id]!..<(offsets[id]! + size(id)) }
    public func id(canonicalName: String) -> TensorID? { tensors.first { $0.canonicalName == canonicalName } }
}

/// A GPT-2 model's parameters: the flat buffer plus which tensors the checkpoint stored.
public struct GPT2Weights: Sendable {
    public let layout: ParameterLayout
    public var config: GPT2Config { layout.config }
    /// Flat storage, `layout.count` floats.
    public var data: [Float]
    /// Tensors the checkpoint really had (its parameters). Absent biases are zeros in `data`.
    public var stored: Set<TensorID>
    /// True when the LM head is the token embedding (no separate lmHead parameter).
    public let tied: Bool

    public init(config: GPT2Config, tied: Bool) {
        layout = ParameterLayout(config: config, tied: tied)
        data = [Float](repeating: 0, count: layout.count)
        stored = []
        self.tied = tied
    }

    private init(layout: ParameterLayout, data: [Float], stored: Set<TensorID>, tied: Bool) {
        self.layout = layout; self.data = data; self.stored = stored; self.tied = tied
    }

    /// The same parameters softmaxing over the first `rows` of the vocabulary (nil: every row); the
    /// buffer is shared, not copied.
    public func softmaxing(rows: Int?) -> GPT2Weights {
        var c = config
        c.softmaxRows = rows
        return GPT2Weights(layout: ParameterLayout(config: c, tied: tied), data: data, stored: stored, tied: tied)
    }

    public func isStored(_ id: TensorID) -> Bool { stored.contains(id) }

    /// The stored tensors, in buffer order: the model's parameters.
    public var parameterTensors: [TensorID] { layout.tensors.filter { stored.contains($0) } }

    /// Number of parameters (tied weights counted once, absent biases and buffers not at all).
    public var parameterCount: Int { parameterTensors.reduce(0) { $0 + layout.size($1) } }

    /// Copy of one tensor's values.
    public func tensor(_ id: TensorID) -> [Float] { Array(data[layout.range(id)]) }

    /// Overwrite one tensor; `values.count` must equal its size.
    public mutating func set(_ id: TensorID, _ values: [Float]) {
        precondition(values.count == layout.size(id), "internal: wrong size for \(id.canonicalName)")
        data.replaceSubrange(layout.range(id), with: values)
        stored.insert(id)
    }
}
