import Engine
import Foundation
import FuzzTargets
import XCTest
@testable import Checkpoints

/// torch.save archives built in code (FuzzTargets/TorchSeeds.swift), and hand-made malformed
/// ones: each must load right or fail with one line naming the file and the problem.
final class TorchTests: XCTestCase {
    func write(_ bytes: [UInt8], _ name: String = "ckpt.pt") throws -> String {
        let path = try tempDir(self) + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A state dict of one tensor under `pickle`'s control: `body` writes the value of "w".
    func archive(storage: [Float] = [1, 2, 3, 4, 5, 6], _ body: (inout PickleWriter) -> Void) -> [UInt8] {
        var p = PickleWriter()
        p.emptyDict(); p.mark(); p.string("w")
        body(&p)
        p.setItems(); p.stop()
        return torchArchive(pickle: p.bytes, storages: [("0", f32Bytes(storage))])
    }

    func testTinyNanoGPTCheckpointLoadsWithItsTrainingMetadata() throws {
        let path = try write(tinyTorchCheckpoint(v: 4))
        let ck = try loadCheckpoint(path: path)
        XCTAssertEqual(ck.format, .torch)
        XCTAssertEqual(ck.layout, .nanogpt)
        XCTAssertEqual(ck.shapeSource, .checkpointConfig("model_args"))
        XCTAssertEqual(ck.weights.config, GPT2Config(vocabSize: 8, contextLength: 4, nEmbd: 8, nLayer: 1, nHead: 2))
        XCTAssertTrue(ck.weights.tied, "lm_head shares wte's storage")
        XCTAssertFalse(ck.weights.isStored(TensorID(.qkvb, layer: 0)), "bias=False: no bias tensors")
        XCTAssertFalse(ck.weights.isStored(TensorID(.ln1b, layer: 0)))
        let t = try XCTUnwrap(ck.training)
        XCTAssertEqual(t.iterNum, 6)
        XCTAssertEqual(t.learningRate, 1e-3)
        XCTAssertEqual(t.weightDecay, 0.1)
        XCTAssertEqual(t.maxIters, 600_000)
        // Every exp_avg_sq element is 4: lr / (√4 + eps).
        XCTAssertEqual(try XCTUnwrap(t.avgEffectiveLR), 1e-3 / (2 + 1e-8), accuracy: 1e-15)
        XCTAssertEqual(t.adamStateElements, ck.weights.parameterCount)
        // wte row 1, column 0: element 8 of storage 0 = ((8·7 + 0) % 11)/16 − 0.3.
        XCTAssertEqual(ck.weights.tensor(TensorID(.wte))[8], Float(56 % 11) / 16 - 0.3)
    }

    /// AdamW state of tokens never seen (exp_avg_sq = 0) adds lr/eps per element to the average effective learning
    /// rate: counted, and the mean over the other elements given beside it.
    func testNeverUpdatedAdamStateIsCountedApart() throws {
        let t = try XCTUnwrap(try loadCheckpoint(path: try write(tinyTorchCheckpoint(v: 4, unseenRows: 2))).training)
        let n = try XCTUnwrap(t.adamStateElements), lr = 1e-3, eps = 1e-8
        XCTAssertEqual(t.adamZeroStateElements, 2 * 8)                      // two wte rows of width 8
        XCTAssertEqual(try XCTUnwrap(t.avgEffectiveLRUpdated), lr / (2 + eps), accuracy: 1e-15)
        let all = (Double(n - 16) * lr / (2 + eps) + 16 * lr / eps) / Double(n)
        XCTAssertEqual(try XCTUnwrap(t.avgEffectiveLR), all, accuracy: 1e-9 * all)
        XCTAssertGreaterThan(t.avgEffectiveLR!, 100 * t.avgEffectiveLRUpdated!, "16 of \(n) elements dominate the mean")
        let none = try XCTUnwrap(try loadCheckpoint(path: try write(tinyTorchCheckpoint(v: 4), "seen.pt")).training)
        XCTAssertEqual(none.adamZeroStateElements, 0)
        XCTAssertNil(none.avgEffectiveLRUpdated)
    }

    func testLayerNormsWithoutWeightsScaleByOne() throws {
        let with = try loadCheckpoint(path: try write(tinyTorchCheckpoint(optimizer: false), "with.pt"))
        let without = try loadCheckpoint(path: try write(tinyTorchCheckpoint(optimizer: false, layerNorms: false), "without.pt"))
        XCTAssertTrue(with.weights.isStored(TensorID(.lnfw)))
        XCTAssertFalse(without.weights.isStored(TensorID(.lnfw)), "not a parameter")
        XCTAssertEqual(without.weights.parameterCount, with.weights.parameterCount - 3 * 8)
        let tokens: [Int32] = [1, 5, 2, 7]
        XCTAssertEqual(GPT2Model(weights: without.weights).logits(tokens: tokens), GPT2Model(weights: with.weights).logits(tokens: tokens))
        // Some LayerNorm weights but not all is a damaged file, not a choice.
        var p = PickleWriter()
        p.emptyDict(); p.mark()
        for (name, shape) in [("wte.weight", [8, 8]), ("wpe.weight", [4, 8]), ("h.0.ln_1.weight", [8]), ("h.0.attn.c_attn.weight", [24, 8]),
                              ("h.0.attn.c_proj.weight", [8, 8]), ("h.0.mlp.c_fc.weight", [32, 8]), ("h.0.mlp.c_proj.weight", [8, 32]),
                              ("lm_head.weight", [8, 8])] {
            p.string(name); p.tensor(key: "0", numel: 256, shape: shape)
        }
        p.setItems(); p.stop()
        let partial = try write(torchArchive(pickle: p.bytes, storages: [("0", f32Bytes([Float](repeating: 0.5, count: 256)))]), "partial.pt")
        assertFails(partial, containing: ["missing tensor(s) h.0.ln_2.weight, ln_f.weight"]) { _ = try loadCheckpoint(path: partial, heads: 2) }
    }

    func testStridedAndOffsetViewsOfOneStorage() throws {
        // Storage [1…6] as a [3, 2] matrix; "w" is its transpose (stride [1, 2]) from offset 0,
        // so w = [[1, 3, 5], [2, 4, 6]]; "v" is the 2 elements from offset 4.
        var p = PickleWriter()
        p.emptyDict(); p.mark()
        p.string("w"); p.tensor(key: "0", numel: 6, shape: [2, 3], stride: [1, 2])
        p.string("v"); p.tensor(key: "0", numel: 6, shape: [2], offset: 4)
        // A size-1 dimension may carry any stride (torch leaves them arbitrary): 2^62 here.
        p.string("u"); p.tensor(key: "0", numel: 6, shape: [2, 1, 3], stride: [1, 1 << 62, 2])
        p.setItems(); p.stop()
        let path = try write(torchArchive(pickle: p.bytes, storages: [("0", f32Bytes([1, 2, 3, 4, 5, 6]))]))
        let f = try TorchFile(path: path)
        XCTAssertEqual(try f.floats("w"), [1, 3, 5, 2, 4, 6])
        XCTAssertEqual(try f.floats("v"), [5, 6])
        XCTAssertEqual(try f.floats("u"), [1, 3, 5, 2, 4, 6])
        XCTAssertFalse(try f.sameView("w", "v"))
    }

    func testMaliciousGlobalIsRefusedByNameAndNothingRuns() throws {
        let marker = NSTemporaryDirectory() + "gpt2lab-torch-test-\(UUID().uuidString)"
        var p = PickleWriter()
        p.global("posix", "system"); p.mark(); p.string("touch " + marker); p.tuple(); p.reduce(); p.stop()
        let path = try write(torchArchive(pickle: p.bytes, storages: []))
        assertFails(path, containing: ["refusing to load", "posix.system", "not an allowed torch global"]) { _ = try loadCheckpoint(path: path) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
        for (module, name) in [("builtins", "eval"), ("numpy.core.multiarray", "_reconstruct"), ("torch", "load")] {
            var q = PickleWriter()
            q.global(module, name); q.stop()
            let bad = try write(torchArchive(pickle: q.bytes, storages: []), "\(name).pt")
            assertFails(bad, containing: ["\(module).\(name)"]) { _ = try TorchFile(path: bad) }
        }
    }

    func testMalformedPicklesGiveOneClearLine() throws {
        let cases: [(String, [String], (inout PickleWriter) -> Void)] = [
            ("unknown opcode", ["unsupported opcode 0xff"], { $0.raw([0xFF]) }),
            ("unset memo", ["memo GET of unset slot 7"], { $0.get(7) }),
            ("storage too short", ["declares 100 F32 elements but holds 24 bytes"], { $0.tensor(key: "0", numel: 100, shape: [100]) }),
            ("view past the storage", ["needs storage '0' to hold 7 elements; it holds 6"], { $0.tensor(key: "0", numel: 6, shape: [7]) }),
            ("offset past the storage", ["to hold 13 elements"], { $0.tensor(key: "0", numel: 6, shape: [2], offset: 11) }),
            ("huge numel", ["more than 2^40 elements"], { $0.tensor(key: "0", numel: 6, shape: [1 << 30, 1 << 30, 0], stride: [0, 0, 0]) }),
            ("stride overflow", ["overflows"], { $0.tensor(key: "0", numel: 6, shape: [3], stride: [1 << 62]) }),
            ("missing storage entry", ["storage entry 'archive/data/9' is missing"], { $0.tensor(key: "9", numel: 6, shape: [6]) }),
            ("not a persistent id", ["persistent id is not"], { $0.string("x"); $0.raw([0x51]) }),
            ("stack underflow", ["stack underflow"], { $0.raw([0x52]) }),
            ("deep nesting", ["nesting deeper than 10000 MARKs"], { for _ in 0..<10_001 { $0.mark() } }),
        ]
        for (what, words, body) in cases {
            let path = try write(archive(body), what.replacingOccurrences(of: " ", with: "-") + ".pt")
            assertFails(path, containing: words) { _ = try loadCheckpoint(path: path) }
        }
        // A pickle cut short, and one that never reaches STOP.
        var p = PickleWriter()
        p.emptyDict(); p.string("long string")
        let cut = try write(torchArchive(pickle: Array(p.bytes.dropLast(4)), storages: []), "cut.pt")
        assertFails(cut, containing: ["truncated"]) { _ = try loadCheckpoint(path: cut) }
        let noStop = try write(torchArchive(pickle: p.bytes, storages: []), "nostop.pt")
        assertFails(noStop, containing: ["without STOP"]) { _ = try loadCheckpoint(path: noStop) }
    }

    func testMalformedZipsGiveOneClearLine() throws {
        let good = tinyTorchCheckpoint(optimizer: false)
        let truncated = try write(Array(good.prefix(good.count - 30)), "truncated.pt")
        assertFails(truncated, containing: ["end-of-central-directory"]) { _ = try loadCheckpoint(path: truncated) }
        // The EOCD's central-directory offset pointed past the end.
        var badOffset = good
        badOffset.replaceSubrange((good.count - 6)..<(good.count - 2), with: [0xF0, 0xFF, 0xFF, 0x7F])
        let off = try write(badOffset, "bad-offset.pt")
        assertFails(off, containing: ["central directory", "runs past the end"]) { _ = try loadCheckpoint(path: off) }
        let deflated = try write(torchArchive(pickle: [0x80, 2, 0x7D, 0x2E], storages: [], method: 8), "deflated.pt")
        assertFails(deflated, containing: ["is compressed (method 8)"]) { _ = try loadCheckpoint(path: deflated) }
        let noPickle = try write(storedZip([("x/readme.txt", Array("hi".utf8))]), "nopkl.pt")
        assertFails(noPickle, containing: ["not a torch.save file"]) { _ = try loadCheckpoint(path: noPickle) }
        let legacy = try write([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E], "old.pt")
        assertFails(legacy, containing: ["legacy (torch < 1.6)", "re-save it with torch ≥ 1.6"]) { _ = try loadCheckpoint(path: legacy) }
        // The same from torch.save(…, _use_new_zipfile_serialization=False, pickle_protocol=3/4/5) (their first bytes):
        // protocol 4 and 5 put a FRAME before the magic number.
        let magic: [UInt8] = [0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
        for (proto, head) in [(3, [0x80, 0x03] as [UInt8]), (4, [0x80, 0x04, 0x95, 0x0D, 0, 0, 0, 0, 0, 0, 0]),
                                 (5, [0x80, 0x05, 0x95, 0x0D, 0, 0, 0, 0, 0, 0, 0])] {
            let path = try write(head + magic + [0x80, UInt8(proto)], "old\(proto).pt")
            assertFails(path, containing: ["legacy (torch < 1.6)"]) { _ = try loadCheckpoint(path: path) }
        }
    }

    func testTopLevelWithoutStateDictNamesItsKeys() throws {
        var p = PickleWriter()
        p.emptyDict(); p.mark(); p.string("epoch"); p.int(3); p.string("note"); p.string("hi"); p.setItems(); p.stop()
        let path = try write(torchArchive(pickle: p.bytes, storages: []))
        assertFails(path, containing: ["no state dict of tensors", "epoch, note"]) { _ = try loadCheckpoint(path: path) }
    }

    func testModelArgsContradictingTheShapesIsAnError() throws {
        // Rewrite n_embd 8 → 9 in the pickle (BINUNICODE "n_embd", then BININT1 8).
        var bytes = tinyTorchCheckpoint(optimizer: false)
        let key = Array("n_embd".utf8) + [0x4B, 8]
        let at = try XCTUnwrap((0...(bytes.count - key.count)).first { Array(bytes[$0..<($0 + key.count)]) == key })
        bytes[at + key.count - 1] = 9
        let path = try write(bytes)
        assertFails(path, containing: ["model_args says n_embd = 9", "shapes give 8"]) { _ = try loadCheckpoint(path: path) }
    }

    func testFormatIsDetectedFromContentNotName() throws {
        let path = try write(tinyTorchCheckpoint(optimizer: false), "weights.safetensors")
        XCTAssertEqual(try detectFormat(path: path), .torch)
        XCTAssertEqual(try loadCheckpoint(path: path).format, .torch)
    }
}
