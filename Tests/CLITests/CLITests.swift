import Foundation
import TestFixtures
import XCTest

/// End-to-end: runs the built `gpt2lab` binary (it sits beside the test bundle in the build products
/// directory; the CLITests target depends on it so SwiftPM builds it first) and checks its output.
final class CLITests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func binary() throws -> URL {
        let candidates = [
            Bundle(for: CLITests.self).bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        ].map { $0.appendingPathComponent("gpt2lab") }
        guard let url = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("gpt2lab binary not found in \(candidates.map(\.path))")
        }
        return url
    }

    func fixture(_ relative: String) throws -> String {
        let path = Self.packageRoot.appendingPathComponent("../shared/fixtures/" + relative).standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: path) else { throw missingFixtures("fixture \(relative) not found") }
        return path
    }

    /// Runs gpt2lab with `args` (and `environment` added to this process's); returns exit status, stdout, stderr.
    func gpt2lab(_ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = try binary()
        p.arguments = args
        p.currentDirectoryURL = Self.packageRoot
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        // Read before waiting so a full pipe cannot block the child.
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func expected(_ run: String) throws -> [String: Any] {
        try json(String(contentsOfFile: try fixture("expected/\(run).json"), encoding: .utf8))
    }

    func testSampleGreedyJSONMatchesHF() throws {
        let ckpt = Self.packageRoot.appendingPathComponent("examples/runs/baseline/model.safetensors").path
        guard FileManager.default.fileExists(atPath: ckpt) else { throw XCTSkip("examples/runs/baseline missing") }
        let greedy = try XCTUnwrap(try expected("baseline")["greedy"] as? [String: Any])
        let r = try gpt2lab(["sample", ckpt, "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let o = try json(r.out)
        XCTAssertEqual(o["ids"] as? [Int], greedy["ids"] as? [Int])
        XCTAssertEqual(o["text"] as? String, greedy["text"] as? String)
        XCTAssertEqual(o["prompt_ids"] as? [Int], greedy["prompt_ids"] as? [Int])
        XCTAssertEqual(o["prompt"] as? String, "Every effort moves you")
        let samples = try XCTUnwrap(o["samples"] as? [[String: Any]])
        XCTAssertEqual(samples.count, 1)
        XCTAssertEqual(samples[0]["ids"] as? [Int], greedy["ids"] as? [Int])
        // HF's 20 greedy tokens hold no <|endoftext|>: the completion stopped at --max-tokens (20)
        XCTAssertFalse((greedy["ids"] as? [Int] ?? [50256]).contains(50256))
        XCTAssertEqual(samples[0]["stop"] as? String, "max_tokens")
        XCTAssertEqual(o["stop"] as? String, "max_tokens")

        let hotArgs = ["sample", ckpt, "--json", "--temperature", "0.9", "--top-k", "40", "--seed", "3", "--count", "2"]
        let hot = try gpt2lab(hotArgs)
        XCTAssertEqual(hot.status, 0, hot.err)
        let h = try json(hot.out)
        XCTAssertNil(h["ids"])                                                   // only with --count 1
        XCTAssertEqual((h["samples"] as? [[String: Any]])?.count, 2)
        let again = try json(try gpt2lab(hotArgs).out)                            // same seed, same texts
        XCTAssertEqual(again["samples"] as? NSArray, h["samples"] as? NSArray)
    }

    func testSampleValidation() throws {
        let ckpt = try fixture("runs/baseline/model.safetensors")
        for bad in [["--temperature", "0"], ["--top-k", "0"], ["--greedy", "--top-k", "3"], ["--prompt", ""],
                    ["--seed", "3"], ["--count", "2"], ["--top-k", "5", "--seed", "18446744073709551615", "--count", "2"]] {
            let r = try gpt2lab(["sample", ckpt] + bad)
            XCTAssertNotEqual(r.status, 0, "\(bad) accepted")
            XCTAssertFalse(r.err.isEmpty)
        }
        // --max-tokens past the context's room: the completions stop there, and stderr says so
        let long = try gpt2lab(["sample", ckpt, "--max-tokens", "300", "--json"])
        XCTAssertEqual(long.status, 0, long.err)
        XCTAssertTrue(long.err.contains("--max-tokens 300: after the 4-token prompt the model's context of 256 leaves room for 253 new tokens"), long.err)
        let cut = try json(long.out)
        XCTAssertEqual(cut["stop"] as? String, (cut["ids"] as? [Int])?.last == 50256 ? "end_of_text" : "context")
        if cut["stop"] as? String == "context" { XCTAssertEqual((cut["ids"] as? [Int])?.count, 253) }
    }

    func testTokenizeText() throws {
        let r = try gpt2lab(["tokenize", "--text", "Every effort moves you", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let o = try json(r.out)
        XCTAssertEqual(o["ids"] as? [Int], [6109, 3626, 6100, 345])
        XCTAssertEqual(o["count"] as? Int, 4)
        XCTAssertEqual(o["bytes"] as? Int, 22)
        let plain = try gpt2lab(["tokenize", "--text", "Every effort moves you"])
        XCTAssertEqual(plain.out, "6109 3626 6100 345\n")
        let dash = try gpt2lab(["tokenize", "--text", "-5 apples"])   // tiktoken gpt2: [12, 20, 22514]
        XCTAssertEqual(dash.out, "12 20 22514\n", dash.err)
    }

    /// Arguments that are not UTF-8 are refused (--text turned each bad byte into U+FFFD and encoded that, exit 0),
    /// as a file with the same bytes is; an unknown option is named even when no FILE is given.
    func testArgumentsMustBeUTF8() throws {
        let bin = try binary().path
        for args in ["tokenize --text $'ab\\xff\\xfe cd' --json", "sample x.safetensors --prompt $'caf\\xff'",
                     "tokenize --text $'line 1\\nline 2\\xff'"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-c", "'\(bin)' \(args)"]
            let err = Pipe(), out = Pipe()
            p.standardError = err; p.standardOutput = out
            try p.run()
            let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let o = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 64, args)
            XCTAssertTrue(o.isEmpty, args)
            XCTAssertTrue(e.hasPrefix("gpt2lab: argument ") && e.contains("is not valid UTF-8 at byte offset"), e)
            XCTAssertEqual(e.split(separator: "\n").count, 1, e)
        }
        let unknown = try gpt2lab(["tokenize", "--foo"])
        XCTAssertEqual(unknown.status, 64)
        XCTAssertTrue(unknown.err.contains("Unknown option '--foo'"), unknown.err)
        let neither = try gpt2lab(["tokenize"])
        XCTAssertEqual(neither.status, 64)
        XCTAssertTrue(neither.err.contains("give either a FILE or --text"), neither.err)
    }

    /// `--time` prints one JSON line with the keys bench/tokenizer/run.sh reads.
    func testTokenizeTimeFile() throws {
        let txt = try fixture("data/test-persuasion.txt")
        let r = try gpt2lab(["tokenize", "--time", txt])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out.filter { $0 == "\n" }.count, 1)
        let o = try json(r.out)
        XCTAssertEqual(o["bytes"] as? Int, 467_081)
        XCTAssertEqual(o["count"] as? Int, 115_031)
        XCTAssertNotNil(o["seconds_encode"] as? Double)
        XCTAssertNil(o["ids"])
    }

    /// Text and .bin give the same loss; bits per byte = total NLL / ln 2 / UTF-8 bytes, near HF's.
    /// One full scoring run (the slow part); the .txt/.bin equality uses the first 20,000 tokens.
    func testScoreTextReportsBitsPerByte() throws {
        let ckpt = try fixture("runs/baseline/model.safetensors")
        let txt = try fixture("data/test-persuasion.txt"), bin = try fixture("data/test-persuasion.bin")
        let head = ["--max-tokens", "20000", "--json"]
        let pt = try gpt2lab(["score", ckpt, "--test-set", txt] + head), pb = try gpt2lab(["score", ckpt, "--test-set", bin] + head)
        XCTAssertEqual(pt.status, 0, pt.err); XCTAssertEqual(pb.status, 0, pb.err)
        XCTAssertEqual(try json(pt.out)["loss"] as? Double, try json(pb.out)["loss"] as? Double)
        XCTAssertNil(try json(pb.out)["bits_per_byte"])

        let rt = try gpt2lab(["score", ckpt, "--test-set", txt, "--json"])
        XCTAssertEqual(rt.status, 0, rt.err)
        let t = try json(rt.out)
        let bpb = try XCTUnwrap(t["bits_per_byte"] as? Double)
        let tests = try XCTUnwrap((try expected("baseline")["tests"] as? [String: Any])?["test-persuasion"] as? [String: Any])
        let s256 = try XCTUnwrap(tests["stride_256"] as? [String: Any])
        let bytes = try XCTUnwrap(tests["utf8_bytes"] as? Int), tokens = try XCTUnwrap(s256["tokens_scored"] as? Int)
        let hfLoss = try XCTUnwrap(s256["loss"] as? Double)
        XCTAssertEqual(t["utf8_bytes"] as? Int, bytes)
        XCTAssertEqual(t["tokens_scored"] as? Int, tokens)
        let expectedBPB = hfLoss * Double(tokens) / log(2) / Double(bytes)
        XCTAssertEqual(bpb, expectedBPB, accuracy: 2e-4 / log(2) * Double(tokens) / Double(bytes))

        // Plain output names bits/byte too (a small text keeps this quick).
        let small = NSTemporaryDirectory() + "gpt2lab-cli-\(UUID().uuidString).txt"
        try Data("Anne Elliot was a very pretty girl, but her bloom had vanished early.<|endoftext|>".utf8)
            .write(to: URL(fileURLWithPath: small))
        defer { try? FileManager.default.removeItem(atPath: small) }
        let plain = try gpt2lab(["score", ckpt, "--test-set", small])
        XCTAssertEqual(plain.status, 0, plain.err)
        XCTAssertTrue(plain.out.contains("bits/byte"), plain.out)
    }

    /// `score --ci` on the project's own demo files: the JSON fields the issue names, an interval that
    /// holds the full-set loss (HF's 6.109597894587714 for this run), and fewer windows than the set.
    func testScoreSequentialJSON() throws {
        let r = try gpt2lab(["score", "examples/runs/baseline/model.safetensors", "--test-set", "examples/test-persuasion.bin",
                             "--ci", "0.05", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let j = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let ci = try XCTUnwrap(j["ci95"] as? [Double]), loss = try XCTUnwrap(j["loss"] as? Double)
        let scored = try XCTUnwrap(j["windows_scored"] as? Int), total = try XCTUnwrap(j["windows_total"] as? Int)
        XCTAssertEqual(total, 450); XCTAssertLessThan(scored, total)
        XCTAssertTrue(ci[0] <= loss && loss <= ci[1]); XCTAssertLessThanOrEqual((ci[1] - ci[0]) / 2, 0.05)
        XCTAssertTrue(ci[0] <= 6.109597894587714 && 6.109597894587714 <= ci[1], "\(ci) misses the full-set loss")
        let bad = try gpt2lab(["score", "examples/runs/baseline/model.safetensors", "--test-set", "examples/test-persuasion.bin", "--ci", "0"])
        XCTAssertNotEqual(bad.status, 0); XCTAssertTrue(bad.err.contains("--ci takes a positive half-width"), bad.err)
    }

    /// `score --precision bf16` on the demo run: the JSON says which precision produced the loss (the
    /// report and its runtime object), and the loss is HF's f32 loss within 1e-3.
    func testScorePrecisionBF16JSON() throws {
        let r = try gpt2lab(["score", "examples/runs/baseline/model.safetensors", "--test-set", "examples/test-persuasion.bin",
                             "--precision", "bf16", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let j = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        XCTAssertEqual(j["precision"] as? String, "bf16")
        XCTAssertEqual((j["runtime"] as? [String: Any])?["precision"] as? String, "bf16")
        XCTAssertEqual(try XCTUnwrap(j["loss"] as? Double), 6.109597894587714, accuracy: 1e-3)
        // The one-line stderr note appears exactly when this process took the widened (no-speedup) path.
        let widened = (j["runtime"] as? [String: Any])?["bf16_gemm"] as? String == "widened-sgemm"
        XCTAssertEqual(r.err.contains("note: no bf16 GEMM is faster on this CPU"), widened, r.err)
        let bad = try gpt2lab(["score", "examples/runs/baseline/model.safetensors", "--test-set", "examples/test-persuasion.bin",
                               "--precision", "fp8"])
        XCTAssertNotEqual(bad.status, 0); XCTAssertTrue(bad.err.contains("fp8"), bad.err)
    }

    /// `report --precision bf16`: results.json's settings and the page say bf16, bf16 scores get their own
    /// cache entries, and the losses are the f32 report's within 1e-3.
    func testReportPrecisionBF16() throws {
        let dir = NSTemporaryDirectory() + "gpt2lab-bf16-report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = Self.packageRoot.path
        try """
        title = "bf16"
        test_set = "\(root)/examples/test-persuasion.bin"
        max_tokens = 4097
        baseline = "baseline"
        [[run]]
        name = "baseline"
        checkpoint = "\(root)/examples/runs/baseline/model.safetensors"
        [[run]]
        name = "stacked"
        checkpoint = "\(root)/examples/runs/stacked/model.safetensors"
        """.write(toFile: dir + "/m.toml", atomically: true, encoding: .utf8)
        var results: [String: [String: Any]] = [:]
        for p in ["f32", "bf16"] {
            let r = try gpt2lab(["report", dir + "/m.toml", "--out", dir + "/" + p, "--cache", dir + "/cache",
                                 "--bootstrap", "100", "--precision", p])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertTrue(r.err.contains("baseline: scoring"), "\(p) must score, not reuse the other precision's cache: \(r.err)")
            results[p] = try json(String(contentsOfFile: dir + "/\(p)/results.json", encoding: .utf8))
        }
        XCTAssertEqual((results["bf16"]?["settings"] as? [String: Any])?["precision"] as? String, "bf16")
        XCTAssertEqual((results["f32"]?["settings"] as? [String: Any])?["precision"] as? String, "f32")
        let page = try String(contentsOfFile: dir + "/bf16/index.html", encoding: .utf8)
        XCTAssertTrue(page.contains("bf16 test loss"), "the page names the precision")
        let f32 = try XCTUnwrap(results["f32"]?["runs"] as? [[String: Any]]), bf16 = try XCTUnwrap(results["bf16"]?["runs"] as? [[String: Any]])
        XCTAssertEqual(f32.count, 2)
        for (a, b) in zip(f32, bf16) {
            XCTAssertEqual(try XCTUnwrap(b["loss"] as? Double), try XCTUnwrap(a["loss"] as? Double), accuracy: 1e-3, "\(a["name"] ?? "")")
        }
    }

    /// tokenize reads text as score does: a folder, or bytes that are not UTF-8, get one line naming the file.
    func testTokenizeRefusesAFolderAndBytesThatAreNotText() throws {
        let dir = NSTemporaryDirectory() + "gpt2lab-tokenize-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/d.txt", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data([0x68, 0x69, 0x20, 0xFF, 0x21]).write(to: URL(fileURLWithPath: dir + "/bad.txt"))
        for (file, message) in [(dir + "/d.txt", "is a directory, expected a file"), (dir + "/bad.txt", "invalid UTF-8 at byte offset 3")] {
            let r = try gpt2lab(["tokenize", file])
            XCTAssertEqual(r.status, 1, r.err)
            XCTAssertEqual(r.err, "gpt2lab: \(file): \(message)\n")
        }
    }

    func testMissingFileIsOneLineNamingIt() throws {
        let missing = "/nonexistent/gpt2lab-missing.safetensors"
        let cases: [(args: [String], file: String)] = [
            (["sample", missing], missing),
            (["tokenize", "/nonexistent/missing.txt"], "/nonexistent/missing.txt"),
            (["score", try fixture("runs/baseline/model.safetensors"), "--test-set", "/nonexistent/missing.txt"],
             "/nonexistent/missing.txt"),
        ]
        for (args, file) in cases {
            let r = try gpt2lab(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
            XCTAssertTrue(r.err.contains(file), r.err)
        }
    }
}
