import Checkpoints
import Engine
import Foundation
import XCTest

/// Every fixture checkpoint loads, with the parameter count, norms, layout and tying that
/// the independent references (PyTorch, the fixture README) give.
final class FixtureTests: XCTestCase {
    static let runs = ["baseline", "baseline-seed67", "wd-0.01", "stacked", "reference"]

    func testRunsLoadWithExpectedParamsAndTying() throws {
        let fx = try fixtures()
        var files = Self.runs.map { ("runs/\($0)/model.safetensors", "expected/\($0).json") }
        files += ["000571", "001143"].map { ("runs/baseline/step-\($0).safetensors", "expected/baseline-step-\($0).json") }
        for (file, exp) in files {
            let ck = try loadCheckpoint(path: fx + "/" + file)
            let e = try expectedJSON(fx + "/" + exp)
            XCTAssertEqual(ck.layout, .raschka, file)
            XCTAssertEqual(ck.format, .safetensors, file)
            XCTAssertEqual(ck.weights.parameterCount, e["params"] as? Int, file)
            XCTAssertEqual(ck.weights.tied, e["tied"] as? Bool, file)
            XCTAssertEqual(ck.shapeSource, .metaJSON((fx + "/" + file as NSString).deletingLastPathComponent + "/meta.json"), file)
            XCTAssertEqual(ck.weights.config.nHead, 4, file)
            XCTAssertEqual(ck.weights.config.contextLength, 256, file)
            XCTAssertEqual(ck.dtypes, ["BF16": ck.sourceTensors.count], file)
            XCTAssertFalse(ck.ignoredTensors.isEmpty, file)
            XCTAssertTrue(ck.ignoredTensors.allSatisfy { $0.hasSuffix("att.mask") }, file)
            XCTAssertTrue(ck.warnings.isEmpty, "\(file): \(ck.warnings)")
        }
    }

    /// float64 L2 norm of each stored tensor vs PyTorch's (validates bf16 decoding).
    func testNormsMatchReference() throws {
        let fx = try fixtures()
        for run in Self.runs {
            let e = try expectedJSON(fx + "/expected/\(run).json")
            let norms = try XCTUnwrap(e["norms"] as? [String: Double])
            let tensors = try readSourceTensors(path: fx + "/runs/\(run)/model.safetensors")
            XCTAssertEqual(Set(tensors.map(\.name)), Set(norms.keys), run)
            for t in tensors {
                let n = t.values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                let ref = try XCTUnwrap(norms[t.name])
                XCTAssertEqual(n, ref, accuracy: 1e-6 * max(ref, 1e-30), "\(run) \(t.name)")
            }
        }
    }

    func testLayoutFilesLoad() throws {
        let fx = try fixtures()
        let cases: [(String, CheckpointLayout, CheckpointFormat, Int?)] = [
            ("reference-hf.safetensors", .hf, .safetensors, 4),
            ("reference-tf_model-f16.h5", .hfTF, .hdf5, 4),
            ("weight-tying-nanogpt.safetensors", .nanogpt, .safetensors, 4),
            ("weight-tying-keras-hub.weights.h5", .kerasHub, .hdf5, nil),
        ]
        for (file, layout, format, heads) in cases {
            let ck = try loadCheckpoint(path: fx + "/layouts/" + file, heads: heads)
            let e = try expectedJSON(fx + "/expected/layouts/\(file).json")
            XCTAssertEqual(ck.layout, layout, file)
            XCTAssertEqual(ck.format, format, file)
            XCTAssertEqual(ck.weights.tied, e["tied"] as? Bool, file)
            XCTAssertEqual(ck.weights.config.nHead, e["heads"] as? Int, file)
            XCTAssertEqual(ck.shapeSource, heads == nil ? .tensorShapes : .option("--heads"), file)
            let cfg = try XCTUnwrap(e["config"] as? [String: Any])
            XCTAssertEqual(ck.weights.config.nEmbd, cfg["emb_dim"] as? Int, file)
            XCTAssertEqual(ck.weights.config.nLayer, cfg["n_layers"] as? Int, file)
            XCTAssertEqual(ck.weights.config.contextLength, cfg["context_length"] as? Int, file)
            XCTAssertEqual(ck.weights.config.vocabSize, cfg["vocab_size"] as? Int, file)
            XCTAssertFalse(ck.weights.isStored(TensorID(.lmHead)), file)
        }
        // HF keeps its causal-mask buffers out of the parameters.
        let hf = try loadCheckpoint(path: fx + "/layouts/reference-hf.safetensors", heads: 4)
        XCTAssertEqual(hf.ignoredTensors.count, 6)
        let ref = try expectedJSON(fx + "/expected/reference.json")
        XCTAssertEqual(hf.weights.parameterCount, ref["params"] as? Int)
    }

    /// Without --heads or a config in or beside it, a model that is not GPT-2's size is refused, the
    /// advice naming how the caller gives heads (the option, or the manifest's key).
    func testHeadsNotStatedAreRefused() throws {
        let path = try fixtures() + "/layouts/reference-hf.safetensors"
        assertRefused(path, ["not a GPT-2 size", "pass --heads N"]) { _ = try loadCheckpoint(path: path) }
        assertRefused(path, ["set heads = N in this run's [[run]]"]) { _ = try checkpointPeek(path: path, headsGivenBy: .manifest) }
        let ck = try loadCheckpoint(path: path, heads: 4, headsGivenBy: .manifest)
        XCTAssertEqual(ck.shapeSource, .manifest)
        XCTAssertEqual(ck.weights.config.nHead, 4)
    }

    func assertRefused(_ path: String, _ parts: [String], _ body: () throws -> Void, line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { e in
            let text = (e as? LocalizedError)?.errorDescription ?? "\(e)"
            XCTAssertTrue(text.hasPrefix(path + ": "), text, line: line)
            for p in parts { XCTAssertTrue(text.contains(p), text, line: line) }
        }
    }

    /// The same weights in different layouts load to the same canonical buffer.
    func testSameWeightsAcrossLayouts() throws {
        let fx = try fixtures()
        let ref = try loadCheckpoint(path: fx + "/runs/reference/model.safetensors")
        let hf = try loadCheckpoint(path: fx + "/layouts/reference-hf.safetensors", heads: 4)
        XCTAssertEqual(ref.weights.config, hf.weights.config)
        XCTAssertEqual(ref.weights.stored, hf.weights.stored)
        XCTAssertEqual(ref.weights.data, hf.weights.data)                     // bf16 → exact

        let tf = try loadCheckpoint(path: fx + "/layouts/reference-tf_model-f16.h5", heads: 4)
        XCTAssertEqual(tf.weights.stored, ref.weights.stored)
        var worst: Float = 0
        for id in ref.weights.parameterTensors {                             // within f16 rounding
            for (x, y) in zip(ref.weights.tensor(id), tf.weights.tensor(id)) {
                worst = max(worst, abs(x - y) / max(abs(x), 6.1e-5))
            }
        }
        XCTAssertLessThanOrEqual(worst, 4.9e-4)

        let nano = try loadCheckpoint(path: fx + "/layouts/weight-tying-nanogpt.safetensors", heads: 4)
        let keras = try loadCheckpoint(path: fx + "/layouts/weight-tying-keras-hub.weights.h5")
        XCTAssertEqual(nano.weights.config, keras.weights.config)
        XCTAssertEqual(nano.weights.stored, keras.weights.stored)
        XCTAssertEqual(nano.weights.data, keras.weights.data)                 // bf16 vs f32 of the same values
        XCTAssertEqual(nano.dtypes, ["BF16": nano.sourceTensors.count])
        XCTAssertEqual(keras.dtypes, ["F32": keras.sourceTensors.count])
    }
}
