import Analysis
import Checkpoints
import Engine
import Foundation
import TestSets
import TestFixtures
import XCTest

/// Sequential scoring (`score --ci`): the quantiles against scipy, the estimator's edge cases,
/// and, on a real fixture, how often its intervals contain the full-set value.
final class SequentialTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/fixtures")

    func testQuantilesMatchScipy() {
        // scipy.stats.norm.ppf / scipy.stats.t.ppf (scipy 1.17).
        XCTAssertEqual(normalQuantile(0.975), 1.959963984540054, accuracy: 1e-8)
        XCTAssertEqual(normalQuantile(0.001), -3.090232306167813, accuracy: 1e-8)
        XCTAssertEqual(normalQuantile(0.9), 1.2815515655446004, accuracy: 1e-8)
        let t: [(Double, Int, Double)] = [(0.975, 3, 3.1824463052837078), (0.975, 10, 2.228138851986274),
                                          (0.975, 29, 2.045229642132703), (0.975, 100, 1.9839715185235518),
                                          (0.995, 10, 3.16927267261695), (0.995, 29, 2.756385903670605),
                                          (0.9, 29, 1.311433647301551), (0.975, 1000, 1.9623390808264083),
                                          (0.975, 1, 12.706204736174694), (0.995, 1, 63.656741162871526), (0.975, 2, 4.302652729749462),
                                          (0.995, 2, 9.924843200918287), (0.95, 4, 2.1318467863266495), (0.995, 5, 4.032142983555228),
                                          (0.975, 50, 2.008559112100761), (0.995, 51, 2.6757222341106477), (0.025, 7, -2.3646242515927844)]
        for (p, nu, want) in t {
            // Exact (closed forms, Newton on the exact CDF) to ν = 50; Cornish–Fisher past it, within 1e-8 relative.
            XCTAssertEqual(studentTQuantile(p, degreesOfFreedom: nu), want, accuracy: 1e-8 * abs(want), "t(\(p), \(nu))")
        }
        // scipy.stats.t.cdf(1.3, ν): the series the refinement uses.
        for (nu, want) in [(1, 0.7912855998398473), (2, 0.8383764840919798), (4, 0.868274201764388), (5, 0.8748496829146615),
                           (7, 0.8826160823038114), (50, 0.9002189322360733), (51, 0.9002770704270161)] {
            XCTAssertEqual(studentTCDF(1.3, degreesOfFreedom: nu), want, accuracy: 1e-12, "F(1.3; \(nu))")
            XCTAssertEqual(studentTCDF(-1.3, degreesOfFreedom: nu), 1 - want, accuracy: 1e-12, "F(-1.3; \(nu))")
        }
    }

    func testEstimatorEdgeCases() {
        // Every window read: the exact ratio and a zero-width interval (finite-population correction).
        let all = ratioEstimate(values: [3, 5, 4], counts: [1, 2, 2], population: 3)
        XCTAssertEqual(all.estimate, 12.0 / 5.0); XCTAssertEqual(all.lo, all.hi)
        // One window: no variance estimate, an unbounded interval.
        let one = ratioEstimate(values: [3], counts: [1], population: 3)
        XCTAssertEqual(one.lo, -.infinity)
        // Hand-computed: y = [2, 4, 9], x = [1, 2, 3], N = 6: R = 15/6 = 2.5, d = [-0.5, -1, 1.5],
        // Σd² = 3.5, V = (1 - 1/2)·3.5/(2·3·2²) = 0.0729166…, t₂(0.975) from Cornish–Fisher.
        let e = ratioEstimate(values: [2, 4, 9], counts: [1, 2, 3], population: 6)
        XCTAssertEqual(e.estimate, 2.5)
        XCTAssertEqual(e.halfWidth, studentTQuantile(0.975, degreesOfFreedom: 2) * (0.5 * 3.5 / 24).squareRoot(), accuracy: 1e-12)
        let order = visitOrder(count: 100, seed: 7)
        XCTAssertEqual(order.sorted(), Array(0..<100))
        XCTAssertEqual(order, visitOrder(count: 100, seed: 7))
        XCTAssertNotEqual(order, visitOrder(count: 100, seed: 8))
    }

    /// Scores every window of a fixture once, then replays the sequential rule over those values
    /// with 1000 visiting orders: the intervals it stops with should contain the full-set loss
    /// (and, paired, the full-set Δ) at about their nominal 95%.
    func testCoverageOnAFixture() throws {
        let base = Self.fixtures.appendingPathComponent("runs/baseline/model.safetensors").path
        let other = Self.fixtures.appendingPathComponent("runs/stacked/model.safetensors").path
        let bin = Self.fixtures.appendingPathComponent("data/test-persuasion.bin").path
        guard FileManager.default.fileExists(atPath: base) else { throw missingFixtures("../shared/fixtures not found at \(Self.fixtures.path)") }
        let tokens = try loadTokenIDs(path: bin)
        let (a, sa, plan) = try scoreCheckpoint(try loadCheckpoint(path: base), tokens: tokens, testSetPath: bin, context: 64)
        let (b, sb, _) = try scoreCheckpoint(try loadCheckpoint(path: other), tokens: tokens, testSetPath: bin, context: 64)
        let counts = plan.windows.map(\.scoredCount), N = counts.count
        // The engine path visits the same windows in the same order and stops where the replay does.
        let rule3 = SequentialRule(halfWidth: 0.03, seed: 3)
        let (report, live) = try scoreCheckpointSequential(try loadCheckpoint(path: base), tokens: tokens, testSetPath: bin,
                                                           rule: rule3, context: 64, batch: 4)
        let replay = runSequential(order: visitOrder(count: N, seed: 3), counts: counts, batch: 4, rule: rule3) { w in [w.map { sa.nllSums[$0] }] }
        XCTAssertEqual(report.windowIndices, replay.visited)
        XCTAssertEqual(live.estimate, replay.estimate.estimate, accuracy: 1e-7)  // batches differ: fp32 rounding
        XCTAssertEqual(live.halfWidth, replay.estimate.halfWidth, accuracy: 1e-7)
        XCTAssertEqual(report.ci95?.count, 2); XCTAssertLessThan(report.windowsScored!, N); XCTAssertEqual(report.windowsTotal, N)
        XCTAssertNil(report.bitsPerByte)
        let fullDelta = (b.totalNLL - a.totalNLL) / Double(a.tokensScored)
        var hits = 0, pairedHits = 0, read = 0, pairedRead = 0
        let seeds = 1000
        for seed in 0..<seeds {
            let order = visitOrder(count: N, seed: UInt64(seed))
            let rule = SequentialRule(halfWidth: 0.03, seed: UInt64(seed))
            let single = runSequential(order: order, counts: counts, batch: 4, rule: rule) { w in [w.map { sa.nllSums[$0] }] }
            if single.estimate.lo <= a.loss && a.loss <= single.estimate.hi { hits += 1 }
            read += single.visited.count
            let paired = runSequential(order: order, counts: counts, batch: 4, rule: SequentialRule(halfWidth: 0.01, seed: UInt64(seed)),
                                       score: { w in [w.map { sb.nllSums[$0] }, w.map { sa.nllSums[$0] }] },
                                       statistic: { s in zip(s[0], s[1]).map { $0 - $1 } })
            if paired.estimate.lo <= fullDelta && fullDelta <= paired.estimate.hi { pairedHits += 1 }
            pairedRead += paired.visited.count
        }
        let coverage = Double(hits) / Double(seeds), pairedCoverage = Double(pairedHits) / Double(seeds)
        print("sequential coverage over \(seeds) orders, \(N) windows of 64: loss ±0.03 \(coverage) "
              + "(read \(Double(read) / Double(seeds * N)) of the windows on average), paired Δ ±0.01 \(pairedCoverage) "
              + "(read \(Double(pairedRead) / Double(seeds * N)))")
        // Nominal 95%; 1000 orders give a binomial s.e. of 0.007, and stopping on the data costs a little.
        XCTAssertGreaterThan(coverage, 0.925); XCTAssertLessThan(coverage, 0.975)
        XCTAssertGreaterThan(pairedCoverage, 0.925); XCTAssertLessThan(pairedCoverage, 0.975)
        XCTAssertLessThan(Double(pairedRead) / Double(seeds * N), 0.5, "a paired ±0.01 on runs 0.43 apart needs far less than the set")
    }

    /// The report's paired rule (`runPairedSequential`, what `ci` in a manifest runs) on a synthetic
    /// population with a known full-set Δ: 400 windows (the last one short), a per-window difficulty
    /// shared by both "runs" (so pairing matters) and a heavy-tailed per-window difference. Over 2000
    /// visiting orders its ±0.01 intervals contained the true Δ 94.25% of the time after reading 44% of
    /// the windows on average (measured; the binomial s.e. of the rate is 0.005).
    func testPairedCoverageOnSyntheticWindows() {
        var rng = SplitMix64(seed: 11)
        let N = 400
        let counts = (0..<N).map { $0 == N - 1 ? 37 : 64 }
        var base: [Double] = [], run: [Double] = []
        for x in counts {
            let difficulty = 5 + rng.nextGaussian()                     // hard windows are hard for both
            let t = rng.nextGaussian(), u = rng.nextUnit()
            let diff = -0.05 + 0.07 * t * (u < 0.1 ? 2.5 : 1)        // a tenth of the windows 2.5× wider
            base.append(Double(x) * difficulty); run.append(Double(x) * (difficulty + diff))
        }
        let x = Double(counts.reduce(0, +))
        let trueDelta = zip(run, base).reduce(0) { $0 + $1.0 - $1.1 } / x
        var hits = 0, read = 0, unpairedWidth = 0.0
        let seeds = 2000
        for seed in 0..<seeds {
            let rule = SequentialRule(halfWidth: 0.01, seed: UInt64(seed))
            let r = runPairedSequential(order: visitOrder(count: N, seed: rule.seed), counts: counts, batch: 4, rule: rule) { w in
                (w.map { run[$0] }, w.map { base[$0] })
            }
            XCTAssertTrue(r.estimate.halfWidth <= 0.01 || r.visited.count == N)
            if r.estimate.lo <= trueDelta && trueDelta <= r.estimate.hi { hits += 1 }
            read += r.visited.count
            if seed == 0 {
                // Unpaired, the same windows give a far wider interval on either loss alone.
                unpairedWidth = ratioEstimate(values: r.a, counts: r.visited.map { counts[$0] }, population: N).halfWidth
            }
        }
        let coverage = Double(hits) / Double(seeds), fraction = Double(read) / Double(seeds * N)
        print("synthetic paired coverage over \(seeds) orders: \(coverage), read \(fraction) of \(N) windows")
        XCTAssertGreaterThan(coverage, 0.93); XCTAssertLessThan(coverage, 0.97)
        XCTAssertLessThan(fraction, 0.8)
        XCTAssertGreaterThan(unpairedWidth, 0.05, "pairing is what makes ±0.01 reachable")
    }
}
