import Analysis
import Checkpoints
import Foundation
import TestSets
import XCTest
@testable import Report

/// A report over runs saved the way nanoGPT and llm.c save them: a padded vocabulary (50304) is
/// accepted, and a nanoGPT checkpoint's own config gives AdamW's τ = 1/(ηλ) with no manifest typing.
final class FormatsReportTests: XCTestCase {
    func testReportAcceptsNanoGPTAndLlmCRunsAndReadsTheirHyperparameters() throws {
        let formats = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/fixtures/formats").standardized.path
        guard FileManager.default.fileExists(atPath: formats + "/tiny-ckpt.pt") else { throw XCTSkip("\(formats) not found") }
        let dir = NSTemporaryDirectory() + "gpt2lab-formats-report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let manifest = dir + "/m.toml"
        try """
        test_set = "\(formats)/../data/test-persuasion.bin"
        max_tokens = 2049
        baseline = "nanogpt"
        [[run]]
        name = "nanogpt"
        checkpoint = "\(formats)/tiny-ckpt.pt"
        [[run]]
        name = "llmc"
        checkpoint = "\(formats)/tinyb-llmc.bin"
        [[run]]
        name = "shards"
        checkpoint = "\(formats)/tinyb-sharded"
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let o = testReportOptions(cache: nil, bootstrap: 200)
        let (r, _) = try compareRuns(try loadManifest(path: manifest), options: o)
        let nano = try XCTUnwrap(r.runs.first { $0.name == "nanogpt" })
        XCTAssertEqual(nano.hyperparameters.lr, 1e-3)
        XCTAssertEqual(nano.hyperparameters.weightDecay, 0.1)
        XCTAssertEqual(nano.hyperparameters.steps, 6)
        XCTAssertEqual(try XCTUnwrap(nano.tauSteps), 1 / (1e-3 * 0.1), accuracy: 1e-6)
        XCTAssertEqual(nano.hyperparameters.source, "checkpoint")
        XCTAssertEqual(try XCTUnwrap(nano.hyperparameters.avgEffectiveLR), 21998.72827711653, accuracy: 0.03)
        // The same first 2048 targets scored directly over GPT-2's 50257 rows.
        let ck = try loadCheckpoint(path: formats + "/tiny-ckpt.pt")
        let direct = try scoreCheckpoint(ck, tokens: try loadTokenIDs(path: formats + "/../data/test-persuasion.bin"),
                                         testSetPath: "t", context: 64, maxTokens: 2049).0
        XCTAssertEqual(nano.loss, direct.loss, accuracy: 1e-9)
        let llmc = try XCTUnwrap(r.runs.first { $0.name == "llmc" }), shards = try XCTUnwrap(r.runs.first { $0.name == "shards" })
        XCTAssertEqual(llmc.loss, shards.loss, accuracy: 1e-6, "the same model as llm.c and as HF shards")
    }
}
