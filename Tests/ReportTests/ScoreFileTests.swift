import Analysis
import Checkpoints
import Foundation
import TestSets
import TestFixtures
import XCTest
@testable import Report

/// A run's `scores` file stands in for scoring it only when it is that run's score, on the report's windows, in the
/// report's precision, read with the report's heads and vocabulary rows; anything else is refused before scoring.
extension ReportTests {
    func testScoreFileWithOtherSettingsIsRejectedBeforeScoring() throws {
        let scores = dir + "/s.json"
        try Data(#"{"checkpoint":"x","layout":"raschka","test_set":"t","loss":6,"perplexity":400,"tokens_scored":2048,"windows":16,"context":128,"stride":128,"skip":0,"batch":1,"threads":1,"seconds":1,"tokens_per_second":1,"total_nll":1,"window_nll_sums":[],"window_counts":[]}"#.utf8)
            .write(to: URL(fileURLWithPath: scores))
        let path = try manifest(["baseline", "wd-0.01"], extraRun: ["wd-0.01": "scores = \"\(scores)\""])
        var o = options()
        o.cacheDirectory = nil
        XCTAssertThrowsError(try compare(path, o)) { error in
            let message = (error as? LocalizedError)?.errorDescription ?? ""
            XCTAssertTrue(message.contains("run 'wd-0.01'") && message.contains("context 128"), message)
            XCTAssertTrue(message.hasPrefix(path), message)
        }
    }

    /// A score file in f32 does not stand in a bf16 report (nor the reverse): the other runs are scored in the
    /// report's precision, so the Δs would mix two precisions.
    func testScoreFileInAnotherPrecisionIsRejected() throws {
        let tokens = try loadTokenIDs(path: Self.root + "/examples/test-persuasion.bin")
        let ck = try loadCheckpoint(path: Self.root + "/examples/runs/wd-0.01/model.safetensors")
        var (f32, _, _) = try scoreCheckpoint(ck, tokens: tokens, testSetPath: "t", maxTokens: 2049)
        f32.checkpointHash = try checkpointContentHash(path: ck.path); f32.testSetHash = tokens.contentHash   // as `score --json` records them
        let scores = dir + "/s.json"
        try JSONEncoder().encode(f32).write(to: URL(fileURLWithPath: scores))
        let path = try manifest(["baseline", "wd-0.01"], extraRun: ["wd-0.01": "scores = \"\(scores)\""])
        var o = options()
        o.cacheDirectory = nil
        XCTAssertNoThrow(try compare(path, o), "f32 report: the file is used")
        o.precision = .bf16
        XCTAssertThrowsError(try compare(path, o)) { error in
            let message = (error as? LocalizedError)?.errorDescription ?? ""
            XCTAssertTrue(message.hasPrefix(path) && message.contains("run 'wd-0.01'") && message.contains("was scored in f32; the report scores in bf16"), message)
        }
    }

    /// A score file from another checkpoint, another test set (same length), or one that does not say which, does
    /// not stand in for a run: each is refused in one line before scoring.
    func testScoreFileOfAnotherCheckpointOrTestSetIsRejected() throws {
        let tokens = try loadTokenIDs(path: Self.root + "/examples/test-persuasion.bin")
        let ck = try loadCheckpoint(path: Self.root + "/examples/runs/baseline/model.safetensors")
        let (score, _, _) = try scoreCheckpoint(ck, tokens: tokens, testSetPath: "t", maxTokens: 2049)
        var o = options()
        o.cacheDirectory = nil
        let cases: [(String?, String?, String)] = [
            (try checkpointContentHash(path: ck.path), tokens.contentHash, "scored another checkpoint"),
            (try checkpointContentHash(path: Self.root + "/examples/runs/wd-0.01/model.safetensors"), "0123456789abcdef", "scored another test set"),
            (nil, nil, "does not record which checkpoint and test set it scored"),
        ]
        for (checkpointHash, testSetHash, needle) in cases {
            var s = score
            s.checkpointHash = checkpointHash; s.testSetHash = testSetHash
            let scores = dir + "/s.json"
            try JSONEncoder().encode(s).write(to: URL(fileURLWithPath: scores))
            // the baseline's score given as wd-0.01's
            let path = try manifest(["baseline", "wd-0.01"], extraRun: ["wd-0.01": "scores = \"\(scores)\""])
            XCTAssertThrowsError(try compare(path, o), needle) { error in
                let message = (error as? LocalizedError)?.errorDescription ?? ""
                XCTAssertTrue(message.hasPrefix(path) && message.contains("run 'wd-0.01'") && message.contains(needle), message)
            }
        }
    }

    /// A score read with other heads than the report reads the run with (a wrong `--heads`: another loss), or over
    /// other vocabulary rows, or one that does not say, does not stand in for the run.
    func testScoreFileReadWithOtherHeadsOrRowsIsRejected() throws {
        let tokens = try loadTokenIDs(path: Self.root + "/examples/test-persuasion.bin")
        // The run's weights without its meta.json, so that nothing states its heads: the manifest's `heads` does.
        let path = dir + "/model.safetensors"
        try FileManager.default.copyItem(atPath: Self.root + "/examples/runs/wd-0.01/model.safetensors", toPath: path)
        let right = try loadCheckpoint(path: path, heads: 4), wrong = try loadCheckpoint(path: path, heads: 2)
        var (score, _, _) = try scoreCheckpoint(wrong, tokens: tokens, testSetPath: "t", maxTokens: 2049)
        let loss = try scoreCheckpoint(right, tokens: tokens, testSetPath: "t", maxTokens: 2049).0.loss
        XCTAssertGreaterThan(abs(score.loss - loss), 1e-3, "the heads change the loss")
        score.checkpointHash = try checkpointContentHash(path: path); score.testSetHash = tokens.contentHash
        var o = options()
        o.cacheDirectory = nil
        var rows = score, unrecorded = score
        rows.heads = 4; rows.softmaxRows = 50304
        unrecorded.heads = nil
        for (s, needle) in [(score, "read the checkpoint with 2 heads; the report reads it with 4"),
                            (rows, "softmaxed over 50304 vocabulary rows; the report softmaxes over 50257"),
                            (unrecorded, "does not record the heads and vocabulary rows")] {
            let scores = dir + "/s.json"
            try JSONEncoder().encode(s).write(to: URL(fileURLWithPath: scores))
            let manifest = try manifest(["baseline", "wd-0.01"], extraRun: ["wd-0.01": "scores = \"\(scores)\"\nheads = 4"])
            let text = try String(contentsOfFile: manifest, encoding: .utf8)
            try text.replacingOccurrences(of: Self.root + "/examples/runs/wd-0.01/model.safetensors", with: path)
                .write(toFile: manifest, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try compare(manifest, o), needle) { error in
                let message = (error as? LocalizedError)?.errorDescription ?? ""
                XCTAssertTrue(message.hasPrefix(manifest) && message.contains("run 'wd-0.01'") && message.contains(needle), message)
            }
        }
    }
}
