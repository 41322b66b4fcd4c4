import Foundation
import XCTest

/// The one part format through the binary: `score --shard` and `eval --shard` write the same envelope,
/// `merge` reads either by its `kind` and refuses a mix; parts of the earlier formats are refused by
/// `merge` in one line, and `--out` may still replace them.
extension CLITests {
    func testScoreAndEvalPartsShareOneFormat() throws {
        let dir = try scratchFolder("parts")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ckpt = Self.packageRoot.appendingPathComponent("examples/runs/baseline/model.safetensors").path
        let bin = Self.packageRoot.appendingPathComponent("examples/test-persuasion.bin").path
        let lambada = Self.packageRoot.appendingPathComponent("examples/evals/lambada.jsonl").path
        // An old-format score part where the new one goes: --out replaces it (it is gpt2lab's).
        let old = #"{"format": "gpt2lab-score-part", "version": 2, "shard": 0, "shards": 1, "window_nll_sums": [], "window_counts": []}"#
        try old.write(toFile: dir + "/score-0.json", atomically: true, encoding: .utf8)
        try old.write(toFile: dir + "/old.json", atomically: true, encoding: .utf8)
        let score = try gpt2lab(["score", ckpt, "--test-set", bin, "--max-tokens", "3000", "--shard", "0/2", "--out", dir + "/score-0.json"])
        XCTAssertEqual(score.status, 0, score.err)
        XCTAssertEqual(score.err, "gpt2lab: shard 0/2: windows 0..<4 of 12 → \(dir)/score-0.json\n")
        let eval = try gpt2lab(["eval", ckpt, "--task", "lambada", "--data", lambada, "--limit", "3", "--shard", "1/2", "--out", dir + "/eval-1.json"])
        XCTAssertEqual(eval.status, 0, eval.err)
        XCTAssertEqual(eval.err, "gpt2lab: shard 1/2: examples 1..<3 of 3 → \(dir)/eval-1.json\n")
        for (name, kind, shard, start, total) in [("score-0", "score", 0, 0, 12), ("eval-1", "eval", 1, 1, 3)] {
            let part = try json(String(contentsOfFile: dir + "/\(name).json", encoding: .utf8))
            XCTAssertEqual(Set(part.keys), ["format", "version", "kind", "shard", "shards", "total", "start", "check", kind], name)
            XCTAssertEqual(part["format"] as? String, "gpt2lab-part")
            XCTAssertEqual(part["version"] as? Int, 2)
            XCTAssertEqual(part["kind"] as? String, kind)
            XCTAssertEqual([part["shard"], part["shards"], part["start"], part["total"]] as? [Int], [shard, 2, start, total], name)
        }
        let mixed = try gpt2lab(["merge", dir + "/score-0.json", dir + "/eval-1.json"])
        XCTAssertEqual(mixed.status, 1)
        XCTAssertEqual(mixed.err, "gpt2lab: \(dir)/eval-1.json: not a score part like \(dir)/score-0.json; parts of different kinds cannot be merged\n")
        let earlier = try gpt2lab(["merge", dir + "/old.json"])
        XCTAssertEqual(earlier.status, 1)
        XCTAssertEqual(earlier.err, "gpt2lab: \(dir)/old.json: a part in an earlier gpt2lab format (gpt2lab-score-part); run its shard again with this gpt2lab\n")
        XCTAssertEqual(mixed.out + earlier.out, "")
    }
}
