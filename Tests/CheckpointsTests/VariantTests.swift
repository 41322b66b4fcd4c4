import Checkpoints
import Engine
import Foundation
import XCTest

/// Layout variants written from a loaded model (renamed keys, Conv1D vs Linear, F32/F16,
/// bias-free, untied) load back to the same canonical weights.
final class VariantTests: XCTestCase {
    /// The model's stored tensors under HF/nanoGPT names.
    static func hfTensors(_ w: GPT2Weights, prefix: String, conv1D: Bool, dtype: TensorDType,
                          biases: Bool = true, head: [Float]? = nil) -> [TensorToWrite] {
        var out: [TensorToWrite] = []
        for id in w.parameterTensors where id.kind != .lmHead {
            let isBias = [.ln1b, .ln2b, .lnfb, .qkvb, .attprojb, .fcb, .fcprojb].contains(id.kind)
            if isBias && !biases { continue }
            var shape = w.layout.shapes[id]!, values = w.tensor(id)
            let matrix = [.qkvw, .attprojw, .fcw, .fcprojw].contains(id.kind)
            if conv1D && matrix {                                  // [out, in] → [in, out]
                let (r, c) = (shape[0], shape[1])
                var t = [Float](repeating: 0, count: values.count)
                for i in 0..<r { for j in 0..<c { t[j * r + i] = values[i * c + j] } }
                values = t; shape = [c, r]
            }
            out.append(TensorToWrite(name: prefix + id.canonicalName, shape: shape, dtype: dtype, values: values))
        }
        if let head {
            out.append(TensorToWrite(name: (prefix.hasPrefix("_orig_mod.") ? "_orig_mod." : "") + "lm_head.weight",
                                     shape: [w.config.vocabSize, w.config.nEmbd], dtype: dtype, values: head))
        }
        return out
    }

    func reference() throws -> LoadedCheckpoint {
        try loadCheckpoint(path: try fixtures() + "/runs/reference/model.safetensors")
    }

    func testPrefixesAndOrientations() throws {
        let ref = try reference(), dir = try tempDir(self)
        let variants: [(String, Bool, CheckpointLayout, Bool)] = [
            ("", true, .hf, false), ("transformer.", true, .hf, false),
            ("transformer.", false, .nanogpt, true), ("_orig_mod.transformer.", false, .nanogpt, true),
            ("_orig_mod.", false, .nanogpt, false),
        ]
        for (i, (prefix, conv, layout, withHead)) in variants.enumerated() {
            let path = dir + "/v\(i).safetensors"
            let head = withHead ? ref.weights.tensor(TensorID(.wte)) : nil
            try writeSafetensors(path: path, tensors: Self.hfTensors(ref.weights, prefix: prefix, conv1D: conv, dtype: .F32, head: head))
            let ck = try loadCheckpoint(path: path, heads: 4)
            XCTAssertEqual(ck.layout, layout, "\(prefix) conv1D=\(conv)")
            XCTAssertTrue(ck.weights.tied, prefix)
            XCTAssertEqual(ck.weights.stored, ref.weights.stored, prefix)
            XCTAssertEqual(ck.weights.data, ref.weights.data, prefix)
            XCTAssertEqual(ck.dtypes, ["F32": ck.sourceTensors.count])
        }
    }

    func testF16Copy() throws {
        let ref = try reference(), path = try tempDir(self) + "/f16.safetensors"
        try writeSafetensors(path: path, tensors: Self.hfTensors(ref.weights, prefix: "transformer.", conv1D: true, dtype: .F16))
        let ck = try loadCheckpoint(path: path, heads: 4)
        XCTAssertEqual(ck.dtypes, ["F16": ck.sourceTensors.count])
        var worst: Float = 0
        for id in ref.weights.parameterTensors {
            for (x, y) in zip(ref.weights.tensor(id), ck.weights.tensor(id)) { worst = max(worst, abs(x - y) / max(abs(x), 6.1e-5)) }
        }
        XCTAssertGreaterThan(worst, 0)
        XCTAssertLessThanOrEqual(worst, 4.9e-4)
    }

    func testBiasFreeModel() throws {
        let ref = try reference(), path = try tempDir(self) + "/nobias.safetensors"
        try writeSafetensors(path: path, tensors: Self.hfTensors(ref.weights, prefix: "_orig_mod.transformer.", conv1D: false,
                                                                 dtype: .BF16, biases: false))
        let ck = try loadCheckpoint(path: path, heads: 4)
        XCTAssertEqual(ck.layout, .nanogpt)
        let C = ref.weights.config.nEmbd, L = ref.weights.config.nLayer, F = ref.weights.config.nInner
        let biasCount = L * (C + C + 3 * C + C + F + C) + C
        XCTAssertEqual(ck.weights.parameterCount, ref.weights.parameterCount - biasCount)
        XCTAssertFalse(ck.weights.isStored(TensorID(.qkvb, layer: 0)))
        XCTAssertEqual(ck.weights.tensor(TensorID(.fcb, layer: 2)), [Float](repeating: 0, count: F))
        XCTAssertEqual(ck.weights.tensor(TensorID(.qkvw, layer: 1)), ref.weights.tensor(TensorID(.qkvw, layer: 1)))
    }

    func testUntiedHeadAndMissingEmbedding() throws {
        let ref = try reference(), dir = try tempDir(self)
        var head = ref.weights.tensor(TensorID(.wte)); head[7] += 1
        let untied = dir + "/untied.safetensors"
        try writeSafetensors(path: untied, tensors: Self.hfTensors(ref.weights, prefix: "", conv1D: false, dtype: .F32, head: head))
        let u = try loadCheckpoint(path: untied, heads: 4)
        XCTAssertFalse(u.weights.tied)
        XCTAssertEqual(u.weights.tensor(TensorID(.lmHead)), head)
        XCTAssertEqual(u.weights.parameterCount, ref.weights.parameterCount + head.count)

        // nanoGPT tied: only lm_head saved, wte absent.
        let headOnly = dir + "/headonly.safetensors"
        let tensors = Self.hfTensors(ref.weights, prefix: "_orig_mod.transformer.", conv1D: false, dtype: .F32,
                                     head: ref.weights.tensor(TensorID(.wte))).filter { !$0.name.hasSuffix("wte.weight") }
        try writeSafetensors(path: headOnly, tensors: tensors)
        let h = try loadCheckpoint(path: headOnly, heads: 4)
        XCTAssertTrue(h.weights.tied)
        XCTAssertEqual(h.weights.data, ref.weights.data)
    }

    /// Raschka names with out_head omitted (tied) and with q/k/v split back out.
    func testRaschkaWithoutHead() throws {
        let fx = try fixtures(), path = try tempDir(self) + "/r.safetensors"
        let src = try readSourceTensors(path: fx + "/runs/reference/model.safetensors")
        var tensors = src.map { TensorToWrite(name: $0.name == "out_head.weight" ? "tok_emb.weight" : $0.name,
                                              shape: $0.shape, dtype: .F32, values: $0.values) }
        tensors.append(TensorToWrite(name: "trf_blocks.0.att.mask", shape: [2, 2], values: [0, 1, 0, 0]))
        try writeSafetensors(path: path, tensors: tensors)
        let ck = try loadCheckpoint(path: path, heads: 4)
        let ref = try reference()
        XCTAssertEqual(ck.layout, .raschka)
        XCTAssertTrue(ck.weights.tied)
        XCTAssertEqual(ck.ignoredTensors, ["trf_blocks.0.att.mask"])
        XCTAssertEqual(ck.weights.data, ref.weights.data)
    }

    /// NaN or ±Inf in a parameter: refused in one line naming the file and the tensors, in f32 and bf16 (every loss
    /// would be NaN); inspect's load shows them as warnings.
    func testNaNIsRefusedAndAWarningForInspect() throws {
        let ref = try reference(), path = try tempDir(self) + "/nan.safetensors"
        var t = Self.hfTensors(ref.weights, prefix: "", conv1D: true, dtype: .F32)
        t[3].values[0] = .nan; t[4].values[1] = .infinity
        try writeSafetensors(path: path, tensors: t)
        for precision in Precision.allCases {
            XCTAssertThrowsError(try loadCheckpoint(path: path, heads: 4, precision: precision)) { e in
                XCTAssertEqual((e as? CheckpointError)?.kind, .nonFinite)
                let text = (e as? LocalizedError)?.errorDescription ?? ""
                XCTAssertTrue(text.hasPrefix(path + ": ") && text.components(separatedBy: "NaN/Inf value(s)").count == 3 && !text.contains("\n"), text)
            }
        }
        let ck = try loadCheckpoint(path: path, heads: 4, nonFiniteIsAWarning: true)
        XCTAssertEqual(ck.warnings.count, 2, "\(ck.warnings)")
        XCTAssertTrue(ck.warnings.allSatisfy { $0.contains("NaN/Inf") })
    }

    func testHalfAndBFloatRoundTrip() throws {
        let path = try tempDir(self) + "/rt.safetensors"
        let values: [Float] = [0, -0.0, 1, -2.5, 65504, 6.1035156e-05, 5.9604645e-08, 3.1415927, .infinity, -1e-3]
        try writeSafetensors(path: path, tensors: [
            TensorToWrite(name: "h", shape: [10], dtype: .F16, values: values),
            TensorToWrite(name: "b", shape: [2, 5], dtype: .BF16, values: values),
            TensorToWrite(name: "d", shape: [10], dtype: .F64, values: values),
        ])
        let f = try SafetensorsFile(path: path)
        XCTAssertEqual(try f.floats("d"), values)
        let h = try f.floats("h")
        XCTAssertEqual(Array(h[0...2]) + Array(h[4...6]) + [h[8]], [0, 0, 1, 65504, 6.1035156e-05, 5.9604645e-08, .infinity])
        XCTAssertEqual(h[3], -2.5); XCTAssertEqual(h[7], 3.140625); XCTAssertEqual(h[9], -0.0010004044)
        XCTAssertEqual(try f.floats("b")[7], 3.140625)
        XCTAssertEqual(f.info("b")?.shape, [2, 5])
    }
}
