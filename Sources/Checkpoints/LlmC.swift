// llm.c's `model.bin` (train_gpt2.py `write_model`): a header of 256 int32 — magic 20240326,
// version (3: fp32, 5: bf16), max T, vocab V, layers L, heads NH, width C, padded vocab Vp —
// then every parameter, flat, in llm.c's ParameterTensors order: wte (Vp, C), wpe (maxT, C),
// and per kind one stack over all layers: ln1w (L, C), ln1b (L, C), qkvw (L, 3C, C),
// qkvb (L, 3C), attprojw (L, C, C), attprojb (L, C), ln2w, ln2b (L, C), fcw (L, 4C, C),
// fcb (L, 4C), fcprojw (L, C, 4C), fcprojb (L, C); then lnfw (C), lnfb (C). The head is tied.
// Each slice is exposed under nanoGPT's names ([out, in] matrices), so the nanoGPT mapper fits.

import Foundation

final class LlmCFile {
    static let magic: Int32 = 20240326
    static let headerBytes = 1024
    /// Largest value each header field may claim; with these no size product can overflow.
    static let limits = (context: 1 << 22, vocab: 1 << 22, layers: 1 << 12, heads: 1 << 16, channels: 1 << 16)

    let path: String
    let tensors: [SourceTensor]
    /// From the header: heads, and the tokenizer's vocabulary (rows past it are padding).
    let heads: Int
    let vocab: Int
    let version: Int
    private let file: MappedFile
    private let dtype: TensorDType
    /// Name → element offset after the header.
    private let offsets: [String: Int]
    private let counts: [String: Int]

    static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && Int32(littleEndian: bytes.loadUnaligned(as: Int32.self)) == magic
    }

    init(path: String) throws {
        let file = try MappedFile(path: path)
        let b = file.bytes
        guard b.count >= Self.headerBytes else {
            throw CheckpointError(path, .truncated, "llm.c model file of \(b.count) bytes is shorter than its 1024-byte header")
        }
        func h(_ i: Int) -> Int { Int(Int32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
        guard h(0) == Int(Self.magic) else { throw CheckpointError(path, .badHeader, "llm.c header magic is \(h(0)), expected 20240326") }
        version = h(1)
        switch version {
        case 3: dtype = .F32
        case 5: dtype = .BF16
        default: throw CheckpointError(path, .badHeader, "llm.c model version \(version) is not read (3 = fp32, 5 = bf16)")
        }
        let T = h(2), V = h(3), L = h(4), NH = h(5), C = h(6), Vp = h(7)
        let m = Self.limits
        for (name, v, limit) in [("max_seq_len", T, m.context), ("vocab_size", V, m.vocab), ("num_layers", L, m.layers),
                                 ("num_heads", NH, m.heads), ("channels", C, m.channels), ("padded_vocab_size", Vp, m.vocab)] {
            guard v > 0, v <= limit else { throw CheckpointError(path, .badHeader, "llm.c header \(name) = \(v) is out of range") }
        }
        guard Vp >= V else { throw CheckpointError(path, .badHeader, "llm.c header: padded vocab \(Vp) is smaller than the vocab \(V)") }
        self.path = path; self.file = file; heads = NH; vocab = V
        let dt = dtype
        var list: [SourceTensor] = [], offs: [String: Int] = [:], counts: [String: Int] = [:]
        var at = 0
        func add(_ name: String, _ shape: [Int]) {
            let n = shape.reduce(1, *)
            list.append(SourceTensor(name: name, shape: shape, dtype: dt.rawValue))
            offs[name] = at; counts[name] = n
            at += n
        }
        /// One per-kind stack over all layers, each layer its own tensor.
        func stack(_ suffix: String, _ shape: [Int]) { for l in 0..<L { add("h.\(l)." + suffix, shape) } }
        add("wte.weight", [Vp, C]); add("wpe.weight", [T, C])
        stack("ln_1.weight", [C]); stack("ln_1.bias", [C])
        stack("attn.c_attn.weight", [3 * C, C]); stack("attn.c_attn.bias", [3 * C])
        stack("attn.c_proj.weight", [C, C]); stack("attn.c_proj.bias", [C])
        stack("ln_2.weight", [C]); stack("ln_2.bias", [C])
        stack("mlp.c_fc.weight", [4 * C, C]); stack("mlp.c_fc.bias", [4 * C])
        stack("mlp.c_proj.weight", [C, 4 * C]); stack("mlp.c_proj.bias", [C])
        add("ln_f.weight", [C]); add("ln_f.bias", [C])
        // Within `limits`, `at` (≈ 12·L·C² + (Vp + T)·C < 2^50) cannot overflow; the file must hold it.
        let (need, o) = at.multipliedReportingOverflow(by: dtype.byteSize)
        guard !o, need <= b.count - Self.headerBytes else {
            throw CheckpointError(path, .truncated, "llm.c header promises \(at) parameters (\(need) bytes) but the file holds \(b.count - Self.headerBytes) after the header")
        }
        // llm.c writes the header, then the parameters, and nothing after: bytes left over mean the header's sizes
        // are not the file's, and every tensor after the first wrong size would be read from the wrong offset.
        guard need == b.count - Self.headerBytes else {
            throw CheckpointError(path, .badHeader, "llm.c header's sizes give \(at) parameters (\(need) bytes) but the file holds \(b.count - Self.headerBytes) after the header; the header does not describe this file")
        }
        tensors = list; offsets = offs; self.counts = counts
    }

    private func entry(_ name: String) throws -> (Int, Int) {
        guard let o = offsets[name], let n = counts[name] else { throw CheckpointError(path, .missingTensors, "no tensor named '\(name)'") }
        return (o, n)
    }

    func elementCount(_ name: String) throws -> Int { try entry(name).1 }

    func decode(_ name: String, into out: UnsafeMutablePointer<Float>) throws {
        let (o, n) = try entry(name)
        decodeReleasing(file, at: Self.headerBytes + o * dtype.byteSize, count: n, dtype: dtype, into: out)
    }

    func floats(_ name: String) throws -> [Float] {
        let n = try entry(name).1
        var v = [Float](repeating: 0, count: n)
        try v.withUnsafeMutableBufferPointer { if let p = $0.baseAddress { try decode(name, into: p) } }
        return v
    }
}
