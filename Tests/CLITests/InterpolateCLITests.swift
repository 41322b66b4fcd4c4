import Foundation
import XCTest

/// `gpt2lab interpolate` end to end: its endpoints are `score`'s losses, its JSON and chart, and its refusal
/// of two checkpoints of different shapes.
extension CLITests {
    func testInterpolateJSONAndPlot() throws {
        let dir = try scratch("interpolate")
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try fixture("runs/baseline/model.safetensors"), b = try fixture("runs/wd-0.01/model.safetensors")
        let bin = try fixture("data/test-persuasion.bin")
        let plot = dir.appendingPathComponent("lmc.png").path
        let r = try gpt2lab(["interpolate", a, b, "--test-set", bin, "--max-tokens", "4096", "--points", "3", "--json", "--plot", plot])
        XCTAssertEqual(r.status, 0, r.err)
        let out = try json(r.out)
        let points = try XCTUnwrap(out["points"] as? [[String: Any]])
        XCTAssertEqual(points.compactMap { $0["t"] as? Double }, [0, 0.5, 1])
        for (i, path) in [(0, a), (2, b)] {
            let s = try gpt2lab(["score", path, "--test-set", bin, "--max-tokens", "4096", "--json"])
            XCTAssertEqual(s.status, 0, s.err)
            XCTAssertEqual(points[i]["loss"] as? Double, try json(s.out)["loss"] as? Double, path)
            XCTAssertEqual(points[i]["excess_over_line"] as? Double, 0)
        }
        let l0 = try XCTUnwrap(out["loss_a"] as? Double), l1 = try XCTUnwrap(out["loss_b"] as? Double)
        let mid = try XCTUnwrap(points[1]["loss"] as? Double)
        let barrier = try XCTUnwrap(out["barrier"] as? [String: Any])
        XCTAssertEqual(barrier["t"] as? Double, 0.5)
        XCTAssertEqual(try XCTUnwrap(barrier["excess"] as? Double), mid - (l0 + l1) / 2, accuracy: 1e-9)
        let ci = try XCTUnwrap(barrier["ci"] as? [Double])
        XCTAssertTrue(ci[0] <= (barrier["excess"] as! Double) && (barrier["excess"] as! Double) <= ci[1], "\(ci)")
        XCTAssertEqual(out["tokens_scored"] as? Int, 4095)
        let head = try XCTUnwrap(FileHandle(forReadingAtPath: plot)).readData(ofLength: 8)
        XCTAssertEqual(Array(head), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertTrue(r.err.contains("wrote \(plot)"), r.err)
        // The table names the barrier.
        let t = try gpt2lab(["interpolate", a, b, "--test-set", bin, "--max-tokens", "1024", "--points", "3"])
        XCTAssertEqual(t.status, 0, t.err)
        XCTAssertTrue(t.out.contains("barrier") && t.out.contains("t = 0.5"), t.out)
    }

    func testInterpolateRefusals() throws {
        let dir = try scratch("interpolate-refusals")
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try fixture("runs/baseline/model.safetensors"), ref = try fixture("runs/reference/model.safetensors")
        let bin = try fixture("data/test-persuasion.bin")
        let plot = dir.appendingPathComponent("lmc.png").path
        let r = try gpt2lab(["interpolate", a, ref, "--test-set", bin, "--max-tokens", "1024", "--plot", plot])
        assertOneLineError(r, contains: "width 64 vs 128")
        XCTAssertTrue(r.err.contains(a) && r.err.contains(ref), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: plot))
        assertOneLineError(try gpt2lab(["interpolate", a, dir.appendingPathComponent("missing.safetensors").path, "--test-set", bin]),
                           contains: "missing.safetensors")
        let mine = dir.appendingPathComponent("mine.png")
        try Data("not a chart".utf8).write(to: mine)
        assertOneLineError(try gpt2lab(["interpolate", a, a, "--test-set", bin, "--plot", mine.path]), contains: "not a chart written by gpt2lab")
        XCTAssertNotEqual(try gpt2lab(["interpolate", a, a, "--test-set", bin, "--points", "1"]).status, 0)
        XCTAssertNotEqual(try gpt2lab(["interpolate", a, a, "--test-set", bin, "--from", "1", "--to", "0"]).status, 0)
    }
}

extension CLITests {
    /// --init C: the paths from C to A and to B, on the same grid; their endpoints are `score`'s losses of C, A and B.
    func testInterpolateFromInit() throws {
        let a = try fixture("runs/baseline/model.safetensors"), b = try fixture("runs/wd-0.01/model.safetensors")
        let c = try fixture("runs/baseline/step-000571.safetensors"), bin = try fixture("data/test-persuasion.bin")
        let r = try gpt2lab(["interpolate", a, b, "--init", c, "--test-set", bin, "--max-tokens", "2048", "--points", "2", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let out = try json(r.out)
        let paths = try XCTUnwrap(out["from_init"] as? [[String: Any]])
        XCTAssertEqual(paths.count, 2)
        func score(_ p: String) throws -> Double? {
            try json(try gpt2lab(["score", p, "--test-set", bin, "--max-tokens", "2048", "--json"]).out)["loss"] as? Double
        }
        let lc = try score(c), la = try score(a), lb = try score(b)
        XCTAssertEqual(paths[0]["loss_a"] as? Double, lc); XCTAssertEqual(paths[0]["loss_b"] as? Double, la)
        XCTAssertEqual(paths[1]["loss_a"] as? Double, lc); XCTAssertEqual(paths[1]["loss_b"] as? Double, lb)
        XCTAssertNotEqual(lc, la)
        let ref = try fixture("runs/reference/model.safetensors")
        assertOneLineError(try gpt2lab(["interpolate", a, b, "--init", ref, "--test-set", bin, "--max-tokens", "1024"]),
                           contains: "width 64 vs 128")
    }
}
