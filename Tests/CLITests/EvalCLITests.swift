import Foundation
import XCTest

/// `gpt2lab eval` through the binary: the JSON fields, `--shard` + `merge` equal to the whole run, and one-line
/// errors for malformed files.
extension CLITests {
    var evalFixtures: String { Self.packageRoot.appendingPathComponent("examples/evals").path }

    func testEvalJSONShardsAndMerge() throws {
        let ckpt = Self.packageRoot.appendingPathComponent("examples/runs/baseline/model.safetensors").path
        guard FileManager.default.fileExists(atPath: ckpt) else { throw XCTSkip("examples/runs missing") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2lab-evals-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let common = [ckpt, "--task", "hellaswag", "--recipe", "lm-eval", "--data", evalFixtures + "/hellaswag.jsonl", "--limit", "9"]
        let whole = try gpt2lab(["eval"] + common + ["--json"])
        XCTAssertEqual(whole.status, 0, whole.err)
        let a = try json(whole.out)
        for key in ["task", "recipe", "examples", "acc", "acc_stderr", "acc_norm", "acc_norm_stderr", "predictions", "checkpoint", "data"] {
            XCTAssertNotNil(a[key], "\(key) missing")
        }
        XCTAssertEqual(a["task"] as? String, "hellaswag")
        XCTAssertEqual(a["recipe"] as? String, "lm-eval")
        XCTAssertEqual(a["examples"] as? Int, 9)
        let first = try XCTUnwrap((a["predictions"] as? [[String: Any]])?.first)
        XCTAssertNotNil(first["pred"]); XCTAssertNotNil(first["pred_norm"])
        var parts: [String] = []
        for k in 0..<2 {
            let part = dir.appendingPathComponent("part-\(k).json").path
            let r = try gpt2lab(["eval"] + common + ["--shard", "\(k)/2", "--out", part])
            XCTAssertEqual(r.status, 0, r.err)
            parts.append(part)
        }
        let merged = try gpt2lab(["merge"] + parts.reversed() + ["--json"])
        XCTAssertEqual(merged.status, 0, merged.err)
        let b = try json(merged.out)
        XCTAssertEqual(a["acc"] as? Double, b["acc"] as? Double)
        XCTAssertEqual(a["acc_norm"] as? Double, b["acc_norm"] as? Double)
        XCTAssertEqual(try JSONSerialization.data(withJSONObject: a["predictions"]!, options: [.sortedKeys]),
                       try JSONSerialization.data(withJSONObject: b["predictions"]!, options: [.sortedKeys]))
        let bad = try gpt2lab(["merge", parts[1]])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("missing shard(s) 0"), bad.err)

        // LAMBADA's fields.
        let l = try gpt2lab(["eval", ckpt, "--task", "lambada", "--data", evalFixtures + "/lambada.jsonl", "--limit", "3", "--json"])
        XCTAssertEqual(l.status, 0, l.err)
        let lj = try json(l.out)
        XCTAssertNotNil(lj["ppl"]); XCTAssertNil(lj["acc_norm"])
        let lp = try XCTUnwrap((lj["predictions"] as? [[String: Any]])?.first)
        XCTAssertNotNil(lp["hit"]); XCTAssertNotNil(lp["loglikelihood"])
    }

    func testEvalMalformedFileIsOneLine() throws {
        let ckpt = Self.packageRoot.appendingPathComponent("examples/runs/baseline/model.safetensors").path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2lab-evals-bad-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("h.jsonl").path
        try "{\"ctx\": \"c\", \"endings\": [\"a\", \"b\"], \"label\": 0}\n\n{\"ctx\": \"c\", \"label\": 1}\n".write(toFile: file, atomically: true, encoding: .utf8)
        let r = try gpt2lab(["eval", ckpt, "--task", "hellaswag", "--data", file])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.err, "gpt2lab: \(file):3: missing \"endings\"\n")
        let v = try gpt2lab(["eval", ckpt, "--task", "lambada", "--recipe", "llmc", "--data", file])
        XCTAssertNotEqual(v.status, 0)
        XCTAssertTrue(v.err.contains("--recipe llmc is not one of LAMBADA's (lm-eval)"), v.err)
    }
}

extension CLITests {
    /// One example has no sample standard deviation: JSON says null (it said the string "nan") and the text
    /// says why there is no ± (it printed "± nan").
    func testEvalOfOneExampleHasNoStderr() throws {
        let ckpt = Self.packageRoot.appendingPathComponent("examples/runs/baseline/model.safetensors").path
        guard FileManager.default.fileExists(atPath: ckpt) else { throw XCTSkip("examples/runs missing") }
        let common = [ckpt, "--task", "hellaswag", "--data", evalFixtures + "/hellaswag.jsonl", "--limit", "1"]
        let j = try gpt2lab(["eval"] + common + ["--json"])
        XCTAssertEqual(j.status, 0, j.err)
        let a = try json(j.out)
        XCTAssertTrue(a["acc_stderr"] is NSNull, "\(String(describing: a["acc_stderr"]))")
        XCTAssertTrue(a["acc_norm_stderr"] is NSNull, "\(String(describing: a["acc_norm_stderr"]))")
        let t = try gpt2lab(["eval"] + common)
        XCTAssertEqual(t.status, 0, t.err)
        XCTAssertFalse(t.out.contains("nan"), t.out)
        XCTAssertTrue(t.out.contains("(no stderr: one example)"), t.out)
    }
}
