import Checkpoints
import Foundation
import TestSets
import XCTest
@testable import Analysis

/// Sharded scoring merges to the unsharded result bit for bit; bad merges are refused.
final class ShardTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/fixtures").standardized

    func load() throws -> (LoadedCheckpoint, TokenFile, String) {
        let ckpt = Self.fixtures.appendingPathComponent("runs/baseline/model.safetensors").path
        let bin = Self.fixtures.appendingPathComponent("data/test-persuasion.bin").path
        guard FileManager.default.fileExists(atPath: ckpt) else { throw XCTSkip("../shared/fixtures not found at \(Self.fixtures.path)") }
        return (try loadCheckpoint(path: ckpt), try loadTokenIDs(path: bin), bin)
    }

    func part(_ ck: LoadedCheckpoint, _ tokens: TokenFile, _ bin: String, k: Int, n: Int, stride: Int, batch: Int,
              threads: Int) throws -> ScorePart {
        let plan = try WindowPlan(tokenCount: tokens.ids.count, context: 256, stride: stride, maxTokens: 12_000)
        let range = shardWindowRange(shard: k, of: n, windows: plan.windows.count, batch: batch)
        let (r, scores, _) = try scoreCheckpoint(ck, tokens: tokens, testSetPath: bin, stride: stride, maxTokens: 12_000,
                                                 batch: batch, threads: threads, windowRange: range)
        let key = ScoreKey(checkpointHash: "c", testSetHash: "t", settings: ScoreSettings(context: 256, stride: stride, maxTokens: 12_000))
        return ScorePart(shard: k, shards: n, checkpoint: ck.path, layout: r.layout, testSet: bin, key: key,
                         utf8Bytes: nil, batch: batch, totalWindows: plan.windows.count, windowStart: range.lowerBound, scores: scores,
                         threads: threads, seconds: r.seconds)
    }

    func testMergeEqualsUnshardedBitForBit() throws {
        let (ck, tokens, bin) = try load()
        for stride in [256, 128] {
            let (whole, _, _) = try scoreCheckpoint(ck, tokens: tokens, testSetPath: bin, stride: stride, maxTokens: 12_000,
                                                    batch: 3, threads: 2)
            for n in [1, 2, 3, 7] {
                // Shards run with a different thread count than the whole run: results must not care.
                let parts = try (0..<n).map { k in (path: "part-\(k)", part: try part(ck, tokens, bin, k: k, n: n, stride: stride, batch: 3, threads: 1)) }
                // Round-trip through JSON as the CLI does.
                let decoded = try parts.map { (path: $0.path, part: try JSONDecoder().decode(ScorePart.self, from: JSONEncoder().encode($0.part))) }
                let merged = try mergeScoreParts(decoded.reversed())
                XCTAssertEqual(merged.loss.bitPattern, whole.loss.bitPattern, "n=\(n) stride=\(stride)")
                XCTAssertEqual(merged.windowLosses, whole.windowLosses)
                XCTAssertEqual(merged.tokensScored, whole.tokensScored)
                XCTAssertEqual(merged.windows, whole.windows)
            }
        }
    }

    func testBadMergesRefused() throws {
        let (ck, tokens, bin) = try load()
        let p0 = try part(ck, tokens, bin, k: 0, n: 2, stride: 256, batch: 8, threads: 2)
        let p1 = try part(ck, tokens, bin, k: 1, n: 2, stride: 256, batch: 8, threads: 2)
        func refuses(_ parts: [ScorePart], _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try mergeScoreParts(parts.enumerated().map { (path: "p\($0.offset).json", part: $0.element) }),
                                 file: file, line: line) { e in
                XCTAssertTrue((e as? LocalizedError)?.errorDescription?.contains(needle) ?? false, "\(e)", file: file, line: line)
            }
        }
        refuses([p0], "missing shard(s) 1")
        refuses([p0, p0, p1], "given twice")
        var other = p1; other.key.checkpointHash = "different"
        refuses([p0, other], "checkpoint")
        other = p1; other.key.testSetHash = "different"
        refuses([p0, other], "test set")
        other = p1; other.key.stride = 128
        refuses([p0, other], "settings")
        XCTAssertNoThrow(try mergeScoreParts([("a", p1), ("b", p0)]))
    }

    func testShardRangesCoverEveryWindowOnce() {
        for windows in [0, 1, 5, 450, 899] { for batch in [1, 3, 8] { for n in [1, 2, 3, 7, 20] {
            let ranges = (0..<n).map { shardWindowRange(shard: $0, of: n, windows: windows, batch: batch) }
            XCTAssertEqual(ranges.map(\.count).reduce(0, +), windows)
            for k in 1..<n { XCTAssertEqual(ranges[k].lowerBound, ranges[k - 1].upperBound) }
            for r in ranges where !r.isEmpty { XCTAssertEqual(r.lowerBound % batch, 0) }
        } } }
    }

}
