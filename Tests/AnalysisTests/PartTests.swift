import Engine
import Foundation
import Plumbing
import XCTest
@testable import Analysis

/// The one part envelope: a score part and an eval part written the same way, read by one reader that
/// dispatches on `kind`, merged exactly; parts of the earlier formats and mixed kinds refused in one line.
final class PartTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "gpt2lab-parts-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// Writes a part as the CLI's writer does (Plumbing's JSON encoder, atomically); returns its path.
    func write<B: PartBody>(_ part: ShardPart<B>, _ name: String) throws -> String {
        let path = dir + "/" + name
        try writeAtomically(try JSON.encoder().encode(part), to: path)
        return path
    }

    /// Windows 0..<5 of a test set, batch 2 (3 batches), in 2 shards: windows 0..<2 and 2..<5.
    func scoreParts() throws -> [String] {
        let config = GPT2Config(vocabSize: 50257, contextLength: 256, nEmbd: 64, nLayer: 4, nHead: 4)
        let key = ScoreKey(checkpointHash: "c", testSetHash: "t", settings: ScoreSettings(context: 256, stride: 256), config: config)
        let sums: [Double] = [1.5, 2.25, 3.0, 0.125, 7.0], counts = [255, 256, 256, 256, 100]
        return try [0..<2, 2..<5].enumerated().map { k, r in
            XCTAssertEqual(shardRange(shard: k, of: 2, units: 5, batch: 2), r)
            let body = ScoreShard(checkpoint: "ck", layout: "hf", testSet: "t.bin", key: key, utf8Bytes: nil, softmaxRows: nil,
                                  vocabStored: 50257, batch: 2, scores: WindowScores(nllSums: Array(sums[r]), counts: Array(counts[r])),
                                  threads: 1, seconds: 1)
            return try write(ShardPart(shard: k, shards: 2, total: 5, start: r.lowerBound, body: body), "score-\(k).json")
        }
    }

    /// Three LAMBADA examples in 2 shards: examples 0..<1 and 1..<3. The first shard's one example makes
    /// its acc_stderr undefined, written as null: the reader reads it back.
    func evalParts() throws -> [String] {
        let predictions = [EvalPrediction(hit: true, loglikelihood: -1.0, tokens: [1]), EvalPrediction(hit: false, loglikelihood: -3.0, tokens: [2]),
                           EvalPrediction(hit: true, loglikelihood: -2.0, tokens: [3, 4])]
        return try [0..<1, 1..<3].enumerated().map { k, r in
            XCTAssertEqual(shardRange(shard: k, of: 2, units: 3), r)
            let report = EvalReport(task: .lambada, recipe: "lm-eval", data: "l.jsonl", checkpoint: "ck", layout: "hf", context: 256,
                                    seconds: 2, predictions: Array(predictions[r]))
            let body = EvalShard(checkpointHash: "c", dataHash: "d", heads: 4, report: report)
            return try write(ShardPart(shard: k, shards: 2, total: 3, start: r.lowerBound, body: body), "eval-\(k).json")
        }
    }

    func merge(_ paths: [String]) throws -> MergedParts {
        try mergeParts(try paths.map { (path: $0, part: try readPart(path: $0)) })
    }

    func testScoreAndEvalPartsShareTheEnvelopeAndMergeExactly() throws {
        let score = try scoreParts(), eval = try evalParts()
        // The envelope on disk: the same fields for both kinds, the body under the kind's name.
        for (path, kind) in [(score[1], "score"), (eval[1], "eval")] {
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            XCTAssertEqual(Set(json.keys), ["format", "version", "kind", "shard", "shards", "total", "start", "check", kind])
            XCTAssertEqual(json["format"] as? String, "gpt2lab-part")
            XCTAssertEqual(json["version"] as? Int, 2)
            XCTAssertEqual(json["kind"] as? String, kind)
            XCTAssertEqual(try partFileFormat(path: path), "gpt2lab-part")
        }
        guard case let .score(s) = try merge(score.reversed()) else { return XCTFail("not a score") }
        // Σ NLL / Σ tokens of the five windows, added in window order: 13.875 / 1123.
        XCTAssertEqual(s.loss, 13.875 / 1123)
        XCTAssertEqual(s.tokensScored, 1123)
        XCTAssertEqual(s.windows, 5)
        XCTAssertEqual(s.seconds, 2)
        guard case let .eval(e) = try merge(eval.reversed()) else { return XCTFail("not an eval") }
        XCTAssertEqual(e.examples, 3)
        XCTAssertEqual(e.acc, 2.0 / 3.0)
        XCTAssertEqual(e.ppl, exp(2.0), "exp(−mean(−1, −3, −2))")
        XCTAssertEqual(e.predictions.map(\.tokens), [[1], [2], [3, 4]])
        XCTAssertEqual(e.seconds, 4)
    }

    func testMergeRefusesMixedKindsAndNamesDifferences() throws {
        let score = try scoreParts(), eval = try evalParts()
        XCTAssertThrowsError(try merge([score[0], eval[1]])) { e in
            XCTAssertEqual((e as? LocalizedError)?.errorDescription,
                           "\(eval[1]): not a score part like \(score[0]); parts of different kinds cannot be merged")
        }
        XCTAssertThrowsError(try merge([score[0]])) { e in
            XCTAssertEqual((e as? LocalizedError)?.errorDescription, "merge: missing shard(s) 1 of 2")
        }
        // The envelope's split is compared like the key: the unit count is named by kind.
        var part = try JSON.decoder().decode(ShardPart<EvalShard>.self, from: Data(contentsOf: URL(fileURLWithPath: eval[1])))
        part.total = 4
        let changed = try write(part, "eval-1-of-4.json")
        XCTAssertThrowsError(try merge([eval[0], changed])) { e in
            XCTAssertEqual((e as? LocalizedError)?.errorDescription,
                           "\(changed): differs from \(eval[0]) in example count (--limit) (4 vs 3); parts of different evals cannot be merged")
        }
    }

    /// Parts of the formats before the envelope are refused with one line saying to run the shard again.
    func testEarlierFormatsAreRefusedInOneLine() throws {
        let oldScore = dir + "/old-score.json", oldEval = dir + "/old-eval.json"
        try #"{"format": "gpt2lab-score-part", "version": 2, "shard": 0, "shards": 1, "window_nll_sums": [], "window_counts": []}"#
            .write(toFile: oldScore, atomically: true, encoding: .utf8)
        try #"{"format": "gpt2lab-eval-part", "version": 1, "shard": 0, "shards": 1, "total_examples": 0}"#
            .write(toFile: oldEval, atomically: true, encoding: .utf8)
        for (path, format) in [(oldScore, "gpt2lab-score-part"), (oldEval, "gpt2lab-eval-part")] {
            XCTAssertEqual(try partFileFormat(path: path), format, "still recognised as a part, so --out may replace it")
            XCTAssertThrowsError(try readPart(path: path)) { e in
                XCTAssertEqual((e as? LocalizedError)?.errorDescription,
                               "\(path): a part in an earlier gpt2lab format (\(format)); run its shard again with this gpt2lab")
            }
        }
        let cases = [(#"{"format": "gpt2lab-part", "version": 3, "kind": "score"}"#, "gpt2lab part version 3; this gpt2lab reads version 2"),
                     (#"{"format": "gpt2lab-part", "version": 1, "kind": "score"}"#, "earlier gpt2lab format (version 1, without a checksum); run its shard again"),
                     (#"{"format": "gpt2lab-part", "version": 2, "kind": "hessian"}"#, "part kind hessian is none of score, eval"),
                     (#"{"format": "gpt2lab-part", "version": 2, "kind": "score", "shard": 0}"#, "not a gpt2lab score part (missing key shards)"),
                     (#"{"format": "notes"}"#, "not a gpt2lab part file (format notes)"),
                     (#"[1, 2]"#, "not a gpt2lab part file")]
        for (text, needle) in cases {
            let path = dir + "/bad.json"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try readPart(path: path)) { e in
                let message = (e as? LocalizedError)?.errorDescription ?? ""
                XCTAssertTrue(message.hasPrefix(path + ": ") && message.contains(needle) && !message.contains("\n"), message)
            }
        }
    }

    /// A part changed after gpt2lab wrote it (a number, or its split relabelled) fails its checksum; a part whose
    /// numbers cannot come from a scoring run (no positions, more than a window's, a negative or infinite NLL sum,
    /// a prediction that is not its scores' argmax) is refused even with a valid checksum.
    func testChangedOrImplausiblePartsAreRefused() throws {
        let score = try scoreParts()
        func edit(_ path: String, _ pattern: String, _ replacement: String) throws -> String {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let changed = text.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
            XCTAssertNotEqual(changed, text, pattern)
            let out = path + ".edited.json"
            try changed.write(toFile: out, atomically: true, encoding: .utf8)
            return out
        }
        for edited in [try edit(score[1], "0\\.125", "0.25"), try edit(score[0], "\"shards\" ?: ?2", "\"shards\": 1")] {
            XCTAssertThrowsError(try readPart(path: edited)) { e in
                XCTAssertEqual((e as? LocalizedError)?.errorDescription, "\(edited): its numbers do not match the checksum gpt2lab wrote with them "
                               + "(the file was changed after it was written); run its shard again")
            }
        }
        let config = GPT2Config(vocabSize: 50257, contextLength: 256, nEmbd: 64, nLayer: 4, nHead: 4)
        let key = ScoreKey(checkpointHash: "c", testSetHash: "t", settings: ScoreSettings(context: 256, stride: 256), config: config)
        func part(_ sums: [Double], _ counts: [Int], bytes: Int? = nil, shard: Int = 0, shards: Int = 1) throws -> String {
            let body = ScoreShard(checkpoint: "ck", layout: "hf", testSet: "t.bin", key: key, utf8Bytes: bytes, softmaxRows: nil,
                                  vocabStored: 50257, batch: 1, scores: WindowScores(nllSums: sums, counts: counts), threads: 1, seconds: 1)
            return try write(ShardPart(shard: shard, shards: shards, total: shards, start: shard, body: body), "p-\(UUID().uuidString).json")
        }
        let implausible: [([Double], [Int], String)] = [
            ([1], [0], "window 0 scores 0 positions; a window scores 1 to 256"), ([1], [257], "window 0 scores 257 positions"),
            ([-0.5], [10], "window 0's NLL sum is -0.5"), ([.infinity], [10], "window 0's NLL sum is inf"), ([.nan], [10], "NLL sum is nan"),
        ]
        for (sums, counts, needle) in implausible {
            let path = try part(sums, counts)
            XCTAssertThrowsError(try readPart(path: path), needle) { e in
                let message = (e as? LocalizedError)?.errorDescription ?? ""
                XCTAssertTrue(message.hasPrefix(path + ": inconsistent part") && message.contains(needle), message)
            }
        }
        // Byte counts: parts that know the text's must agree; one that does not know it takes the other's, in any order.
        let a = try part([1], [10], bytes: 40, shard: 0, shards: 2), b = try part([2], [10], bytes: nil, shard: 1, shards: 2)
        let c = try part([2], [10], bytes: 41, shard: 1, shards: 2)
        for order in [[a, b], [b, a]] {
            guard case let .score(s) = try merge(order) else { return XCTFail("not a score") }
            XCTAssertEqual(s.utf8Bytes, 40)
        }
        XCTAssertThrowsError(try merge([a, c])) { e in
            XCTAssertTrue((e as? LocalizedError)?.errorDescription?.contains("text bytes (41 vs 40)") == true, "\(e)")
        }
        // An eval prediction that is not the first argmax of its scores, or a label outside the choices.
        for (pred, label) in [(0, 1), (1, 4)] {
            let p = EvalPrediction(pred: pred, predNorm: 1, label: label, loglikelihoods: [-3, -1, -2, -4], hit: nil, loglikelihood: nil, tokens: [1])
            let report = EvalReport(task: .hellaswag, recipe: "llmc", data: "h.jsonl", checkpoint: "ck", layout: "hf", context: 256,
                                    seconds: 1, predictions: [p])
            let path = try write(ShardPart(shard: 0, shards: 1, total: 1, start: 0,
                                           body: EvalShard(checkpointHash: "c", dataHash: "d", heads: 4, report: report)), "e-\(pred).json")
            XCTAssertThrowsError(try readPart(path: path)) { e in
                XCTAssertTrue((e as? LocalizedError)?.errorDescription?.contains("prediction 0 does not follow from its scores") == true, "\(e)")
            }
        }
    }
}
