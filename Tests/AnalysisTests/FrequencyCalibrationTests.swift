@testable import Analysis
import Checkpoints
import Engine
import Foundation
import TestSets
import TestFixtures
import XCTest

/// `compare`'s Δ by target-token frequency and next-token calibration, against numpy
/// (tests/reference/frequency_calibration_reference.py), and the intervals' properties.
final class FrequencyCalibrationTests: XCTestCase {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let fixtures = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("shared/fixtures")

    struct Reference: Decodable {
        struct Bucket: Decodable {
            let label: String, types: Int, count_max: Int, count_min: Int, tokens: Int
            let loss_a: Double?, loss_b: Double?, delta: Double?, delta_lo: Double?, delta_hi: Double?, p_value: Double?
        }
        struct Bin: Decodable { let tokens: Int; let confidence: Double?; let accuracy: Double? }
        struct Cal: Decodable { let ece: Double, accuracy: Double, confidence: Double; let bins: [Bin] }
        let tokens_scored: Int, train_prefix_tokens: Int
        let frequencies_test_set: [Bucket], frequencies_train_prefix: [Bucket]
        let calibration: [String: Cal]
    }

    func assertBuckets(_ got: FrequencyBuckets, _ ref: [Reference.Bucket], _ what: String) {
        XCTAssertEqual(got.buckets.count, ref.count, what)
        var worst = (mean: 0.0, ends: 0.0)
        for (g, r) in zip(got.buckets, ref) {
            XCTAssertEqual([g.types, g.tokens], [r.types, r.tokens], "\(what) \(r.label)")
            // numpy's counts of an empty bucket are 0; gpt2lab says there are none
            XCTAssertEqual([g.countMax, g.countMin], r.types == 0 ? [nil, nil] : [r.count_max, r.count_min], "\(what) \(r.label)")
            guard let la = r.loss_a, let lb = r.loss_b, let d = r.delta, let lo = r.delta_lo, let hi = r.delta_hi else {
                XCTAssertNil(g.delta); continue
            }
            guard let ga = g.lossA, let gb = g.lossB, let gd = g.delta, let gp = g.pValue else { return XCTFail("\(what) \(r.label): no values") }
            // f32 NLLs (gpt2lab) against float64 (numpy): the means agree to ~1e-6; the interval ends are the
            // same replicates (the same SplitMix64 draws) of sums that differ as little.
            XCTAssertEqual(ga, la, accuracy: 1e-5); XCTAssertEqual(gb, lb, accuracy: 1e-5)
            XCTAssertEqual(gd.estimate, d, accuracy: 1e-5)
            XCTAssertEqual(gd.lo, lo, accuracy: 1e-4); XCTAssertEqual(gd.hi, hi, accuracy: 1e-4)
            XCTAssertEqual(gp, r.p_value!, accuracy: 2e-3)
            XCTAssertTrue(gd.lo <= gd.estimate && gd.estimate <= gd.hi, "\(what) \(r.label): the interval holds its estimate")
            worst.mean = max(worst.mean, abs(ga - la), abs(gb - lb), abs(gd.estimate - d))
            worst.ends = max(worst.ends, abs(gd.lo - lo), abs(gd.hi - hi))
        }
        print("\(what) vs numpy: means \(worst.mean), interval ends \(worst.ends)")
    }

    func testMatchesNumpyReference() throws {
        let a = Self.fixtures.appendingPathComponent("runs/baseline/model.safetensors").path
        let b = Self.fixtures.appendingPathComponent("runs/stacked/model.safetensors").path
        let bin = Self.fixtures.appendingPathComponent("data/test-persuasion.bin").path
        guard FileManager.default.fileExists(atPath: a) else { throw missingFixtures("../shared/fixtures not found at \(Self.fixtures.path)") }
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Self.here.appendingPathComponent(
            "Fixtures/frequency-calibration-baseline-stacked.json")))
        let tokens = try loadTokenIDs(path: bin)
        let plan = try WindowPlan(tokenCount: tokens.ids.count, context: 256, stride: 256)
        let backend = CPUBackend(threads: 2)
        let ma = GPT2Model(weights: try loadCheckpoint(path: a).weights, backend: backend)
        let mb = GPT2Model(weights: try loadCheckpoint(path: b).weights, backend: backend)
        var options = TokenComparisonOptions()
        options.segments = 0
        let own = try compareTokens(a: ma, b: mb, names: (a, b), tokens: tokens.ids, testSet: bin, plan: plan, options: options, tokenizer: nil)
        XCTAssertEqual(own.tokensScored, ref.tokens_scored)
        XCTAssertEqual(own.frequency.countedFrom, "test set")
        assertBuckets(own.frequency, ref.frequencies_test_set, "test-set frequencies")

        var worst = (ece: 0.0, accuracy: 0.0, confidence: 0.0, moved: 0)
        for (name, got) in [("a", own.calibration.a), ("b", own.calibration.b)] {
            let r = try XCTUnwrap(ref.calibration[name])
            // Confidences are f32 here: a token within ~1e-7 of a bin edge, or an argmax near-tie, may land
            // differently; a few such tokens of 115,030 move ECE and accuracy by ~1e-5.
            XCTAssertEqual(got.ece, r.ece, accuracy: 1e-4, name)
            XCTAssertEqual(got.accuracy, r.accuracy, accuracy: 2e-4, name)
            XCTAssertEqual(got.confidence, r.confidence, accuracy: 1e-5, name)
            XCTAssertEqual(got.bins.count, calibrationBins)
            for (g, rb) in zip(got.bins, r.bins) { XCTAssertLessThanOrEqual(abs(g.tokens - rb.tokens), 5, name) }
            worst.ece = max(worst.ece, abs(got.ece - r.ece)); worst.accuracy = max(worst.accuracy, abs(got.accuracy - r.accuracy))
            worst.confidence = max(worst.confidence, abs(got.confidence - r.confidence))
            worst.moved = max(worst.moved, zip(got.bins, r.bins).map { abs($0.tokens - $1.tokens) }.max()!)
        }
        print("calibration vs numpy: ECE \(worst.ece), accuracy \(worst.accuracy), confidence \(worst.confidence), bin counts ±\(worst.moved)")

        options.frequencies = TokenFrequencies(ids: Array(tokens.ids.prefix(ref.train_prefix_tokens)), vocabSize: 50257,
                                               source: "prefix", fromTestSet: false)
        let prefix = try compareTokens(a: ma, b: mb, names: (a, b), tokens: tokens.ids, testSet: bin, plan: plan, options: options, tokenizer: nil)
        XCTAssertEqual(prefix.frequency.countedFrom, "training data")
        XCTAssertEqual(prefix.frequency.buckets.last?.label, "unseen")
        assertBuckets(prefix.frequency, ref.frequencies_train_prefix, "prefix frequencies")
    }

    /// Synthetic windows: `windows` of 64 tokens cycling over 200 ids; B's NLL = A's + `shift` + noise.
    func synthetic(windows: Int, shift: Double, noise: Double, seed: UInt64) -> FrequencyBuckets {
        let ids: [Int32] = (0..<(windows * 64)).map { (i: Int) -> Int32 in Int32((i * 7 + i / 64) % 200) }
        let f = TokenFrequencies(ids: ids, vocabSize: 256, source: "synthetic", fromTestSet: true)
        var acc = FrequencyAccumulator(FrequencyBucketing(f), windows: windows)
        var rng = SplitMix64(seed: seed)
        for (i, id) in ids.enumerated() {
            let nll = 3 + rng.nextGaussian()
            acc.add(window: i / 64, target: id, nllA: Float(nll), nllB: Float(nll + shift + noise * rng.nextGaussian()))
        }
        return acc.result()
    }

    /// A bucket whose tokens lie in fewer than minBucketWindows windows gets no interval or p (its one or two windows
    /// would give a zero-width interval and p at its floor); from that many on it gets one, from the resamples that
    /// draw its tokens (one that draws none has no Δ and is not counted as 0).
    func testRareBucketsGetNoIntervalUnderFiveWindows() {
        for holding in [1, minBucketWindows - 1, minBucketWindows] {
            let windows = 40
            // ids 0…9 fill the windows (the top bucket); id 100 (a bucket of its own rank) appears once in each of
            // the first `holding` windows, with B better on it by 0.5 nats.
            let ids: [Int32] = (0..<(windows * 64)).map { i in i % 64 == 0 && i / 64 < holding ? 100 : Int32(i % 10) }
            let f = TokenFrequencies(ids: ids, vocabSize: 256, source: "s", fromTestSet: true)
            var acc = FrequencyAccumulator(FrequencyBucketing(f), windows: windows)
            var rng = SplitMix64(seed: 9)
            for (i, id) in ids.enumerated() {
                let nll = 3 + rng.nextGaussian()
                acc.add(window: i / 64, target: id, nllA: Float(nll), nllB: Float(nll - (id == 100 ? 0.5 : 0) + 0.1 * rng.nextGaussian()))
            }
            let rare = acc.result(resamples: 500).buckets.first { $0.tokens == holding }
            guard let rare else { return XCTFail("no bucket of \(holding) tokens") }
            XCTAssertEqual(rare.windows, holding)
            if holding < minBucketWindows {
                XCTAssertNil(rare.delta, "\(holding) windows"); XCTAssertNil(rare.pValue)
            } else {
                let d = try! XCTUnwrap(rare.delta)
                XCTAssertLessThan(d.lo, d.hi)
                XCTAssertLessThan(d.hi, 0, "every resample that draws the bucket sees B better; none counts as Δ = 0")
            }
        }
    }

    func testIdenticalRunsHaveZeroWidthIntervals() {
        for b in synthetic(windows: 50, shift: 0, noise: 0, seed: 1).buckets where b.tokens > 0 {
            XCTAssertEqual(b.delta, Interval(estimate: 0, lo: 0, hi: 0), b.label)
            XCTAssertEqual(b.pValue, 1)
        }
    }

    func testIntervalsHoldTheEstimateAndShrinkWithMoreWindows() throws {
        let small = synthetic(windows: 100, shift: 0.05, noise: 0.5, seed: 2)
        let large = synthetic(windows: 1600, shift: 0.05, noise: 0.5, seed: 3)
        XCTAssertEqual(small.buckets.map(\.label), ["ranks 1–10", "ranks 11–100", "ranks 101–1,000", "ranks 1,001–10,000", "ranks > 10,000"])
        for (s, l) in zip(small.buckets, large.buckets) where s.tokens > 0 {
            let ds = try XCTUnwrap(s.delta), dl = try XCTUnwrap(l.delta)
            XCTAssertTrue(ds.contains(ds.estimate) && dl.contains(dl.estimate), s.label)
            // 16× the windows: the width should fall ~4×; at least 2.5× leaves room for the bootstrap's own noise.
            XCTAssertLessThan(dl.hi - dl.lo, (ds.hi - ds.lo) / 2.5, s.label)
        }
    }

    /// Coverage: over 200 synthetic test sets of 40 windows, each window sharing a random offset of both runs'
    /// difference (tokens of a window are correlated, as in text), the 95% intervals hold the true shift
    /// nearly 95% of the time (the per-window offset is the correlation that resampling whole windows accounts for).
    /// The windows here are independent, yet Politis–White picks blocks of 2–5, so 40 windows hold 8–20 whole
    /// blocks; with fewer than 10 the interval is a Student t on the resamples' sd (minBootstrapBlocks). Coverage 0.938 here (0.888 with percentiles alone, 0.942 with single windows).
    func testIntervalsCoverTheTrueShift() {
        var held = 0, total = 0
        for seed in 0..<200 {
            let ids: [Int32] = (0..<(40 * 64)).map { (i: Int) -> Int32 in Int32((i * 7 + i / 64) % 200) }
            var acc = FrequencyAccumulator(FrequencyBucketing(TokenFrequencies(ids: ids, vocabSize: 256, source: "s", fromTestSet: true)),
                                           windows: 40)
            var rng = SplitMix64(seed: UInt64(1000 + seed))
            var offset = 0.0
            for (i, id) in ids.enumerated() {
                if i % 64 == 0 { offset = 0.3 * rng.nextGaussian() }
                let nll = 3 + rng.nextGaussian()
                acc.add(window: i / 64, target: id, nllA: Float(nll), nllB: Float(nll + 0.05 + offset + 0.5 * rng.nextGaussian()))
            }
            for b in acc.result(resamples: 500, seed: UInt64(seed)).buckets where b.tokens > 0 {
                total += 1; held += b.delta!.contains(0.05) ? 1 : 0
            }
        }
        let coverage = Double(held) / Double(total)
        print("window-bootstrap coverage of the true Δ: \(held)/\(total) = \(coverage)")
        XCTAssertEqual(total, 600)
        XCTAssertTrue((0.87...0.99).contains(coverage), "coverage \(coverage)")
    }

    func testFrequencyRanksAndBuckets() {
        // id 5 ×3, id 2 ×3 (tie: the lower id ranks first), id 9 ×1; the rest unseen.
        let f = TokenFrequencies(ids: [5, 2, 5, 9, 2, 5, 2], vocabSize: 12, source: "t", fromTestSet: false)
        XCTAssertEqual(f.ranks[2], 1); XCTAssertEqual(f.ranks[5], 2); XCTAssertEqual(f.ranks[9], 3); XCTAssertEqual(f.ranks[0], 0)
        let b = FrequencyBucketing(f)
        XCTAssertEqual(b.bucketOf[2], 0); XCTAssertEqual(b.bucketOf[0], UInt8(frequencyRankEdges.count + 1))
    }

    func testECEOfKnownBins() {
        var acc = CalibrationAccumulator()
        // Bin edges are upper-inclusive: 1/15 is bin 0, 1 is bin 14, 0.5 is bin 7 ((7/15, 8/15]).
        XCTAssertEqual(calibrationBin(1.0 / 15), 0); XCTAssertEqual(calibrationBin(1), 14); XCTAssertEqual(calibrationBin(0.5), 7)
        for _ in 0..<30 { acc.add(confidence: 0.95, correct: true) }               // bin 14: acc 1, conf 0.95
        for i in 0..<10 { acc.add(confidence: 0.5, correct: i < 2) }               // bin 7: acc 0.2, conf 0.5
        let c = acc.result
        XCTAssertEqual(c.ece, 30.0 / 40 * 0.05 + 10.0 / 40 * 0.3, accuracy: 1e-6)
        XCTAssertEqual(c.accuracy, 32.0 / 40, accuracy: 1e-12)
        XCTAssertEqual(c.bins[14].tokens, 30); XCTAssertEqual(c.bins[7].accuracy!, 0.2, accuracy: 1e-12)
        XCTAssertNil(c.bins[0].confidence)
    }
}
