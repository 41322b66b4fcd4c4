import Checkpoints
import Engine
import Foundation
import TestSets
import TestFixtures
import XCTest
@testable import Analysis

/// Sharded scoring merges to the unsharded result bit for bit; bad merges are refused.
final class ShardTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/fixtures").standardized

    func load() throws -> (LoadedCheckpoint, TokenFile, String) {
        let ckpt = Self.fixtures.appendingPathComponent("runs/baseline/model.safetensors").path
        let bin = Self.fixtures.appendingPathComponent("data/test-persuasion.bin").path
        guard FileManager.default.fileExists(atPath: ckpt) else { throw missingFixtures("../shared/fixtures not found at \(Self.fixtures.path)") }
        return (try loadCheckpoint(path: ckpt), try loadTokenIDs(path: bin), bin)
    }

    func part(_ ck: LoadedCheckpoint, _ tokens: TokenFile, _ bin: String, k: Int, n: Int, stride: Int, batch: Int,
              threads: Int) throws -> ShardPart<ScoreShard> {
        let plan = try WindowPlan(tokenCount: tokens.ids.count, context: 256, stride: stride, maxTokens: 12_000)
        let range = shardRange(shard: k, of: n, units: plan.windows.count, batch: batch)
        let (r, scores, _) = try scoreCheckpoint(ck, tokens: tokens, testSetPath: bin, stride: stride, maxTokens: 12_000,
                                                 batch: batch, threads: threads, windowRange: range)
        let key = ScoreKey(checkpointHash: "c", testSetHash: "t", settings: ScoreSettings(context: 256, stride: stride, maxTokens: 12_000),
                           config: ck.config)
        return ShardPart(shard: k, shards: n, total: plan.windows.count, start: range.lowerBound,
                         body: ScoreShard(checkpoint: ck.path, layout: r.layout, testSet: bin, key: key, utf8Bytes: nil, softmaxRows: nil,
                                          vocabStored: nil, batch: batch, scores: scores, threads: threads, seconds: r.seconds))
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
                let decoded = try parts.map { (path: $0.path, part: try JSONDecoder().decode(ShardPart<ScoreShard>.self, from: JSONEncoder().encode($0.part))) }
                let merged = try mergeShards(decoded.reversed())
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
        func refuses(_ parts: [ShardPart<ScoreShard>], _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try mergeShards(parts.enumerated().map { (path: "p\($0.offset).json", part: $0.element) }),
                                 file: file, line: line) { e in
                XCTAssertTrue((e as? LocalizedError)?.errorDescription?.contains(needle) ?? false, "\(e)", file: file, line: line)
            }
        }
        refuses([p0], "missing shard(s) 1")
        // The first ten missing are named and the rest counted (a large N listed every one, megabytes long).
        var a = p0, b = p1
        (a.shard, a.shards, b.shard, b.shards) = (3, 1000, 11, 1000)
        XCTAssertThrowsError(try mergeShards([("a", a), ("b", b)])) { e in
            XCTAssertEqual((e as? LocalizedError)?.errorDescription, "merge: missing shard(s) 0, 1, 2, 4, 5, 6, 7, 8, 9, 10 and 988 more of 1000")
        }
        refuses([p0, p0, p1], "given twice")
        var other = p1; other.body.key.checkpointHash = "different"
        refuses([p0, other], "checkpoint")
        other = p1; other.body.key.testSetHash = "different"
        refuses([p0, other], "test set")
        other = p1; other.body.key.stride = 128
        refuses([p0, other], "stride (128 vs 256)")
        other = p1; other.body.key.softmaxRows = 50304
        refuses([p0, other], "vocabulary rows softmaxed (--full-vocab) (50304 vs 50257)")
        XCTAssertNoThrow(try mergeShards([("a", p1), ("b", p0)]))
    }

    func testShardRangesCoverEveryWindowOnce() {
        for windows in [0, 1, 5, 450, 899] { for batch in [1, 3, 8] { for n in [1, 2, 3, 7, 20] {
            let ranges = (0..<n).map { shardRange(shard: $0, of: n, units: windows, batch: batch) }
            XCTAssertEqual(ranges.map(\.count).reduce(0, +), windows)
            for k in 1..<n { XCTAssertEqual(ranges[k].lowerBound, ranges[k - 1].upperBound) }
            for r in ranges where !r.isEmpty { XCTAssertEqual(r.lowerBound % batch, 0) }
            for k in 0..<n {   // the plain formula where it cannot overflow
                let batches = (windows + batch - 1) / batch
                XCTAssertEqual(ranges[k], min(windows, batches * k / n * batch)..<min(windows, batches * (k + 1) / n * batch))
            }
        } } }
        // The largest N, and units or batches near Int.max, stay in range (batches·k overflowed and trapped).
        let n = maxShards
        XCTAssertEqual(shardRange(shard: n - 1, of: n, units: 450), 449..<450)
        XCTAssertEqual(shardRange(shard: n - 2, of: n, units: 450), 449..<449)
        XCTAssertEqual(shardRange(shard: n - 1, of: n, units: Int.max / 2, batch: 7).upperBound, Int.max / 2)
        XCTAssertEqual(shardRange(shard: 0, of: 2, units: 5, batch: Int.max), 0..<0)
        XCTAssertEqual(shardRange(shard: 1, of: 2, units: 5, batch: Int.max), 0..<5)
    }



    /// Every stored field of the score key takes part in the cache file name and in merge's check,
    /// and is named: a setting added to ScoreKey is covered without anyone remembering to.
    func testEveryScoreKeyFieldChangesTheFileNameAndIsNamed() throws {
        let config = GPT2Config(vocabSize: 50257, contextLength: 256, nEmbd: 64, nLayer: 4, nHead: 4)
        let base = ScoreKey(checkpointHash: "c", testSetHash: "t", settings: ScoreSettings(context: 256, stride: 256), config: config)
        let changes: [String: (inout ScoreKey) -> Void] = [
            "checkpointHash": { $0.checkpointHash = "d" }, "testSetHash": { $0.testSetHash = "u" },
            "context": { $0.context = 128 }, "stride": { $0.stride = 128 }, "skip": { $0.skip = 5 },
            "maxTokens": { $0.maxTokens = 10 }, "engine": { $0.engine = "other" }, "softmaxRows": { $0.softmaxRows = 50304 },
            "precision": { $0.precision = "bf16" }, "heads": { $0.heads = 2 },
            "device": { $0.device = "cuda NVIDIA H200 sm_9.0" },
        ]
        let fields = base.fieldLabels
        XCTAssertEqual(Set(fields), Set(changes.keys), "a ScoreKey field without a case here (add one)")
        XCTAssertEqual(Set(fields), Set(ScoreKey.fieldNames.keys), "a ScoreKey field without a name for merge's message")
        for (field, change) in changes {
            var k = base
            change(&k)
            XCTAssertNotEqual(k.fileName, base.fileName, field)
            XCTAssertEqual(k.differences(from: base).count, 1, field)
            XCTAssertTrue(k.differences(from: base)[0].hasPrefix(ScoreKey.fieldNames[field]!), "\(k.differences(from: base))")
        }
        XCTAssertEqual(base.differences(from: base), [])
        XCTAssertEqual(base.heads, 4, "heads come from the model's config")
    }

    func testVerdicts() {
        // With a band: inside is noise, outside is better/worse by sign; a seed-group member of the
        // baseline's group is noise by definition.
        XCTAssertEqual(runVerdict(delta: 0.01, deltaCI: [0.005, 0.015], band: 0.03, sameSeedGroupAsBaseline: false).verdict, .inTheNoise)
        XCTAssertEqual(runVerdict(delta: 0.43, deltaCI: [0.4, 0.46], band: 0.03, sameSeedGroupAsBaseline: false).verdict, .worse)
        XCTAssertEqual(runVerdict(delta: 0.43, deltaCI: [0.4, 0.46], band: 0.03, sameSeedGroupAsBaseline: false).inNoise, false)
        XCTAssertEqual(runVerdict(delta: -0.43, deltaCI: [-0.46, -0.4], band: 0.03, sameSeedGroupAsBaseline: false).verdict, .better)
        // Outside the band but the paired interval holds 0: not a believable Δ.
        XCTAssertEqual(runVerdict(delta: -0.008, deltaCI: [-0.020, 0.004], band: 0.005, sameSeedGroupAsBaseline: false).verdict, .unclear)
        XCTAssertEqual(runVerdict(delta: -0.008, deltaCI: [-0.020, 0.004], band: 0.005, sameSeedGroupAsBaseline: false).inNoise, false)
        XCTAssertEqual(runVerdict(delta: 0.0300000001, deltaCI: nil, band: 0.03, sameSeedGroupAsBaseline: true).verdict, .inTheNoise)
        // Without a band: the paired interval decides, and no "in noise" is claimed.
        XCTAssertEqual(runVerdict(delta: 0.01, deltaCI: [-0.01, 0.03], band: nil, sameSeedGroupAsBaseline: false).verdict, .unclear)
        XCTAssertNil(runVerdict(delta: 0.01, deltaCI: [-0.01, 0.03], band: nil, sameSeedGroupAsBaseline: false).inNoise)
        // Steps from tokens: under one step, or a batch whose token count overflows, give none (a trap before).
        XCTAssertEqual(trainingSteps(tokens: 18_726_912, batchSize: 32, context: 256), 2286)
        XCTAssertNil(trainingSteps(tokens: 1000, batchSize: 32, context: 256))
        XCTAssertNil(trainingSteps(tokens: 1000, batchSize: Int.max, context: 256))
        // The same losses on every window (an identical checkpoint): no difference, with or without a band.
        XCTAssertEqual(runVerdict(delta: 0, deltaCI: [0, 0], band: nil, sameSeedGroupAsBaseline: false).verdict, .inTheNoise)
        XCTAssertNil(runVerdict(delta: 0, deltaCI: [0, 0], band: nil, sameSeedGroupAsBaseline: false).inNoise)
        XCTAssertEqual(runVerdict(delta: 0, deltaCI: [0, 0], band: 0.001, sameSeedGroupAsBaseline: false).inNoise, true)
        XCTAssertEqual(runVerdict(delta: 0.02, deltaCI: [0.01, 0.03], band: nil, sameSeedGroupAsBaseline: false).verdict, .worse)
        XCTAssertNil(runVerdict(delta: .nan, deltaCI: nil, band: 0.03, sameSeedGroupAsBaseline: false).verdict)
    }
}
