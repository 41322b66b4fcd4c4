@testable import Analysis
import Engine
import Foundation
import XCTest

/// The window bootstrap's block length against the `arch` package's `optimal_block_length` (circular), and the
/// block bootstrap's coverage on series whose true mean is known.
final class BlockLengthTests: XCTestCase {
    func testBlockLengthMatchesArch() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/block-length-arch.json")
        let top = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let series = try XCTUnwrap(top["series"] as? [[String: Any]])
        XCTAssertEqual(series.count, 12)
        for s in series {
            let name = try XCTUnwrap(s["name"] as? String), x = try XCTUnwrap(s["values"] as? [Double])
            let want = try XCTUnwrap(s["circular"] as? Double)
            let got = try XCTUnwrap(politisWhiteBlockLength(x), name)
            XCTAssertEqual(got, want, accuracy: 1e-9 * want, name)
            XCTAssertEqual(bootstrapBlockLength(x), Int(want.rounded(.up)), name)
        }
    }

    func testDegenerateSeriesTakeSingleWindows() {
        XCTAssertNil(politisWhiteBlockLength([]))
        XCTAssertNil(politisWhiteBlockLength([3]))
        XCTAssertNil(politisWhiteBlockLength([Double](repeating: 2, count: 50)), "no variance")
        XCTAssertNil(politisWhiteBlockLength([1, 2, .nan, 4, 5, 6, 7]))
        XCTAssertEqual(bootstrapBlockLength([Double](repeating: 2, count: 50)), 1)
        XCTAssertEqual(bootstrapBlockLength([1, .nan, 3]), 1)
        XCTAssertEqual(ratioBlockLength([5, 5, 5, 5], counts: [1, 1, 1, 1]), 1, "identical runs: every Δ is 0")
    }

    /// AR(1) series x_t = 0.6·x_{t−1} + e_t have mean 0 and a variance of their mean 4× what independent values
    /// would give: a bootstrap of single values covers 0 about two times in three. The block bootstrap's 95%
    /// interval covers it nearly as often as it says (Politis–White blocks run a little short at n = 400).
    func testBlockBootstrapCoversTheMeanOfDependentSeries() throws {
        var rng = SplitMix64(seed: 2024)
        func gaussian() -> Double {   // Box–Muller
            let u = (Double(rng.next() >> 11) + 0.5) / 9007199254740992, v = Double(rng.next() >> 11) / 9007199254740992
            return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
        }
        let trials = 300, n = 400
        var covered = 0, blocks = 0
        for t in 0..<trials {
            var x = [Double](repeating: 0, count: n)
            x[0] = gaussian() / (1 - 0.36).squareRoot()
            for i in 1..<n { x[i] = 0.6 * x[i - 1] + gaussian() }
            let ci = try bootstrapLossCI(nllSums: x, counts: [Int](repeating: 1, count: n), resamples: 400, seed: UInt64(t))
            if ci.contains(0) { covered += 1 }
            blocks += ratioBlockLength(x, counts: [Int](repeating: 1, count: n))
        }
        let coverage = Double(covered) / Double(trials)
        XCTAssertGreaterThan(coverage, 0.86, "block bootstrap coverage \(coverage)")
        XCTAssertGreaterThan(Double(blocks) / Double(trials), 5, "blocks this dependence needs")
    }
}
