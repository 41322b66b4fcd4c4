import Foundation
import XCTest

/// `score --shard K/N --out` + `merge --json` through the binary equals `score --json` to the last bit.
extension CLITests {
    func testShardedScoreMergesToUnshardedThroughTheCLI() throws {
        let ckpt = Self.packageRoot.appendingPathComponent("examples/runs/wd-0.01/model.safetensors").path
        let bin = Self.packageRoot.appendingPathComponent("examples/test-persuasion.bin").path
        guard FileManager.default.fileExists(atPath: ckpt) else { throw XCTSkip("examples/runs missing") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2lab-shards-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let common = ["--test-set", bin, "--max-tokens", "30000", "--stride", "128"]
        let whole = try gpt2lab(["score", ckpt] + common + ["--json"])
        XCTAssertEqual(whole.status, 0, whole.err)
        var parts: [String] = []
        for k in 0..<3 {
            let part = dir.appendingPathComponent("part-\(k).json").path
            let r = try gpt2lab(["score", ckpt] + common + ["--shard", "\(k)/3", "--out", part, "--threads", "1"])
            XCTAssertEqual(r.status, 0, r.err)
            parts.append(part)
        }
        let merged = try gpt2lab(["merge"] + parts.reversed() + ["--json"])
        XCTAssertEqual(merged.status, 0, merged.err)
        let a = try json(whole.out), b = try json(merged.out)
        // Same text for the loss: JSON prints Doubles round-trip exactly.
        XCTAssertEqual((a["loss"] as? NSNumber)?.doubleValue.bitPattern, (b["loss"] as? NSNumber)?.doubleValue.bitPattern)
        XCTAssertEqual(a["window_losses"] as? [Double], b["window_losses"] as? [Double])
        XCTAssertEqual(a["tokens_scored"] as? Int, b["tokens_scored"] as? Int)
        // All but `runtime` and `shape_source`: they describe the process that scored (its kernels, where it
        // found the heads), and parts may come from several machines; part files do not carry them.
        XCTAssertEqual(Set(a.keys).subtracting(["runtime", "shape_source"]), Set(b.keys))
        XCTAssertNotNil(a["runtime"] as? [String: Any])
        // A missing shard is refused with one line naming it.
        let bad = try gpt2lab(["merge", parts[0], parts[2]])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("missing shard(s) 1"), bad.err)
        XCTAssertEqual(bad.err.split(separator: "\n").count, 1)
        // --out writes what --json prints, replaces its own earlier result, and never a part or a foreign file.
        let out = dir.appendingPathComponent("merged.json").path
        for _ in 0..<2 {
            let r = try gpt2lab(["merge"] + parts + ["--out", out])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), merged.out)
        }
        let partBytes = try Data(contentsOf: URL(fileURLWithPath: parts[0]))
        let onPart = try gpt2lab(["merge"] + parts + ["--out", parts[0]])
        XCTAssertEqual(onPart.status, 1)
        XCTAssertEqual(onPart.err, "gpt2lab: \(parts[0]): is the part \(parts[0]) being merged; write the merged result to another file\n")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: parts[0])), partBytes)
        let notes = dir.appendingPathComponent("notes.json").path
        try Data("{\"mine\": 1}".utf8).write(to: URL(fileURLWithPath: notes))
        let onNotes = try gpt2lab(["merge"] + parts + ["--out", notes])
        XCTAssertEqual(onNotes.status, 1)
        XCTAssertTrue(onNotes.err.contains("is not a merged result written by gpt2lab"), onNotes.err)
        XCTAssertEqual(try String(contentsOfFile: notes, encoding: .utf8), "{\"mine\": 1}")
        try FileManager.default.removeItem(atPath: notes)
        try FileManager.default.removeItem(atPath: out)
        // No temporary files left beside the parts.
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(left, [])
    }

    /// bf16 parts merge to the unsharded bf16 score, and the merge says bf16 (it said f32 before).
    func testBF16PartsMergeAsBF16() throws {
        let ckpt = Self.packageRoot.appendingPathComponent("examples/runs/wd-0.01/model.safetensors").path
        let bin = Self.packageRoot.appendingPathComponent("examples/test-persuasion.bin").path
        guard FileManager.default.fileExists(atPath: ckpt) else { throw XCTSkip("examples/runs missing") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2lab-bf16-shards-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let common = ["--test-set", bin, "--max-tokens", "4096", "--precision", "bf16"]
        let whole = try gpt2lab(["score", ckpt] + common + ["--json"])
        XCTAssertEqual(whole.status, 0, whole.err)
        let parts = try (0..<2).map { k -> String in
            let part = dir.appendingPathComponent("part-\(k).json").path
            let r = try gpt2lab(["score", ckpt] + common + ["--shard", "\(k)/2", "--out", part])
            XCTAssertEqual(r.status, 0, r.err)
            return part
        }
        let merged = try gpt2lab(["merge"] + parts + ["--json"])
        XCTAssertEqual(merged.status, 0, merged.err)
        let a = try json(whole.out), b = try json(merged.out)
        XCTAssertEqual(a["precision"] as? String, "bf16")
        XCTAssertEqual(b["precision"] as? String, "bf16")
        XCTAssertEqual((a["loss"] as? NSNumber)?.doubleValue.bitPattern, (b["loss"] as? NSNumber)?.doubleValue.bitPattern)
        let text = try gpt2lab(["merge"] + parts)
        XCTAssertTrue(text.out.contains("precision   bf16"), text.out)
        XCTAssertFalse(text.out.contains("device"), "scored on the CPU: \(text.out)")
    }
}

extension CLITests {
    /// A shard index out of range is named with the rule, also when it is negative (argument-parser read
    /// `-1/3` as an option and said "Missing value for '--shard'"), in both verbs that shard.
    func testShardOutOfRangeIsNamed() throws {
        for verb in [["score", "model.safetensors", "--test-set", "t.bin"],
                     ["eval", "model.safetensors", "--task", "lambada", "--data", "l.jsonl"]] {
            for spec in ["-1/3", "3/3", "1/0", "x"] {
                let r = try gpt2lab(verb + ["--shard", spec, "--out", "part.json"])
                XCTAssertNotEqual(r.status, 0)
                XCTAssertTrue(r.err.contains("--shard takes K/N with 0 ≤ K < N, e.g. --shard 0/4; got \(spec)"),
                              "\(verb[0]) --shard \(spec): \(r.err)")
            }
        }
    }
}

extension CLITests {
    /// A --max-tokens at or past the end of the test set names the same windows as none: the same JSON (no
    /// max_tokens, bits per byte kept), and its shard parts merge with parts made without it (merge refused them).
    func testMaxTokensPastTheEndIsNoLimit() throws {
        let ckpt = Self.packageRoot.appendingPathComponent("examples/runs/wd-0.01/model.safetensors").path
        let text = try fixture("data/test-persuasion.txt")
        guard FileManager.default.fileExists(atPath: ckpt) else { throw XCTSkip("examples/runs missing") }
        let dir = try scratch("maxtokens-end")
        defer { try? FileManager.default.removeItem(at: dir) }
        let small = dir.appendingPathComponent("short.txt")
        try String(try String(contentsOfFile: text, encoding: .utf8).prefix(6000)).write(to: small, atomically: true, encoding: .utf8)
        let common = ["--test-set", small.path, "--stride", "128", "--context", "256"]
        let none = try gpt2lab(["score", ckpt] + common + ["--json"])
        XCTAssertEqual(none.status, 0, none.err)
        let a = try json(none.out)
        let n = try XCTUnwrap(a["tokens_scored"] as? Int) + 1
        XCTAssertNotNil(a["bits_per_byte"] as? Double)
        for limit in [n, n + 1, 1 << 40] {
            let r = try gpt2lab(["score", ckpt] + common + ["--max-tokens", "\(limit)", "--json"])
            XCTAssertEqual(r.status, 0, r.err)
            let b = try json(r.out)
            XCTAssertNil(b["max_tokens"], "--max-tokens \(limit) of \(n)")
            XCTAssertEqual(b["bits_per_byte"] as? Double, a["bits_per_byte"] as? Double)
            XCTAssertEqual((b["loss"] as? NSNumber)?.doubleValue.bitPattern, (a["loss"] as? NSNumber)?.doubleValue.bitPattern)
        }
        let cut = try json(try gpt2lab(["score", ckpt] + common + ["--max-tokens", "\(n - 1)", "--json"]).out)
        XCTAssertEqual(cut["max_tokens"] as? Int, n - 1)
        XCTAssertNil(cut["bits_per_byte"])
        let p0 = dir.appendingPathComponent("p0.json").path, p1 = dir.appendingPathComponent("p1.json").path
        XCTAssertEqual(try gpt2lab(["score", ckpt] + common + ["--max-tokens", "\(1 << 40)", "--shard", "0/2", "--out", p0]).status, 0)
        XCTAssertEqual(try gpt2lab(["score", ckpt] + common + ["--shard", "1/2", "--out", p1]).status, 0)
        let merged = try gpt2lab(["merge", p0, p1, "--json"])
        XCTAssertEqual(merged.status, 0, merged.err)
        XCTAssertEqual((try json(merged.out)["loss"] as? NSNumber)?.doubleValue.bitPattern,
                       (a["loss"] as? NSNumber)?.doubleValue.bitPattern)
    }
}
