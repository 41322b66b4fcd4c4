import XCTest
@testable import Engine

/// The two f32 GEMM paths of the block products (Kernels/MatmulF32Choice.swift) against plain loops.
final class F32PathTests: XCTestCase {
    var rng = SplitMix(seed: 11)

    /// Whether oneDNN's f32 matmul runs here at all (not only whether it was chosen).
    var onednnRuns: Bool {
        var out: [Float] = [0]
        return f32ProductDNNL(&out, [1], [2], nil, n: 1, c: 1, oc: 1, threads: 1) && out == [2]
    }

    func testBothPathsMatchNaiveAndNotTheThreadCount() {
        let paths: [F32GEMMPath] = onednnRuns ? [.openblas, .onednn] : [.openblas]
        if paths.count == 1 { print("oneDNN's f32 matmul does not run here: OpenBLAS path only") }
        // Shapes cut across the fixed units: 256 input rows × 768 weight rows, partial ones included.
        for (n, c, oc) in [(1, 5, 3), (37, 19, 23), (257, 64, 769), (513, 96, 1600), (300, 768, 768)] {
            let x = (0..<n * c).map { _ in rng.nextFloat() }, w = (0..<oc * c).map { _ in rng.nextFloat() }
            let b = (0..<oc).map { _ in rng.nextFloat() }
            var naive = [Float](repeating: 0, count: n * oc), naiveNoBias = naive
            matmulForwardNaive(&naive, x, w, b, n: n, c: c, oc: oc)
            matmulForwardNaive(&naiveNoBias, x, w, nil, n: n, c: c, oc: oc)
            for path in paths {
                var results: [[Float]] = []
                for threads in [1, 2, 3] {
                    var out = [Float](repeating: .nan, count: n * oc)
                    matmulForward(&out, x, w, b, n: n, c: c, oc: oc, threads: threads, path: path)
                    XCTAssertLessThan(maxDiff(out, naive), 1e-4 * Float(c).squareRoot(), "\(path) n=\(n) c=\(c) oc=\(oc) threads=\(threads)")
                    results.append(out)
                }
                XCTAssertEqual(results[0], results[1], "\(path) n=\(n) c=\(c) oc=\(oc): 1 vs 2 threads")
                XCTAssertEqual(results[0], results[2], "\(path) n=\(n) c=\(c) oc=\(oc): 1 vs 3 threads")
                var out = [Float](repeating: .nan, count: n * oc)
                matmulForward(&out, x, w, nil, n: n, c: c, oc: oc, threads: 2, path: path)
                XCTAssertLessThan(maxDiff(out, naiveNoBias), 1e-4 * Float(c).squareRoot(), "\(path) no bias, n=\(n) c=\(c) oc=\(oc)")
            }
        }
    }

    /// Attention's products on either library (AttentionDNNL.swift on oneDNN): against double-precision loops, the
    /// kept probabilities against each other, the same bits for 1, 2 and 3 threads and with or without `att`.
    func testAttentionOnBothPathsMatchesNaiveAndNotTheThreadCount() {
        let paths: [F32GEMMPath] = onednnRuns ? [.openblas, .onednn] : [.openblas]
        // Scores up to ±32 on 64-wide heads: f32 rounding of the softmax reaches ~3e-5 on either path.
        for (B, T, C, NH) in [(2, 70, 32, 4), (1, 5, 8, 2), (1, 200, 128, 2), (2, 129, 24, 3)] {
            let qkv = (0..<B * T * 3 * C).map { _ in rng.nextFloat() * 4 - 2 }
            let ref = naiveAttention(qkv, B: B, T: T, C: C, NH: NH)
            var probs: [[Float]] = []
            for path in paths {
                var outs: [[Float]] = []
                for threads in [1, 2, 3] {
                    var out = [Float](repeating: .nan, count: B * T * C)
                    var att = [Float](repeating: .nan, count: B * NH * T * T)
                    attentionForward(&out, &att, qkv, b: B, t: T, c: C, nh: NH, threads: threads, path: path)
                    XCTAssertLessThan(maxDiff(out, ref), 1e-4, "\(path) B=\(B) T=\(T) C=\(C) NH=\(NH) threads=\(threads)")
                    outs.append(out)
                    if threads == 1 { probs.append(att) }
                }
                var unkept = [Float](repeating: .nan, count: B * T * C)
                attentionForward(&unkept, nil, qkv, b: B, t: T, c: C, nh: NH, threads: 2, path: path)
                XCTAssertEqual(outs[0], outs[1], "\(path) T=\(T): 1 vs 2 threads")
                XCTAssertEqual(outs[0], outs[2], "\(path) T=\(T): 1 vs 3 threads")
                XCTAssertEqual(outs[0], unkept, "\(path) T=\(T): with and without the probabilities kept")
            }
            for p in probs.dropFirst() {
                XCTAssertLessThan(maxDiff(p, probs[0]), 1e-5, "T=\(T): kept probabilities")
                for b in 0..<B * NH { for i in 0..<T { for j in (i + 1)..<T { XCTAssertEqual(p[(b * T + i) * T + j], 0) } } }
            }
        }
    }

    /// The choice reads the kernel oneDNN made for its own probe shape, not whichever primitive came first
    /// (a 1 × 1 × 1 product gets a different kernel): making the choice again after one agrees.
    func testTheChoiceDoesNotDependOnEarlierProducts() {
        _ = onednnRuns
        let again = chooseF32GEMM()
        XCTAssertEqual(again.path, f32GEMM.path)
        XCTAssertEqual(again.detail, f32GEMM.detail)
    }

    /// oneDNN's cache is keyed by each unit's shape: after a product, the kernel of its first unit can be named
    /// (the choice read the whole product's shape once, found nothing and kept OpenBLAS on every CPU).
    func testTheKernelOfAProductsUnitsIsNamed() throws {
        guard onednnRuns else { throw XCTSkip("oneDNN's f32 matmul does not run here") }
        for (n, c, oc) in [(256, 768, 768), (1024, 768, 2304), (100, 64, 50)] {
            let x = (0..<n * c).map { _ in rng.nextFloat() }, w = (0..<oc * c).map { _ in rng.nextFloat() }
            var out = [Float](repeating: 0, count: n * oc)
            XCTAssertTrue(f32ProductDNNL(&out, x, w, nil, n: n, c: c, oc: oc, threads: 2))
            XCTAssertFalse(productUnitImpl(n: n, c: c, oc: oc, f32: true, bias: false).isEmpty, "n=\(n) c=\(c) oc=\(oc)")
        }
        if RuntimeInfo.current(threads: 1).isa == "avx512" {
            XCTAssertTrue(f32GEMM.path == .onednn || f32GEMM.detail.hasPrefix("oneDNN disagreed"), f32GEMM.detail)
        }
    }

    func testTheChoiceFollowsTheCPUAndIsReported() {
        let info = RuntimeInfo.current(threads: 1)
        XCTAssertEqual(info.f32GEMM, f32GEMM.path.rawValue)
        XCTAssertEqual(info.f32GEMMDetail, f32GEMM.detail)
        if f32GEMM.path == .onednn {
            XCTAssertEqual(info.isa, "avx512")
            XCTAssertTrue(f32GEMM.detail.hasPrefix("brg:avx512"), f32GEMM.detail)
            XCTAssertTrue(info.precisionDetail.contains("oneDNN"), info.precisionDetail)
        } else {
            XCTAssertFalse(f32GEMM.detail.isEmpty, "OpenBLAS is kept for a stated reason")
            XCTAssertNotEqual(f32GEMM.detail, "oneDNN picked ", "the reason names oneDNN's kernel")
            XCTAssertTrue(info.precisionDetail.contains("\(info.gemmKernel) sgemm"), info.precisionDetail)
        }
    }
}
