import Engine
import Foundation
import TestFixtures
import XCTest
@testable import Checkpoints

/// What the checkpoints in ../shared/fixtures/formats say about themselves, against the values
/// their writer recorded in `formats/expected.json` (losses are checked in AnalysisTests).
final class FormatFixtureTests: XCTestCase {
    func formats() throws -> (String, [String: [String: Any]]) {
        let dir = try fixtures() + "/formats"
        guard FileManager.default.fileExists(atPath: dir + "/expected.json") else { throw missingFixtures("\(dir) not found") }
        return (dir, try XCTUnwrap(try expectedJSON(dir + "/expected.json") as? [String: [String: Any]]))
    }

    func testNanoGPTCheckpointMetadataMatchesItsTrainingScript() throws {
        let (dir, expected) = try formats()
        let e = try XCTUnwrap(expected["tiny-ckpt.pt"])
        let ck = try loadCheckpoint(path: dir + "/tiny-ckpt.pt")
        let c = ck.weights.config
        XCTAssertEqual(ck.format, .torch)
        XCTAssertEqual(c.nHead, e["n_head"] as? Int); XCTAssertEqual(ck.shapeSource, .checkpointConfig("model_args"))
        XCTAssertEqual(c.nLayer, e["n_layer"] as? Int); XCTAssertEqual(c.nEmbd, e["n_embd"] as? Int)
        XCTAssertEqual(c.contextLength, e["context"] as? Int); XCTAssertEqual(c.vocabSize, e["vocab_stored"] as? Int)
        XCTAssertEqual(c.softmaxVocab, 50257)
        XCTAssertEqual(ck.weights.tied, e["tied"] as? Bool)
        XCTAssertEqual(e["bias"] as? Bool, false)
        XCTAssertFalse(ck.weights.parameterTensors.contains { [.ln1b, .qkvb, .attprojb, .ln2b, .fcb, .fcprojb, .lnfb].contains($0.kind) })
        let t = try XCTUnwrap(ck.training)
        XCTAssertEqual(t.iterNum, e["iter_num"] as? Int)
        XCTAssertEqual(t.learningRate, e["learning_rate"] as? Double)
        XCTAssertEqual(t.weightDecay, e["weight_decay"] as? Double)
        let elr = try XCTUnwrap(e["avg_adam_elr"] as? Double)
        XCTAssertEqual(try XCTUnwrap(t.avgEffectiveLR), elr, accuracy: 1e-6 * elr)
        // The cheap peek reads the same config and metadata, without the optimizer's moments.
        let peek = try checkpointPeek(path: dir + "/tiny-ckpt.pt")
        XCTAssertEqual(peek.config, c)
        XCTAssertEqual(peek.training?.iterNum, t.iterNum)
        XCTAssertNil(peek.training?.avgEffectiveLR)
    }

    func testReferenceCheckpointWithoutOptimizer() throws {
        let (dir, expected) = try formats()
        let e = try XCTUnwrap(expected["reference-ckpt.pt"])
        let ck = try loadCheckpoint(path: dir + "/reference-ckpt.pt")
        XCTAssertEqual(ck.training?.iterNum, e["iter_num"] as? Int)
        XCTAssertEqual(ck.training?.learningRate, e["learning_rate"] as? Double)
        XCTAssertEqual(ck.training?.weightDecay, e["weight_decay"] as? Double)
        XCTAssertNil(ck.training?.avgEffectiveLR)
        XCTAssertEqual(ck.dtypes.keys.sorted(), ["BF16"])
    }

    /// An llm.c header whose sizes give fewer parameters than the file holds (layers, context or padded vocabulary
    /// lowered) is refused: every tensor after the first wrong size would be read at the wrong offset.
    func testLlmCHeaderSmallerThanItsFileIsRefused() throws {
        let (dir, _) = try formats()
        let original = try Data(contentsOf: URL(fileURLWithPath: dir + "/tinyb-llmc.bin"))
        func header(_ i: Int) -> Int32 { original.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self) } }
        // llm.c's header: [2] max_seq_len, [4] num_layers, [7] padded_vocab_size.
        for (i, value) in [(4, header(4) - 1), (2, header(2) / 2), (7, Int32(50257))] {
            var data = original
            data.withUnsafeMutableBytes { $0.storeBytes(of: value, toByteOffset: 4 * i, as: Int32.self) }
            let path = try tempDir(self) + "/changed.bin"
            try data.write(to: URL(fileURLWithPath: path))
            assertFails(path, containing: ["the header does not describe this file"]) { _ = try loadCheckpoint(path: path) }
        }
    }

    /// torch.save records each entry's CRC-32: a byte flipped inside a storage is refused (it changed a weight's
    /// value, and the loss moved by ~6e-5 with exit 0 before the check).
    func testDamagedTorchStorageFailsItsCRC() throws {
        let (dir, _) = try formats()
        var data = try Data(contentsOf: URL(fileURLWithPath: dir + "/baseline-model.pth"))
        let path = try tempDir(self) + "/damaged.pth"
        let i = data.count / 2   // inside the storages of this 4-block model
        data[i] ^= 0x10
        try data.write(to: URL(fileURLWithPath: path))
        assertFails(path, containing: ["does not match its CRC-32", "the file is damaged"]) { _ = try loadCheckpoint(path: path, heads: 4) }
    }

    /// A size stated as a JSON string ("n_head": "4") is refused saying it is a string (it printed as 4, the very
    /// value that was refused).
    func testSizeGivenAsAStringSaysSo() throws {
        let (dir, _) = try formats()
        let copy = try tempDir(self) + "/sharded"
        try FileManager.default.copyItem(atPath: dir + "/tinyb-sharded", toPath: copy)
        let config = copy + "/config.json"
        let text = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: #""n_head": 4"#, with: #""n_head": "4""#)
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        assertFails(config, containing: [#"'n_head' is the string "4", expected a positive integer"#]) { _ = try loadCheckpoint(path: copy) }
    }

    func testLlmCAndShardsAndStateDicts() throws {
        let (dir, expected) = try formats()
        for f in ["tinyb-llmc.bin", "tinyb-llmc-bf16.bin"] {
            let ck = try loadCheckpoint(path: dir + "/" + f)
            XCTAssertEqual(ck.format, .llmc)
            XCTAssertEqual(ck.shapeSource, .llmcHeader)
            XCTAssertEqual(ck.weights.config.nHead, expected[f]?["n_head"] as? Int)
            XCTAssertEqual(ck.weights.config.vocabSize, expected[f]?["vocab_stored"] as? Int)
            XCTAssertEqual(ck.weights.config.softmaxVocab, 50257, "the header's vocab")
            XCTAssertTrue(ck.weights.tied)
            // The padding rows llm.c writes are zero.
            XCTAssertTrue(ck.weights.tensor(TensorID(.wte)).suffix(47 * ck.weights.config.nEmbd).allSatisfy { $0 == 0 })
        }
        // The folder and its index give the same weights as each other.
        let folder = try loadCheckpoint(path: dir + "/tinyb-sharded")
        let index = try loadCheckpoint(path: dir + "/tinyb-sharded/model.safetensors.index.json")
        XCTAssertEqual(folder.format, .shardedSafetensors)
        XCTAssertEqual(folder.shapeSource, .configJSON(dir + "/tinyb-sharded/config.json"))
        XCTAssertEqual(folder.weights.data, index.weights.data)
        // …and the same as llm.c's file of the same model (fp32).
        XCTAssertEqual(folder.weights.tensor(TensorID(.qkvw, layer: 1)),
                       try loadCheckpoint(path: dir + "/tinyb-llmc.bin").weights.tensor(TensorID(.qkvw, layer: 1)))
        let pth = try loadCheckpoint(path: dir + "/baseline-model.pth", heads: 4)
        XCTAssertEqual(pth.layout, .raschka)
        XCTAssertFalse(pth.ignoredTensors.isEmpty, "att.mask buffers are dropped")
        let bin = try loadCheckpoint(path: dir + "/stacked-pytorch_model.bin", heads: 4)
        XCTAssertEqual(bin.layout, .hf)
        XCTAssertEqual(try detectFormat(path: dir + "/stacked-pytorch_model.bin"), .torch)
    }

    func testEvilPickleIsRefusedAndNothingRuns() throws {
        let (dir, _) = try formats()
        let marker = "/tmp/gpt2lab-fixture-pwned"
        try? FileManager.default.removeItem(atPath: marker)
        let path = dir + "/evil.pt"
        assertFails(path, containing: ["refusing to load: the pickle calls posix.system, which is not an allowed torch global"]) {
            _ = try loadCheckpoint(path: path)
        }
        assertFails(path, containing: ["posix.system"]) { _ = try checkpointConfig(path: path) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "evil.pt's os.system ran")
    }

    func testShardIndexErrorsNameTheFile() throws {
        let dir = try tempDir(self)
        try Data(#"{"weight_map": {"wte.weight": "../outside.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))
        assertFails(dir + "/model.safetensors.index.json", containing: ["not a shard file name beside the index"]) { _ = try loadCheckpoint(path: dir) }
        try Data(#"{"weight_map": {"wte.weight": "missing.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))
        assertFails("missing.safetensors", containing: ["no such file"]) { _ = try loadCheckpoint(path: dir) }
        let empty = try tempDir(self)
        assertFails(empty, containing: ["is a folder without model.safetensors", "model.safetensors.index.json"]) { _ = try loadCheckpoint(path: empty) }
    }

    func testLlmCHeaderErrors() throws {
        func header(_ v: [Int32]) -> Data {
            var h = [Int32](repeating: 0, count: 256)
            for (i, x) in v.enumerated() { h[i] = x }
            return h.withUnsafeBytes { Data($0) }
        }
        let dir = try tempDir(self)
        let cases: [([Int32], String)] = [
            ([20240326, 4, 64, 50257, 2, 4, 32, 50304], "version 4 is not read"),
            ([20240326, 3, 64, 50257, 2, 4, 32, 50000], "padded vocab 50000 is smaller"),
            ([20240326, 3, 64, 50257, -2, 4, 32, 50304], "num_layers = -2 is out of range"),
            ([20240326, 3, 64, 50257, 2, 4, 32, 50304], "promises"),
        ]
        for (i, (v, words)) in cases.enumerated() {
            let p = dir + "/m\(i).bin"
            try header(v).write(to: URL(fileURLWithPath: p))
            assertFails(p, containing: [words]) { _ = try loadCheckpoint(path: p) }
        }
    }
}
