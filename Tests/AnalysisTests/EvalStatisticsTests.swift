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
        XCTAssertEqual(binomialStderr(3, 4)!, 0.25, accuracy: 1e-15)
        XCTAssertNil(binomialStderr(1, 1))
    }

    func testPairedAccuracy() throws {
        let a = [true, true, false, true, false, true]
        let b = [true, false, false, false, true, true]
        let p = try pairedAccuracy(a, b)
        XCTAssertEqual(p.aOnly, 2)
        XCTAssertEqual(p.bOnly, 1)
        XCTAssertEqual(p.delta.estimate, 1.0 / 6, accuracy: 1e-15)
        // Agresti–Min: cells + ½, n + 2 = 8: p₁₂ = 2.5/8, p₂₁ = 1.5/8, Δ̃ = 1/8, var = (4/8 − 1/64)/8 = 31/512.
        XCTAssertEqual(p.delta.lo, 0.125 - 1.9599639845400536 * (31.0 / 512).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(p.delta.hi, 0.125 + 1.9599639845400536 * (31.0 / 512).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(p.pValue, 1, accuracy: 1e-12)   // 2·P(X ≤ 1), X ~ Bin(3, ½) = 2·4/8
        XCTAssertThrowsError(try pairedAccuracy([true], [true, false]))
        XCTAssertThrowsError(try pairedAccuracy([], []))
    }

    /// The paired interval has width when no example is discordant, and covers about 95% of the time at small n and
    /// few discordant examples, where the plain normal interval (Δ ± z·s/√n) covers far less: simulated matched pairs,
    /// 4,000 data sets per setting, the true Δ = p₁₂ − p₂₁.
    func testPairedAccuracyCoversAtSmallCounts() throws {
        let same = try pairedAccuracy(Array(repeating: true, count: 15), Array(repeating: true, count: 15))
        XCTAssertEqual(same.delta.estimate, 0)
        XCTAssertGreaterThan(same.delta.hi - same.delta.lo, 0.1, "15 agreeing examples do not pin Δ to 0")
        var state: UInt64 = 12345
        func uniform() -> Double {   // SplitMix64
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9; z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
        for (n, p12, p21) in [(15, 0.05, 0.02), (30, 0.1, 0.05), (50, 0.03, 0.03), (100, 0.15, 0.1)] {
            var covered = 0, waldCovered = 0
            let trials = 4000, truth = p12 - p21
            for _ in 0..<trials {
                var a: [Bool] = [], b: [Bool] = []
                for _ in 0..<n {
                    let u = uniform()
                    // a right and b wrong with p12, the reverse with p21, else both alike (right).
                    a.append(u >= p12 + p21 || u < p12); b.append(u >= p12)
                }
                let p = try pairedAccuracy(a, b)
                if p.delta.lo <= truth && truth <= p.delta.hi { covered += 1 }
                let d = p.delta.estimate, nn = Double(n)
                let se = ((Double(p.aOnly + p.bOnly) - nn * d * d) / (nn - 1) / nn).squareRoot()
                if d - 1.96 * se <= truth && truth <= d + 1.96 * se { waldCovered += 1 }
            }
            let coverage = Double(covered) / Double(trials), wald = Double(waldCovered) / Double(trials)
            print("paired accuracy n=\(n) p12=\(p12) p21=\(p21): Agresti–Min coverage \(coverage), plain normal \(wald)")
            XCTAssertGreaterThan(coverage, 0.93, "n=\(n) p12=\(p12) p21=\(p21)")
            XCTAssertGreaterThan(coverage, wald, "n=\(n)")
        }
    }
}
