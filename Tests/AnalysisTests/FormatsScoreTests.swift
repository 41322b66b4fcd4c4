import Checkpoints
import Engine
import Foundation
import TestSets
import TestFixtures
import XCTest
@testable import Analysis

/// Every checkpoint in ../shared/fixtures/formats (torch.save zips, llm.c model.bin, HF shards)
/// scores within 2e-4 of HF transformers' loss from `formats/expected.json`: the vocabulary
/// cropped to GPT-2's 50257 rows by default, all stored rows with `.all` (`loss_full_vocab`).
final class FormatsScoreTests: XCTestCase {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/fixtures/formats").standardized.path
    static let tolerance = 2e-4

    func setUpData() throws -> (TokenFile, String, [String: [String: Any]]) {
        let bin = Self.dir + "/../data/test-persuasion.bin"
        guard FileManager.default.fileExists(atPath: Self.dir + "/expected.json") else {
            throw missingFixtures("../shared/fixtures/formats not found at \(Self.dir)")
        }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.dir + "/expected.json")))
        return (try loadTokenIDs(path: bin), bin, try XCTUnwrap(json as? [String: [String: Any]]))
    }

    func score(_ ck: LoadedCheckpoint, _ toks: TokenFile, _ bin: String) throws -> ScoreReport {
        try scoreCheckpoint(ck, tokens: toks, testSetPath: bin, threads: 2).0
    }

    func testEveryFormatScoresLikeHF() throws {
        let (toks, bin, expected) = try setUpData()
        let heads: [String: Int] = ["baseline-model.pth": 4, "stacked-pytorch_model.bin": 4]
        let files = ["tiny-ckpt.pt", "tinyb-llmc.bin", "tinyb-llmc-bf16.bin", "tinyb-sharded", "baseline-model.pth",
                     "stacked-pytorch_model.bin", "reference-ckpt.pt"]
        for f in files {
            let want = try XCTUnwrap(expected[f]?["loss"] as? Double, f)
            let ck = try loadCheckpoint(path: Self.dir + "/" + f, heads: heads[f])
            let r = try score(ck, toks, bin)
            XCTAssertEqual(r.loss, want, accuracy: Self.tolerance, f)
            XCTAssertEqual(ck.weights.config.contextLength, expected[f]?["context"] as? Int, f)
            XCTAssertEqual(ck.weights.config.nHead, expected[f]?["n_head"] as? Int, f)
            XCTAssertEqual(r.softmaxRows, 50257, "\(f): GPT-2's rows by default")
            if let stored = expected[f]?["vocab_stored"] as? Int { XCTAssertEqual(r.vocabStored, stored, f) }
            if let tied = expected[f]?["tied"] as? Bool { XCTAssertEqual(ck.weights.tied, tied, f) }
            print("\(f): loss \(r.loss) expected \(want) |diff| \(abs(r.loss - want))")
        }
        // The index file opens the same model as its folder.
        let viaIndex = try loadCheckpoint(path: Self.dir + "/tinyb-sharded/model.safetensors.index.json")
        XCTAssertEqual(try score(viaIndex, toks, bin).loss, try XCTUnwrap(expected["tinyb-sharded"]?["loss"] as? Double),
                       accuracy: Self.tolerance)
    }

    func testFullVocabularyScoresLikeNanoGPTsEval() throws {
        let (toks, bin, expected) = try setUpData()
        for f in ["tiny-ckpt.pt", "reference-ckpt.pt"] {
            let cropped = try XCTUnwrap(expected[f]?["loss"] as? Double), full = try XCTUnwrap(expected[f]?["loss_full_vocab"] as? Double)
            let ck = try loadCheckpoint(path: Self.dir + "/" + f, vocab: .all)
            XCTAssertNil(ck.weights.config.softmaxRows)
            let r = try score(ck, toks, bin)
            XCTAssertEqual(r.loss, full, accuracy: Self.tolerance, f)
            XCTAssertEqual(r.softmaxRows, 50304)
            print("\(f) full vocab: loss \(r.loss) expected \(full) |diff| \(abs(r.loss - full)) (cropped \(cropped))")
        }
    }

    /// The tolerance catches a single wrongly mapped matrix: the fixture's control loss (one
    /// matrix scrambled, computed by the fixture's author) is far outside it.
    func testOneWrongMatrixWouldBeCaught() throws {
        let (toks, bin, expected) = try setUpData()
        let want = try XCTUnwrap(expected["tiny-ckpt.pt"]?["loss"] as? Double)
        let control = try XCTUnwrap(expected["tiny-ckpt.pt"]?["control_one_matrix_scrambled_loss"] as? Double)
        XCTAssertGreaterThan(abs(control - want), 100 * Self.tolerance)
        // And mapping one matrix wrong here (c_proj of block 0 transposed) moves the loss as far.
        var weights = try loadCheckpoint(path: Self.dir + "/tiny-ckpt.pt").weights
        let id = TensorID(.attprojw, layer: 0), C = weights.config.nEmbd
        let w = weights.tensor(id)
        weights.set(id, (0..<(C * C)).map { w[($0 % C) * C + $0 / C] })
        let plan = try WindowPlan(tokenCount: toks.ids.count, context: 64, stride: 64, skip: 0, maxTokens: nil)
        let wrong = scoreWindows(model: GPT2Model(weights: weights, backend: CPUBackend(threads: 2)), tokens: toks.ids,
                                 windows: plan.windows, batch: 16)
        XCTAssertGreaterThan(abs(wrong.loss - want), 10 * Self.tolerance)
    }
}
