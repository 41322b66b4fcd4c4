import Foundation
import XCTest

/// A manifest's problems through the built binary: one line on stderr naming the manifest, the line and
/// the key, exit status 1, nothing written.
extension CLITests {
    func testBadManifestIsOneLineNamingFileLineAndKey() throws {
        let dir = try scratchFolder("manifest-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = Self.packageRoot.path
        func report(_ text: String) throws -> (status: Int32, out: String, err: String) {
            try text.write(toFile: dir + "/m.toml", atomically: true, encoding: .utf8)
            return try gpt2lab(["report", dir + "/m.toml", "--out", dir + "/out", "--cache", dir + "/cache"])
        }
        let good = """
        test_set = "\(root)/examples/test-persuasion.bin"
        baseline = "baseline"

        [[run]]
        name = "baseline"
        checkpoint = "\(root)/examples/runs/baseline/model.safetensors"
        """
        let unknown = try report(good + "\nlearning_rate = 1e-3\n")
        XCTAssertEqual(unknown.status, 1)
        XCTAssertEqual(unknown.err, "gpt2lab: \(dir)/m.toml:7: unknown key 'learning_rate' in [[run]] #1 (known: batch_size, checkpoint, "
                       + "description, heads, lr, name, schedule, scores, seed_group, stack_of, step_checkpoints, steps, tokens, weight_decay)\n")
        let range = try report(good.replacingOccurrences(of: "baseline = \"baseline\"", with: "baseline = \"baseline\"\nci = 0.01\nci_min_windows = 5"))
        XCTAssertEqual(range.status, 1)
        XCTAssertEqual(range.err, "gpt2lab: \(dir)/m.toml:4: key 'ci_min_windows' must be at least 10, got 5\n")
        XCTAssertEqual(unknown.out + range.out, "")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"))
    }
}

/// The report's Hessian options are checked before the manifest is read: eigenvalues and a density
/// need the Hessian's probes.
extension CLITests {
    func testReportHessianOptionsNeedProbes() throws {
        for extra in [["--hessian-top", "1"], ["--hessian-density", "2"], ["--hessian-steps"]] {
            let r = try gpt2lab(["report", "/nonexistent/m.toml"] + extra)
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.err.contains("--hessian-top, --hessian-density and --hessian-steps need --hessian-samples N"), r.err)
            XCTAssertEqual(r.out, "")
        }
        let steps = try gpt2lab(["report", "/nonexistent/m.toml", "--hessian-samples", "2", "--hessian-density", "1",
                                 "--hessian-density-steps", "0"])
        XCTAssertNotEqual(steps.status, 0)
        XCTAssertTrue(steps.err.contains("--hessian-density-steps must be at least 1"), steps.err)
    }
}
