import Foundation
import XCTest
@testable import Analysis

/// The window bootstrap on fewer than `minBootstrapBlocks` whole blocks: a Student t interval on the replicates'
/// standard deviation and the t's p, against numpy, scipy and arch (tests/reference/few_blocks_reference.py,
/// which reproduces the SplitMix64 block resampling) on the fixtures' HF per-window losses.
final class FewBlocksTests: XCTestCase {
    func reference() throws -> [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/few-blocks.json")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func testTIntervalsAndPMatchScipy() throws {
        let ref = try reference()
        let count = try XCTUnwrap(ref["count_per_window"] as? Int), B = try XCTUnwrap(ref["resamples"] as? Int)
        for name in ["delta_wd_16", "delta_reference_24", "loss_baseline_16"] {
            let r = try XCTUnwrap(ref[name] as? [String: Any])
            let values = try XCTUnwrap(r["values"] as? [Double]), counts = [Int](repeating: count, count: values.count)
            XCTAssertEqual(ratioBlockLength(values, counts: counts), r["block"] as? Int, name)
            XCTAssertLessThan(try XCTUnwrap(r["whole_blocks"] as? Int), minBootstrapBlocks, name)
            let want = (lo: try XCTUnwrap(r["lo"] as? Double), hi: try XCTUnwrap(r["hi"] as? Double))
            let tolerance = 1e-9 * max(1, abs(want.lo), abs(want.hi))
            if name.hasPrefix("delta") {
                // A paired Δ's values are the differences already: pair them against zeros.
                let p = try pairedBootstrap(nllSumsA: values, nllSumsB: [Double](repeating: 0, count: values.count), counts: counts,
                                            resamples: B, seed: 0)
                XCTAssertEqual(p.delta.lo, want.lo, accuracy: tolerance, name)
                XCTAssertEqual(p.delta.hi, want.hi, accuracy: tolerance, name)
                XCTAssertEqual(p.pValue, try XCTUnwrap(r["p_value"] as? Double), accuracy: 1e-9, name)
            } else {
                let ci = try bootstrapLossCI(nllSums: values, counts: counts, resamples: B, seed: 0)
                XCTAssertEqual(ci.lo, want.lo, accuracy: tolerance, name)
                XCTAssertEqual(ci.hi, want.hi, accuracy: tolerance, name)
            }
        }
    }
}
