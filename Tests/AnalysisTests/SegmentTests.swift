@testable import Analysis
import TestSets
import XCTest

/// compare's "where B gains / loses most": a segment is listed under gains only when its mean Δ is below 0 and
/// under losses only when above, so few segments or identical models never list one segment as both.
final class SegmentTests: XCTestCase {
    /// One window of 9 tokens scores 8 positions; length 4 gives two segments.
    func segments(_ deltas: [Float], count: Int = 5) throws -> (gains: [Double], losses: [Double]) {
        let plan = try WindowPlan(tokenCount: 9, context: 8, stride: 8)
        let at = (0..<8).map { (window: 0, position: $0) }
        let r = rankedSegments(deltas, at, plan: plan, tokens: (0..<9).map { Int32($0) }, length: 4, count: count, tokenizer: nil)
        return (r.gains.map(\.deltaMean), r.losses.map(\.deltaMean))
    }

    func testSignsDecideTheLists() throws {
        // Means by hand: (−1−1−1−1)/4 = −1 and (−2+0+0+0)/4 = −0.5: both gains, most negative first; no loss.
        let both = try segments([-1, -1, -1, -1, -2, 0, 0, 0])
        XCTAssertEqual(both.gains, [-1, -0.5]); XCTAssertEqual(both.losses, [])
        // +0.25 and −0.25: one each.
        let mixed = try segments([1, 0, 0, 0, -1, 0, 0, 0])
        XCTAssertEqual(mixed.gains, [-0.25]); XCTAssertEqual(mixed.losses, [0.25])
        // Identical models: Δ = 0 everywhere, neither list.
        let same = try segments([Float](repeating: 0, count: 8))
        XCTAssertEqual(same.gains, []); XCTAssertEqual(same.losses, [])
        // count caps each list.
        XCTAssertEqual(try segments([-1, -1, -1, -1, -2, 0, 0, 0], count: 1).gains, [-1])
    }
}
