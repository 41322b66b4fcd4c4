import XCTest
@testable import Engine

/// Kernels against hand-computed cases and against plain-loop references.
final class KernelTests: XCTestCase {
    var rng = SplitMix(seed: 7)

    func randoms(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in rng.nextFloat() * scale } }

    func testMatmulMatchesNaiveAndHandCase() {
        // Hand case: [1 2; 3 4] · [1 0; 1 1]ᵀ + [0.5, -1] = [1.5, 2; 3.5, 6]
        var out = [Float](repeating: 0, count: 4)
        matmulForward(&out, [1, 2, 3, 4], [1, 0, 1, 1], [0.5, -1], n: 2, c: 2, oc: 2, threads: 2)
        XCTAssertEqual(out, [1.5, 2, 3.5, 6])
        for (n, c, oc) in [(37, 19, 23), (130, 64, 192), (1, 5, 3)] {
            let x = randoms(n * c), w = randoms(oc * c), b = randoms(oc)
            var fast = [Float](repeating: 0, count: n * oc), naive = fast
            matmulForward(&fast, x, w, b, n: n, c: c, oc: oc, threads: 2)
            matmulForwardNaive(&naive, x, w, b, n: n, c: c, oc: oc)
            XCTAssertLessThan(maxDiff(fast, naive), 1e-4, "n=\(n) c=\(c) oc=\(oc)")
        }
    }

    func testLayerNormHandCase() {
        // x = [1, 2, 3, 4]: mean 2.5, var 1.25 → (x − 2.5)/√(1.25 + 1e-5)
        var out = [Float](repeating: 0, count: 4), mean: [Float] = [0], rstd: [Float] = [0]
        layerNormForward(&out, &mean, &rstd, [1, 2, 3, 4], [1, 1, 2, 1], [0, 0, 0, 1], n: 1, c: 4, threads: 1)
        let r = 1 / (1.25 + 1e-5).squareRoot()
        let want: [Double] = [-1.5 * r, -0.5 * r, 2 * 0.5 * r, 1.5 * r + 1]
        for i in 0..<4 { XCTAssertEqual(Double(out[i]), want[i], accuracy: 1e-6) }
        XCTAssertEqual(mean[0], 2.5)
        XCTAssertEqual(Double(rstd[0]), r, accuracy: 1e-6)
    }

    func testGELUKnownValues() {
        // gelu_tanh reference values (PyTorch F.gelu(x, approximate="tanh")).
        let xs: [Float] = [-3, -1, -0.5, 0, 0.01, 0.5, 1, 2, 3]
        let want: [Double] = [-0.0036373920, -0.1588079929, -0.1542859972, 0, 0.0050398947, 0.3457140028,
                              0.8411920071, 1.9545976825, 2.9963626080]
        var big = [Float](repeating: 0, count: 160)
        for i in 0..<160 { big[i] = xs[i % xs.count] }  // exercise the SIMD path too
        var out = big
        geluForward(&out, big, count: big.count, threads: 2)
        for i in 0..<160 { XCTAssertEqual(Double(out[i]), want[i % xs.count], accuracy: 2e-7, "x=\(big[i])") }
    }

    func testExpAccuracy() {
        // The C kernels' exp (every clone: this checks the one the CPU running the test gets), through
        // expShiftedInPlace with shift 0; rows of 37 exercise the 16-lane bulk and the partial tail.
        var worst: Double = 0
        var x: Float = -80
        while x < 80 {
            var row = (0..<37).map { x + Float($0) * 0.0137 }
            let sum = expShiftedInPlace(&row, count: row.count, shift: 0)
            var exactSum = 0.0
            for k in 0..<row.count {
                let exact = exp(Double(x + Float(k) * 0.0137))
                worst = max(worst, abs(Double(row[k]) - exact) / exact)
                exactSum += exact
            }
            XCTAssertEqual(Double(sum), exactSum, accuracy: exactSum * 1e-6)
            x += 0.31
        }
        XCTAssertLessThan(worst, 5e-7)
        var tiny: [Float] = [-200, -100, -87.5]
        _ = expShiftedInPlace(&tiny, count: 3, shift: 0)
        XCTAssertEqual(tiny, [0, 0, 0])
    }

    func testLayerNormMatchesNaive() {
        for (n, c) in [(5, 768), (3, 37), (2, 16)] {
            let x = randoms(n * c, scale: 3), w = randoms(c), b = randoms(c)
            var o1 = [Float](repeating: 0, count: n * c), o2 = o1
            var m1 = [Float](repeating: 0, count: n), r1 = m1, m2 = m1, r2 = m1
            layerNormForward(&o1, &m1, &r1, x, w, b, n: n, c: c, threads: 2)
            layerNormForwardNaive(&o2, &m2, &r2, x, w, b, n: n, c: c)
            XCTAssertLessThan(maxDiff(o1, o2), 2e-5, "n=\(n) c=\(c)")
            XCTAssertLessThan(maxDiff(m1, m2), 1e-6)
            XCTAssertLessThan(maxDiff(r1, r2), 1e-5)
        }
    }

    func testGELUBackwardMatchesScalarDerivative() {
        let x = randoms(1000, scale: 4), d = randoms(1000)
        var dinp = [Float](repeating: 0.5, count: 1000)
        geluBackward(&dinp, x, d, count: 1000, threads: 2)
        for i in 0..<1000 { XCTAssertEqual(dinp[i], 0.5 + geluDerivative(x[i]) * d[i], accuracy: 2e-6) }
    }

    func testLogSumExp() {
        let row = randoms(50257, scale: 10)
        var s = 0.0
        let m = row.max()!
        for v in row { s += exp(Double(v - m)) }
        let want = Double(m) + log(s)
        XCTAssertEqual(Double(row.withUnsafeBufferPointer { logSumExp($0.baseAddress!, count: row.count) }), want, accuracy: 1e-4)
    }

    func testAttentionMatchesNaive() {
        for (B, T, C, NH) in [(2, 70, 32, 4), (1, 5, 8, 2), (3, 130, 24, 3)] {
            let qkv = randoms(B * T * 3 * C)
            var out = [Float](repeating: 0, count: B * T * C)
            var att = [Float](repeating: 0, count: B * NH * T * T)
            attentionForward(&out, &att, qkv, b: B, t: T, c: C, nh: NH, threads: 2)
            var out2 = out
            attentionForward(&out2, nil, qkv, b: B, t: T, c: C, nh: NH, threads: 2)
            let ref = naiveAttention(qkv, B: B, T: T, C: C, NH: NH)
            XCTAssertLessThan(maxDiff(out, ref), 1e-5)
            XCTAssertEqual(out, out2)
            // causal rows sum to one, masked entries zero
            XCTAssertEqual(att[T * 1 + 0] + att[T * 1 + 1], 1, accuracy: 1e-6)
            XCTAssertEqual(att[T * 1 + 2], 0)
        }
    }
}

/// Causal attention in double precision, plain loops (the reference of both attention paths).
func naiveAttention(_ qkv: [Float], B: Int, T: Int, C: Int, NH: Int) -> [Float] {
    let hs = C / NH
    var out = [Float](repeating: 0, count: B * T * C)
    for b in 0..<B { for h in 0..<NH { for i in 0..<T {
        var scores = [Double](repeating: 0, count: i + 1)
        for j in 0...i {
            var s = 0.0
            for d in 0..<hs {
                s += Double(qkv[(b * T + i) * 3 * C + h * hs + d]) * Double(qkv[(b * T + j) * 3 * C + C + h * hs + d])
            }
            scores[j] = s / Double(hs).squareRoot()
        }
        let m = scores.max()!
        let e = scores.map { exp($0 - m) }
        let z = e.reduce(0, +)
        for d in 0..<hs {
            var acc = 0.0
            for j in 0...i { acc += e[j] / z * Double(qkv[(b * T + j) * 3 * C + 2 * C + h * hs + d]) }
            out[(b * T + i) * C + h * hs + d] = Float(acc)
        }
    } } }
    return out
}

func maxDiff(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// SplitMix64, for reproducible test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}
