import Foundation
import XCTest

/// Inputs a careful user gets wrong or unusual, through the binary: a test set shorter than one
/// window, negative numbers, a manifest that is not a file, and the help's list of formats.
extension CLITests {
    /// HF's strided recipe scores a text shorter than the context as one short window; its last window of
    /// test-persuasion (87 tokens from 114,944, no context before it) is exactly that.
    func testShortTestSetIsScoredAsHFScoresItAndSaysSo() throws {
        let bin = try fixture("data/test-persuasion.bin"), ckpt = try fixture("runs/baseline/model.safetensors")
        let tests = try XCTUnwrap(try expected("baseline")["tests"] as? [String: Any])
        let windows = try XCTUnwrap((tests["test-persuasion"] as? [String: Any])?["per_window_loss"] as? [Double])
        XCTAssertEqual(windows.count, 450)
        let r = try gpt2lab(["score", ckpt, "--test-set", bin, "--skip", "114944", "--json"])
        XCTAssertEqual(try loss(r), windows[449], accuracy: 1e-5)
        XCTAssertEqual(try json(r.out)["tokens_scored"] as? Int, 86)
        XCTAssertEqual(r.err, "note: \(bin) has 87 tokens (after --skip/--max-tokens), fewer than one window (256); scored as one short window\n")
        let text = try gpt2lab(["score", ckpt, "--test-set", bin, "--skip", "114944"])
        XCTAssertTrue(text.out.contains("86 scored in 1 window (context 256"), text.out)
        let whole = try gpt2lab(["score", ckpt, "--test-set", bin, "--max-tokens", "4096"])
        XCTAssertEqual(whole.err, "", "a test set of whole windows has no note")
        XCTAssertTrue(whole.out.contains("scored in 16 windows"), whole.out)
    }

    /// `compare` on a test set shorter than one window: loss by position covers the positions scored, no NaN.
    func testCompareOnAShortTestSetPrintsNoNaN() throws {
        let dir = try scratchFolder("short-compare")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ids: [UInt16] = [464, 3290, 318, 257, 1332, 13]   // six GPT-2 ids
        try Data(ids.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }).write(to: URL(fileURLWithPath: dir + "/six.bin"))
        let a = try fixture("runs/baseline/model.safetensors"), b = try fixture("runs/stacked/model.safetensors")
        let r = try gpt2lab(["compare", a, b, "--test-set", dir + "/six.bin"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertFalse(r.out.lowercased().contains("nan"), r.out)
        XCTAssertTrue(r.out.contains("quarters of the 5 positions the short test set fills"), r.out)
        let j = try gpt2lab(["compare", a, b, "--test-set", dir + "/six.bin", "--json"])
        XCTAssertEqual(j.status, 0, j.err)
        let o = try json(j.out)
        XCTAssertEqual(o["position_counts"] as? [Int], [1, 1, 1, 1, 1])
        XCTAssertEqual((o["loss_by_position"] as? [String: Any])?["a"].map { ($0 as? [Any])?.count }, 5)
        XCTAssertFalse(j.out.lowercased().contains("nan"))
    }

    func testNegativeNumbersAreNamedNotMissing() throws {
        let ckpt = try fixture("runs/baseline/model.safetensors"), bin = try fixture("data/test-persuasion.bin")
        let cases: [[String]] = [
            ["score", ckpt, "--test-set", bin, "--threads", "-2"], ["doctor", "--threads", "-2"],
            ["report", "examples/interventions.toml", "--threads", "-2"],
            ["eval", ckpt, "--task", "lambada", "--data", "examples/evals/lambada.jsonl", "--threads", "-2"],
            ["hessian", ckpt, "--test-set", bin, "--threads", "-2"],
        ]
        for args in cases {
            let r = try gpt2lab(args)
            XCTAssertNotEqual(r.status, 0, args[0])
            XCTAssertTrue(r.err.contains("--threads must be a positive whole number (got -2)"), "\(args[0]): \(r.err)")
        }
        let skip = try gpt2lab(["score", ckpt, "--test-set", bin, "--skip", "-5"])
        XCTAssertTrue(skip.err.contains("--skip must be non-negative (got -5)"), skip.err)
    }

    func testManifestThatIsNotAFileSaysWhy() throws {
        let dir = try scratchFolder("manifest-kinds")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertEqual(mkfifo(dir + "/fifo.toml", 0o600), 0)
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/empty.toml", contents: Data()))
        let cases = [("/dev/null", "cannot read the manifest: is not a regular file (a character device)"),
                     (dir + "/fifo.toml", "cannot read the manifest: is not a regular file (a FIFO)"),
                     (dir, "cannot read the manifest: is a directory, expected a file"),
                     (dir + "/empty.toml", "the manifest is empty")]
        for (path, problem) in cases {
            let r = try gpt2lab(["report", path, "--out", dir + "/out"])
            XCTAssertEqual(r.status, 1)
            XCTAssertEqual(r.err, "gpt2lab: \(path): \(problem)\n")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"))
    }

    /// Inputs that are a folder or a FIFO say so, in every verb that reads one (they said "You don't have
    /// permission" or "error 256", or "no such file" for a manifest's folder).
    func testInputsThatAreNotFilesSayWhat() throws {
        let dir = try scratchFolder("input-kinds")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertEqual(mkfifo(dir + "/fifo.jsonl", 0o600), 0)
        let ckpt = Self.packageRoot.appendingPathComponent("examples/runs/baseline/model.safetensors").path
        for (args, line) in [(["eval", ckpt, "--task", "lambada", "--data", dir], "gpt2lab: \(dir): is a directory, expected a file\n"),
                             (["eval", ckpt, "--task", "lambada", "--data", dir + "/fifo.jsonl"],
                              "gpt2lab: \(dir)/fifo.jsonl: is not a regular file (a FIFO)\n"),
                             (["merge", dir, dir], "gpt2lab: \(dir): is a directory, expected a file\n")] {
            let r = try gpt2lab(args)
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertEqual(r.err, line, "\(args)")
        }
        let manifest = dir + "/m.toml"
        try "title = \"t\"\ntest_set = \"\(dir)\"\nbaseline = \"b\"\n[[run]]\nname = \"b\"\ncheckpoint = \"\(ckpt)\"\n"
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        let r = try gpt2lab(["report", manifest, "--out", dir + "/out"])
        XCTAssertTrue(r.err.contains("test_set '\(dir)' is a folder, expected a file"), r.err)
    }

    func testHelpListsTheFormatsRead() throws {
        for args in [["--help"], ["eval", "--help"], ["score", "--help"]] {
            let r = try gpt2lab(args)
            let flat = r.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            for format in ["safetensors", "torch zip", "llm.c model.bin", "HDF5", "save_pretrained folder"] {
                XCTAssertTrue(flat.contains(format), "\(args): \(format) missing in \(r.out)")
            }
            XCTAssertFalse(flat.contains("safetensors or HDF5"), "\(args)")
        }
    }
}

extension CLITests {
    /// compare with a --context longer than a checkpoint's is one `gpt2lab:` line and exit 1, as score's is
    /// (it was argument-parser's "Error:" with the top-level usage, exit 64).
    func testCompareContextBeyondACheckpointIsOneLine() throws {
        let a = Self.packageRoot.appendingPathComponent("examples/runs/baseline/model.safetensors").path
        let b = Self.packageRoot.appendingPathComponent("examples/runs/wd-0.01/model.safetensors").path
        let bin = Self.packageRoot.appendingPathComponent("examples/test-persuasion.bin").path
        guard FileManager.default.fileExists(atPath: a) else { throw XCTSkip("examples/runs missing") }
        let r = try gpt2lab(["compare", a, b, "--test-set", bin, "--context", "300"])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertEqual(r.err, "gpt2lab: \(a): context of 256 positions is shorter than --context 300\n")
    }

    /// A negative number for a numeric option reaches the option's own check (argument-parser read `-1` as an
    /// option and said "Missing value").
    func testNegativeNumbersReachTheirChecks() throws {
        let r = try gpt2lab(["sample", "model.safetensors", "--prompt", "x", "--temperature", "-1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("--temperature must be a positive number"), r.err)
        let h = try gpt2lab(["hessian", "model.safetensors", "--test-set", "t.bin", "--top", "-2"])
        XCTAssertTrue(h.err.contains("--top must be 0 or more"), h.err)
    }
}
