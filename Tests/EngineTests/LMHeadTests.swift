import XCTest
@testable import Engine

/// The fused LM head + log-softmax + NLL (Kernels/CrossEntropy.swift): its vocabulary blocks, and its losses
/// against a double-precision logsumexp, the same bits for every thread count.
final class LMHeadTests: XCTestCase {
    var rng = SplitMix(seed: 23)

    /// GPT-2's vocabulary and nanoGPT's padded one split into a multiple of 48 blocks of ~512 (a multiple of 16),
    /// so 16 threads get equal shares; a small vocabulary still splits into many blocks.
    func testVocabularyBlocksShareEvenlyOverThreads() {
        for v in [50257, 50304] {
            let vb = crossEntropyVocabBlock(v), nb = (v + vb - 1) / vb
            XCTAssertEqual(vb % 16, 0, "V \(v): block \(vb)")
            XCTAssertTrue((480...560).contains(vb), "V \(v): block \(vb)")
            XCTAssertEqual(nb % 48, 0, "V \(v): \(nb) blocks of \(vb)")
            XCTAssertGreaterThan(v - (nb - 1) * vb, 0, "V \(v): an empty last block")
        }
        XCTAssertGreaterThanOrEqual((1500 + crossEntropyVocabBlock(1500) - 1) / crossEntropyVocabBlock(1500), 40)
    }

    func testLossesMatchDoubleLogSumExpAndNotTheThreadCount() {
        // 1,500 entries: 47 blocks of 32, the last short; 70 rows, a few of them inactive.
        let n = 70, c = 24, v = 1500
        let x = (0..<n * c).map { _ in rng.nextFloat() * 2 }, head = (0..<v * c).map { _ in rng.nextFloat() }
        let targets = (0..<n).map { Int32(($0 * 389 + 7) % v) }
        let rows = (0..<n).filter { $0 % 9 != 4 }
        var want = [Double](repeating: 0, count: n)
        for i in rows {
            let logits = (0..<v).map { j in (0..<c).reduce(0.0) { $0 + Double(x[i * c + $1]) * Double(head[j * c + $1]) } }
            let mx = logits.max()!
            want[i] = mx + log(logits.reduce(0.0) { $0 + exp($1 - mx) }) - logits[Int(targets[i])]
        }
        var results: [[Float]] = []
        for threads in [1, 2, 3, 5] {
            var nll = [Float](repeating: -1, count: n)
            crossEntropyForward(&nll, x, head, targets, active: rows, n: n, c: c, v: v, threads: threads)
            for i in 0..<n {
                if rows.contains(i) {
                    XCTAssertEqual(Double(nll[i]), want[i], accuracy: 1e-4 * max(1, abs(want[i])), "row \(i), \(threads) threads")
                } else {
                    XCTAssertEqual(nll[i], -1, "inactive row \(i) written, \(threads) threads")
                }
            }
            results.append(nll)
        }
        for k in 1..<results.count { XCTAssertEqual(results[0], results[k], "1 thread vs \([1, 2, 3, 5][k])") }
    }
}
