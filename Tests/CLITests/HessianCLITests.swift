import Foundation
import XCTest

/// `gpt2lab hessian` end to end on a tiny llm.c model (batch 2 × 16): the JSON of --by-block, --top with
/// residuals and --density, the density chart, and the --plot checks made before any work.
extension CLITests {
    func testHessianBlocksEigenvaluesDensityAndPlot() throws {
        let dir = try scratch("hessian")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ckpt = try fixture("formats/tinyb-llmc.bin"), bin = try fixture("data/test-persuasion.bin")
        let png = dir.appendingPathComponent("esd.png").path
        let base = ["hessian", ckpt, "--test-set", bin, "--batch", "2", "--context", "16", "--samples", "4"]
        let r = try gpt2lab(base + ["--top", "2", "--eigen-steps", "12", "--by-block", "--density", "--density-vectors", "2",
                                    "--density-steps", "6", "--plot", png, "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let o = try json(r.out)
        let trace = try XCTUnwrap(o["trace"] as? Double)
        let blocks = try XCTUnwrap(o["by_block"] as? [String: [String: Double]])
        XCTAssertTrue(blocks.keys.contains("h.0.attn.qkv") && blocks.keys.contains("wte"), "\(blocks.keys)")
        XCTAssertEqual(blocks.values.reduce(0) { $0 + $1["trace"]! }, trace, accuracy: 1e-9 * abs(trace))
        XCTAssertTrue(blocks.values.allSatisfy { $0["stderr"]! > 0 })
        let eig = try XCTUnwrap(o["top_eigenvalues"] as? [Double])
        let res = try XCTUnwrap(o["eigen_residuals"] as? [Double])
        XCTAssertEqual(eig.count, 2); XCTAssertEqual(res.count, 2)
        XCTAssertGreaterThanOrEqual(abs(eig[0]), abs(eig[1]))
        XCTAssertTrue(res.allSatisfy { $0 >= 0 && $0.isFinite })
        let d = try XCTUnwrap(o["density"] as? [String: Any])
        let runs = try XCTUnwrap(d["runs"] as? [[String: [Double]]])
        XCTAssertEqual(runs.count, 2)
        for run in runs {
            XCTAssertEqual(run["nodes"]!.count, 6)
            XCTAssertEqual(run["weights"]!.reduce(0, +), 1, accuracy: 1e-6)
        }
        let grid = try XCTUnwrap(d["grid"] as? [Double]), density = try XCTUnwrap(d["density"] as? [Double])
        XCTAssertEqual(grid.count, 10_000); XCTAssertEqual(density.count, 10_000)
        XCTAssertEqual(density.reduce(0, +) * (grid[1] - grid[0]), 1, accuracy: 1e-9)
        XCTAssertEqual(d["hvps"] as? Int, 12)
        let head = try Data(contentsOf: URL(fileURLWithPath: png)).prefix(8)
        XCTAssertEqual(Array(head), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])

        // text mode: the block table
        let t = try gpt2lab(base + ["--top", "0", "--by-block"])
        XCTAssertEqual(t.status, 0, t.err)
        XCTAssertTrue(t.out.contains("h.0.mlp.fc"), t.out)

        // one probe has no standard error: JSON null (not the text "nan"), "—" in the table
        let one = ["hessian", ckpt, "--test-set", bin, "--batch", "1", "--context", "16", "--samples", "1", "--top", "0", "--by-block"]
        let j1 = try gpt2lab(one + ["--json"])
        XCTAssertEqual(j1.status, 0, j1.err)
        let o1 = try json(j1.out)
        XCTAssertTrue(o1["stderr"] is NSNull, "\(o1["stderr"] ?? "absent")")
        XCTAssertNotNil(o1["trace"] as? Double)
        XCTAssertTrue((o1["by_block"] as? [String: [String: Any]])?.values.allSatisfy { $0["stderr"] is NSNull } == true)
        XCTAssertTrue((o1["per_tensor_stderr"] as? [String: Any])?.values.allSatisfy { $0 is NSNull } == true)
        XCTAssertFalse(j1.out.contains("\"nan\""), j1.out)
        let t1 = try gpt2lab(one)
        XCTAssertEqual(t1.status, 0, t1.err)
        XCTAssertTrue(t1.out.contains("1 Rademacher probe: no standard error"), t1.out)
        XCTAssertFalse(t1.out.contains("nan"), t1.out)

        // --plot: needs --density and .png; a file that is not our chart is refused before any work
        for (args, message) in [(["--plot", png], "add --density"),
                                ([ "--density", "--plot", dir.appendingPathComponent("x.svg").path], "needs a .png")] {
            let bad = try gpt2lab(base + args)
            XCTAssertNotEqual(bad.status, 0); XCTAssertTrue(bad.err.contains(message), bad.err)
        }
        let mine = dir.appendingPathComponent("mine.png")
        try Data("not a chart".utf8).write(to: mine)
        let refused = try gpt2lab(base + ["--density", "--plot", mine.path])
        assertOneLineError(refused, contains: "not a chart written by gpt2lab")
        XCTAssertFalse(refused.err.contains("trace"), "refused before the work: \(refused.err)")
        XCTAssertEqual(try Data(contentsOf: mine), Data("not a chart".utf8))
    }
}

extension CLITests {
    /// More eigenvalues than Lanczos steps can give is refused before anything is loaded (it ran every step
    /// and ended with fewer values than asked and a residual warning).
    func testTopBeyondLanczosStepsIsRefusedFirst() throws {
        let h = try gpt2lab(["hessian", "missing.safetensors", "--test-set", "missing.bin", "--top", "11", "--eigen-steps", "10"])
        XCTAssertNotEqual(h.status, 0)
        XCTAssertTrue(h.err.contains("--top 11 needs at least as many Lanczos steps: 10 steps give at most 10 eigenvalues"), h.err)
        let r = try gpt2lab(["report", "missing.toml", "--hessian-samples", "2", "--hessian-top", "101"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("--hessian-top 101: the report runs 100 Lanczos steps"), r.err)
    }
}
