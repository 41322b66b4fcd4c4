// Precision of a model's matrix products: f32 (the default, HF transformers' numbers) or bf16
// (`--precision bf16`): the product matrices held in bfloat16 (half the memory), their inputs
// rounded to bf16, the products accumulated in f32; LayerNorm, attention, GELU, softmax and the
// loss stay f32 (Kernels/MatmulBF16.swift).
//
// A bf16 model's parameters live in two sparse buffers laid out like the f32 one (same offsets):
// `small` (f32) holds the tensors that stay f32, `half` (bf16) the matrices. Both are anonymous
// zero pages from mmap, and a page never written is never resident, so each buffer costs only
// what is written to it: about half of the f32 model in all.

import Foundation

public enum Precision: String, Sendable, Codable, CaseIterable {
    case f32, bf16
}

/// Anonymous private zero pages (mmap): untouched pages cost no memory.
final class ZeroPages<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
    let count: Int
    private let bytes: Int

    init(count: Int) {
        self.count = count
        bytes = max(1, count * MemoryLayout<T>.stride)
        guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            fatalError("out of memory: cannot map \(bytes) bytes for model parameters")
        }
        base = p.bindMemory(to: T.self, capacity: max(1, count))
    }
    deinit { munmap(base, bytes) }
}

/// A model's parameters with the product matrices in bf16. Read-only once loaded.
public final class BF16Weights: @unchecked Sendable {
    public let layout: ParameterLayout
    public var config: GPT2Config { layout.config }
    public let tied: Bool
    public private(set) var stored: Set<TensorID> = []
    let small: ZeroPages<Float>
    let half: ZeroPages<UInt16>

    /// Tensors held in bf16: every matrix a product reads (the token embedding is the tied LM head).
    /// The position embedding, LayerNorms and biases (1–2% of GPT-2's parameters) stay f32.
    public static func isHalf(_ kind: TensorKind) -> Bool {
        switch kind {
        case .wte, .lmHead, .qkvw, .attprojw, .fcw, .fcprojw: return true
        default: return false
        }
    }

    public init(config: GPT2Config, tied: Bool) {
        layout = ParameterLayout(config: config, tied: tied)
        self.tied = tied
        small = ZeroPages(count: layout.count)
        half = ZeroPages(count: layout.count)
    }

    /// The f32 weights rounded (to nearest even) to bf16 where `isHalf`, copied where not.
    public convenience init(rounding w: GPT2Weights) {
        self.init(config: w.config, tied: w.tied)
        w.data.withUnsafeBufferPointer { d in
            for id in layout.tensors { write(id, at: 0, from: d.baseAddress! + layout.offsets[id]!, count: layout.size(id)) }
        }
        stored = w.stored
    }

    /// Writes `count` values of tensor `id` from element `at` on, rounding them when it is held in bf16.
    public func write(_ id: TensorID, at offset: Int, from values: UnsafePointer<Float>, count: Int) {
        precondition(offset + count <= layout.size(id), "internal: write past \(id.canonicalName)")
        let o = layout.offsets[id]! + offset
        if Self.isHalf(id.kind) { bf16FromF32(half.base + o, values, count: count) }
        else { (small.base + o).update(from: values, count: count) }
    }

    public func markStored(_ id: TensorID) { stored.insert(id) }
    public func isStored(_ id: TensorID) -> Bool { stored.contains(id) }
    public var parameterTensors: [TensorID] { layout.tensors.filter { stored.contains($0) } }

    /// One tensor's values as f32 (bf16 ones widened exactly).
    public func tensor(_ id: TensorID) -> [Float] {
        let o = layout.offsets[id]!, n = layout.size(id)
        if !Self.isHalf(id.kind) { return Array(UnsafeBufferPointer(start: small.base + o, count: n)) }
        var out = [Float](repeating: 0, count: n)
        out.withUnsafeMutableBufferPointer { f32FromBF16($0.baseAddress!, half.base + o, count: n) }
        return out
    }
}

/// A model's parameters at either precision: what GPT2Model runs and a checkpoint load returns.
public enum ModelWeights: Sendable {
    case f32(GPT2Weights)
    case bf16(BF16Weights)

    public var precision: Precision {
        if case .bf16 = self { return .bf16 }
        return .f32
    }
    public var layout: ParameterLayout {
        switch self { case let .f32(w): return w.layout; case let .bf16(w): return w.layout }
    }
    public var config: GPT2Config { layout.config }
    public var tied: Bool {
        switch self { case let .f32(w): return w.tied; case let .bf16(w): return w.tied }
    }
    public var parameterTensors: [TensorID] {
        switch self { case let .f32(w): return w.parameterTensors; case let .bf16(w): return w.parameterTensors }
    }
    public var parameterCount: Int { parameterTensors.reduce(0) { $0 + layout.size($1) } }
    public func tensor(_ id: TensorID) -> [Float] {
        switch self { case let .f32(w): return w.tensor(id); case let .bf16(w): return w.tensor(id) }
    }
    /// The f32 weights; nil for a bf16 model (norms, gradients and Hessians need f32).
    public var f32: GPT2Weights? {
        if case let .f32(w) = self { return w }
        return nil
    }
    /// These weights at `precision`: the same ones, or a bf16 copy of f32 ones. Never widens bf16 back.
    public func at(_ precision: Precision) -> ModelWeights {
        switch (self, precision) {
        case let (.f32(w), .bf16): return .bf16(BF16Weights(rounding: w))
        default: return self
        }
    }
}
