// Typed views of the flat parameter buffer (llm.c's ParameterTensors): one struct of pointers per
// block plus the model-wide tensors. The layout computes every offset once; a view is the base
// pointer plus those offsets, so the forward, the KV-cache step and the backward never look a tensor
// up by name. Gradients and Hessian-vector products share the layout, so the same views serve them.

/// Offsets of one block's tensors in the flat buffer (computed once per layout).
public struct BlockOffsets: Sendable {
    public let ln1w, ln1b, qkvw, qkvb, attprojw, attprojb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb: Int

    init(_ offsets: [TensorID: Int], layer l: Int) {
        func o(_ k: TensorKind) -> Int { offsets[TensorID(k, layer: l)]! }
        ln1w = o(.ln1w); ln1b = o(.ln1b); qkvw = o(.qkvw); qkvb = o(.qkvb)
        attprojw = o(.attprojw); attprojb = o(.attprojb); ln2w = o(.ln2w); ln2b = o(.ln2b)
        fcw = o(.fcw); fcb = o(.fcb); fcprojw = o(.fcprojw); fcprojb = o(.fcprojb)
    }
}

/// Offsets of the model-wide tensors; `head` is wte's offset when the LM head is tied.
public struct ModelOffsets: Sendable {
    public let wte, wpe, lnfw, lnfb, head: Int
    public let blocks: [BlockOffsets]

    init(_ offsets: [TensorID: Int], layers: Int, tied: Bool) {
        wte = offsets[TensorID(.wte)]!; wpe = offsets[TensorID(.wpe)]!
        lnfw = offsets[TensorID(.lnfw)]!; lnfb = offsets[TensorID(.lnfb)]!
        head = offsets[TensorID(tied ? .wte : .lmHead)]!
        blocks = (0..<layers).map { BlockOffsets(offsets, layer: $0) }
    }
}

/// One block's tensors (parameters, or gradients of them) inside a flat buffer.
public struct BlockTensors {
    public let ln1w, ln1b: UnsafeMutablePointer<Float>          // (C)
    public let qkvw: UnsafeMutablePointer<Float>                // (3C, C) rows [q; k; v]
    public let qkvb: UnsafeMutablePointer<Float>                // (3C)
    public let attprojw: UnsafeMutablePointer<Float>            // (C, C)
    public let attprojb: UnsafeMutablePointer<Float>            // (C)
    public let ln2w, ln2b: UnsafeMutablePointer<Float>          // (C)
    public let fcw: UnsafeMutablePointer<Float>                 // (F, C)
    public let fcb: UnsafeMutablePointer<Float>                 // (F)
    public let fcprojw: UnsafeMutablePointer<Float>             // (C, F)
    public let fcprojb: UnsafeMutablePointer<Float>             // (C)

    init(_ p: UnsafeMutablePointer<Float>, _ o: BlockOffsets) {
        ln1w = p + o.ln1w; ln1b = p + o.ln1b; qkvw = p + o.qkvw; qkvb = p + o.qkvb
        attprojw = p + o.attprojw; attprojb = p + o.attprojb; ln2w = p + o.ln2w; ln2b = p + o.ln2b
        fcw = p + o.fcw; fcb = p + o.fcb; fcprojw = p + o.fcprojw; fcprojb = p + o.fcprojb
    }
}

/// All of a model's tensors inside a flat buffer of `layout.count` floats.
public struct ModelTensors {
    public let wte: UnsafeMutablePointer<Float>    // (V, C)
    public let wpe: UnsafeMutablePointer<Float>    // (Tmax, C)
    public let lnfw, lnfb: UnsafeMutablePointer<Float>  // (C)
    /// (V, C): lm_head, or wte itself when tied (so a tied head's gradient lands in wte).
    public let head: UnsafeMutablePointer<Float>
    public let blocks: [BlockTensors]

    public init(_ base: UnsafeMutablePointer<Float>, _ layout: ParameterLayout) {
        let o = layout.tensorOffsets
        wte = base + o.wte; wpe = base + o.wpe; lnfw = base + o.lnfw; lnfb = base + o.lnfb; head = base + o.head
        blocks = o.blocks.map { BlockTensors(base, $0) }
    }
}

extension GPT2Weights {
    /// Runs `body` with typed views of the parameters (read-only by contract: the forward never writes them).
    func withTensors<R>(_ body: (ModelTensors) throws -> R) rethrows -> R {
        try data.withUnsafeBufferPointer { buf in
            try body(ModelTensors(UnsafeMutablePointer(mutating: buf.baseAddress!), layout))
        }
    }
}

/// One block's bf16 matrices (a BF16Weights model), at the same offsets as the f32 views.
struct HalfBlockTensors {
    let qkvw, attprojw, fcw, fcprojw: UnsafePointer<UInt16>
    init(_ p: UnsafePointer<UInt16>, _ o: BlockOffsets) {
        qkvw = p + o.qkvw; attprojw = p + o.attprojw; fcw = p + o.fcw; fcprojw = p + o.fcprojw
    }
}

/// A bf16 model's matrices: the token embedding, the LM head (wte when tied) and each block's.
struct HalfModelTensors {
    let wte, head: UnsafePointer<UInt16>
    let blocks: [HalfBlockTensors]
    init(_ base: UnsafePointer<UInt16>, _ layout: ParameterLayout) {
        let o = layout.tensorOffsets
        wte = base + o.wte; head = base + o.head
        blocks = o.blocks.map { HalfBlockTensors(base, $0) }
    }
}

extension ModelWeights {
    /// Runs `body` with the f32 views (all tensors for f32 weights; for bf16 ones only those that
    /// stay f32 are meaningful) and, for bf16 weights, the bf16 matrices.
    func withTensors<R>(_ body: (ModelTensors, HalfModelTensors?) throws -> R) rethrows -> R {
        switch self {
        case let .f32(w): return try w.withTensors { try body($0, nil) }
        case let .bf16(w): return try body(ModelTensors(w.small.base, w.layout), HalfModelTensors(w.half.base, w.layout))
        }
    }
}
