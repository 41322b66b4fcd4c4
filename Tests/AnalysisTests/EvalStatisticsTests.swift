import XCTest
@testable import Analysis

/// Accuracy statistics against independent values: Python's `math.comb` (McNemar's exact binomial tail),
/// `statistics.NormalDist().inv_cdf`, and Newcombe (1998)'s table for Wilson's interval (8/10: 0.4902–0.9433).
final class EvalStatisticsTests: XCTestCase {
    func testMcNemarExact() {
        // 2·Σ_{i ≤ min(b,c)} C(b+c, i) / 2^(b+c), capped at 1 (Python, exact integers).
        XCTAssertEqual(mcNemarExactP(3, 10), 0.09228515625, accuracy: 1e-12)
        XCTAssertEqual(mcNemarExactP(10, 3), 0.09228515625, accuracy: 1e-12)
        XCTAssertEqual(mcNemarExactP(0, 5), 0.0625, accuracy: 1e-12)
        XCTAssertEqual(mcNemarExactP(7, 7), 1)
        XCTAssertEqual(mcNemarExactP(0, 0), 1)
        XCTAssertEqual(mcNemarExactP(40, 60), 0.05688793364098079, accuracy: 1e-10)
        XCTAssertEqual(mcNemarExactP(500, 430), 0.023608839292547198, accuracy: 1e-10)
    }

    func testNormalQuantile() {
        XCTAssertEqual(normalQuantile(0.975), 1.9599639845400536, accuracy: 1e-12)
        XCTAssertEqual(normalQuantile(0.01), -2.3263478740408408, accuracy: 1e-12)
        XCTAssertEqual(normalQuantile(0.995), 2.5758293035489, accuracy: 1e-12)
        XCTAssertEqual(normalQuantile(0.5), 0, accuracy: 1e-15)
    }

    func testWilson() {
        let w = wilsonInterval(8, 10)
        XCTAssertEqual(w.estimate, 0.8)
        XCTAssertEqual(w.lo, 0.4902, accuracy: 5e-5)
        XCTAssertEqual(w.hi, 0.9433, accuracy: 5e-5)
        XCTAssertEqual(wilsonInterval(0, 20).lo, 0)
        XCTAssertEqual(wilsonInterval(0, 20).hi, 0.1611251580528193, accuracy: 1e-12)
        // Published GPT-2 124M HellaSwag acc_norm (llm.c): 2955/10042 ± about 0.9 points.
        let h = wilsonInterval(2955, 10042)
        XCTAssertEqual(h.lo, 0.28543104147208753, accuracy: 1e-12)
        XCTAssertEqual(h.hi, 0.3032544840821785, accuracy: 1e-12)
    }

    /// lm-eval's stderr of a mean of 0/1 outcomes: sample std (n − 1) / √n, here by hand for 3 of 4 right.
    func testBinomialStderr() {
        // outcomes 1,1,1,0: mean .75, sample variance (3·.0625 + .5625)/3 = .25, stderr √(.25/4) = .25.
        XCTAssertEqual(binomialStderr(3, 4), 0.25, accuracy: 1e-15)
        XCTAssertTrue(binomialStderr(1, 1).isNaN)
    }

    func testPairedAccuracy() throws {
        let a = [true, true, false, true, false, true]
        let b = [true, false, false, false, true, true]
        let p = try pairedAccuracy(a, b)
        XCTAssertEqual(p.aOnly, 2)
        XCTAssertEqual(p.bOnly, 1)
        XCTAssertEqual(p.delta.estimate, 1.0 / 6, accuracy: 1e-15)
        // d = [0, 1, 0, 1, −1, 0]: sample std √((2·(5/6)² + (7/6)² + 3·(1/6)²)/5) = √(17/30); se = that / √6.
        let se = (17.0 / 30).squareRoot() / 6.0.squareRoot()
        XCTAssertEqual(p.delta.hi - p.delta.estimate, 1.9599639845400536 * se, accuracy: 1e-12)
        XCTAssertEqual(p.pValue, 1, accuracy: 1e-12)   // 2·P(X ≤ 1), X ~ Bin(3, ½) = 2·4/8
        XCTAssertThrowsError(try pairedAccuracy([true], [true, false]))
        XCTAssertThrowsError(try pairedAccuracy([], []))
    }
}
