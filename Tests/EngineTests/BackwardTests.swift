import XCTest
@testable import Engine

/// Each kernel's backward against its naive reference or central differences of its forward, and
/// the whole model's gradient against central differences of the loss.
final class BackwardTests: XCTestCase {
    var rng = SplitMix(seed: 11)

    func randoms(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in rng.nextFloat() * scale } }

    /// Σ a·b in Double.
    func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

    /// Directional check of a kernel: f(x) = Σ r ∘ forward(x); analytic Σ grad·d vs central difference.
    func directional(_ inputs: [[Float]], eps: Float = 1e-2, forward: ([[Float]]) -> [Float],
                     grads: [[Float]], file: StaticString = #filePath, line: UInt = #line) {
        let out0 = forward(inputs)
        let r = randoms(out0.count)
        let dirs = inputs.map { randoms($0.count) }
        func f(_ sign: Float) -> Double {
            let moved = zip(inputs, dirs).map { x, d in zip(x, d).map { $0 + sign * eps * $1 } }
            return dot(r, forward(moved))
        }
        let numeric = (f(1) - f(-1)) / (2 * Double(eps))
        // grads were computed for dout = r by the caller's closure contract
        let analytic = zip(grads, dirs).reduce(0) { $0 + dot($1.0, $1.1) }
        XCTAssertEqual(analytic, numeric, accuracy: 2e-3 * max(1, abs(numeric)), file: file, line: line)
    }

    func testMatmulBackwardMatchesNaive() {
        for (n, c, oc) in [(37, 19, 23), (130, 64, 192), (1, 5, 3)] {
            let x = randoms(n * c), w = randoms(oc * c), d = randoms(n * oc)
            var dx1 = randoms(n * c), dw1 = randoms(oc * c), db1 = randoms(oc)  // nonzero: checks +=
            var dx2 = dx1, dw2 = dw1, db2 = db1
            matmulBackward(&dx1, &dw1, &db1, d, x, w, n: n, c: c, oc: oc, threads: 3)
            matmulBackwardNaive(&dx2, &dw2, &db2, d, x, w, n: n, c: c, oc: oc)
            XCTAssertLessThan(maxDiff(dx1, dx2), 1e-4)
            XCTAssertLessThan(maxDiff(dw1, dw2), 1e-4)
            XCTAssertLessThan(maxDiff(db1, db2), 1e-4)
        }
    }

    func testMatmulBackwardFiniteDifferences() {
        let n = 9, c = 7, oc = 5
        let x = randoms(n * c), w = randoms(oc * c), b = randoms(oc)
        let fwd: ([[Float]]) -> [Float] = { p in
            var o = [Float](repeating: 0, count: n * oc)
            matmulForwardNaive(&o, p[0], p[1], p[2], n: n, c: c, oc: oc)
            return o
        }
        let saved = rng
        let r = randoms(n * oc)
        rng = saved
        var dx = [Float](repeating: 0, count: n * c), dw = [Float](repeating: 0, count: oc * c), db = [Float](repeating: 0, count: oc)
        matmulBackward(&dx, &dw, &db, r, x, w, n: n, c: c, oc: oc, threads: 2)
        directional([x, w, b], forward: fwd, grads: [dx, dw, db])
    }

    func testLayerNormBackwardFiniteDifferences() {
        let n = 150, c = 24  // > 64 rows: several partials
        let x = randoms(n * c, scale: 2), w = randoms(c), b = randoms(c)
        let fwd: ([[Float]]) -> [Float] = { p in
            var o = [Float](repeating: 0, count: n * c), m = [Float](repeating: 0, count: n), s = m
            layerNormForward(&o, &m, &s, p[0], p[1], p[2], n: n, c: c, threads: 1)
            return o
        }
        var mean = [Float](repeating: 0, count: n), rstd = mean, out = [Float](repeating: 0, count: n * c)
        layerNormForward(&out, &mean, &rstd, x, w, b, n: n, c: c, threads: 1)
        let saved = rng
        let r = randoms(n * c)
        rng = saved
        var dx = [Float](repeating: 0, count: n * c), dw = [Float](repeating: 0, count: c), db = dw
        layerNormBackward(&dx, &dw, &db, r, x, w, mean, rstd, n: n, c: c, threads: 3)
        directional([x, w, b], forward: fwd, grads: [dx, dw, db])
        // The same bits for any thread count: the gain and bias sums go in fixed 64-row units (they were one
        // partial per thread, so hessian --threads 1 and 2 gave traces 4e-7 apart).
        for threads in [1, 2, 5] {
            var dx2 = [Float](repeating: 0, count: n * c), dw2 = [Float](repeating: 0, count: c), db2 = dw2
            layerNormBackward(&dx2, &dw2, &db2, r, x, w, mean, rstd, n: n, c: c, threads: threads)
            XCTAssertEqual(dw2, dw, "threads \(threads)"); XCTAssertEqual(db2, db, "threads \(threads)")
            XCTAssertEqual(dx2, dx, "threads \(threads)")
        }
    }

    func testGELUBackward() {
        let xs = randoms(200, scale: 4)
        var dx = [Float](repeating: 0.5, count: 200)  // += onto 0.5
        let d = randoms(200)
        geluBackward(&dx, xs, d, count: 200, threads: 2)
        for i in 0..<200 {
            let x = Double(xs[i]), h = 1e-4
            func g(_ x: Double) -> Double { 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) }
            let want = 0.5 + Double(d[i]) * (g(x + h) - g(x - h)) / (2 * h)
            XCTAssertEqual(Double(dx[i]), want, accuracy: 1e-5, "x=\(x)")
        }
    }

    func testAttentionBackwardFiniteDifferences() {
        for (B, T, C, NH) in [(2, 7, 8, 2), (1, 70, 12, 3)] {
            let qkv = randoms(B * T * 3 * C)
            let fwd: ([[Float]]) -> [Float] = { p in
                var o = [Float](repeating: 0, count: B * T * C)
                attentionForward(&o, nil, p[0], b: B, t: T, c: C, nh: NH, threads: 1)
                return o
            }
            var out = [Float](repeating: 0, count: B * T * C), att = [Float](repeating: 0, count: B * NH * T * T)
            attentionForward(&out, &att, qkv, b: B, t: T, c: C, nh: NH, threads: 2)
            let saved = rng
            let r = randoms(B * T * C)
            rng = saved
            var dqkv = [Float](repeating: 0, count: B * T * 3 * C)
            attentionBackward(&dqkv, r, qkv, att, b: B, t: T, c: C, nh: NH, threads: 2)
            directional([qkv], forward: fwd, grads: [dqkv])
        }
    }

    func testCrossEntropyBackwardMatchesNaive() {
        for (n, c, v, rowsEvery) in [(10, 8, 37, 1), (300, 16, 1500, 1), (40, 8, 600, 3)] {
            let x = randoms(n * c, scale: 2), head = randoms(v * c)
            let targets = (0..<n).map { _ in Int32(rng.next() % UInt64(v)) }
            let rows = Array(stride(from: 0, to: n, by: rowsEvery))
            let scale = 1 / Float(rows.count)
            var nll1 = [Float](repeating: 0, count: n), nll2 = nll1
            var dx1 = randoms(n * c), dh1 = randoms(v * c)
            var dx2 = dx1, dh2 = dh1
            crossEntropyBackward(&nll1, &dx1, &dh1, x, head, targets, active: rows, scale: scale, n: n, c: c, v: v, threads: 3)
            crossEntropyBackwardNaive(&nll2, &dx2, &dh2, x, head, targets, active: rows, scale: scale, c: c, v: v)
            XCTAssertLessThan(maxDiff(nll1, nll2), 1e-4)
            XCTAssertLessThan(maxDiff(dx1, dx2), 1e-5)
            XCTAssertLessThan(maxDiff(dh1, dh2), 1e-5)
            // and the forward-only kernel agrees on the losses
            var nll3 = [Float](repeating: 0, count: n)
            crossEntropyForward(&nll3, x, head, targets, active: rows, n: n, c: c, v: v, threads: 2)
            XCTAssertLessThan(maxDiff(nll1, nll3), 1e-5)
        }
    }

    func testEncoderBackward() {
        // tokens [2, 2, 0], T = 3, C = 2: wte row 2 gets two rows of dout
        var dwte = [Float](repeating: 0, count: 8), dwpe = [Float](repeating: 1, count: 6)
        encoderBackward(&dwte, &dwpe, [1, 2, 3, 4, 5, 6], [2, 2, 0], b: 1, t: 3, c: 2)
        XCTAssertEqual(dwte, [5, 6, 0, 0, 4, 6, 0, 0])
        XCTAssertEqual(dwpe, [2, 3, 4, 5, 6, 7])
    }

    // MARK: whole model

    static let tiny = GPT2Config(vocabSize: 37, contextLength: 8, nEmbd: 16, nLayer: 2, nHead: 2, nInner: 64)

    func batch(_ B: Int, _ T: Int, V: Int) -> (inputs: [Int32], targets: [Int32]) {
        ((0..<B * T).map { _ in Int32(rng.next() % UInt64(V)) }, (0..<B * T).map { _ in Int32(rng.next() % UInt64(V)) })
    }

    func meanLoss(_ weights: GPT2Weights, _ inputs: [Int32], _ targets: [Int32], B: Int, T: Int) -> Double {
        let model = GPT2Model(weights: weights, backend: CPUBackend(threads: 2))
        let acts = Activations(config: weights.config, b: B, t: T, keepAll: false)
        model.forward(inputs: inputs, targets: targets, scoredFrom: [Int](repeating: 0, count: B), acts: acts)
        return (0..<B * T).reduce(0) { $0 + Double(acts.nll[$1]) } / Double(B * T)
    }

    /// For every stored tensor: the directional derivative along a random direction (mixed with
    /// the gradient's own direction so it is not tiny) against central differences of the loss.
    func checkModelGradient(tied: Bool, biases: Bool) {
        let cfg = Self.tiny, B = 3, T = 8
        let weights = GPT2Weights.random(config: cfg, tied: tied, biases: biases, seed: tied ? 5 : 6)
        let (inputs, targets) = batch(B, T, V: cfg.vocabSize)
        let model = GPT2Model(weights: weights, backend: CPUBackend(threads: 2))
        let acts = Activations(config: cfg, b: B, t: T, keepAll: true)
        var grad = [Float](repeating: 0, count: weights.layout.count)
        let loss = grad.withUnsafeMutableBufferPointer { g in
            model.forwardBackward(inputs: inputs, targets: targets, acts: acts,
                                  scratch: GradientScratch(config: cfg, b: B, t: T), grads: g.baseAddress!)
        }
        XCTAssertEqual(loss, meanLoss(weights, inputs, targets, B: B, T: T), accuracy: 1e-5)
        var worst = 0.0
        for id in weights.layout.tensors {
            let r = weights.layout.range(id)
            let g = Array(grad[r])
            if !weights.isStored(id) {
                XCTAssertTrue(g.allSatisfy { $0 == 0 }, "\(id.canonicalName) is not a parameter but has a gradient")
                continue
            }
            let gn = (g.reduce(0) { $0 + Double($1) * Double($1) }).squareRoot()
            var dir = randoms(g.count).map { Double($0) }
            let dn = (dir.reduce(0) { $0 + $1 * $1 }).squareRoot()
            for i in 0..<dir.count { dir[i] = dir[i] / dn + (gn > 0 ? Double(g[i]) / gn : 0) }
            let analytic = zip(g, dir).reduce(0) { $0 + Double($1.0) * $1.1 }
            let eps = 1e-3
            func moved(_ s: Double) -> Double {
                var w = weights
                for (k, i) in r.enumerated() { w.data[i] = Float(Double(w.data[i]) + s * eps * dir[k]) }
                return meanLoss(w, inputs, targets, B: B, T: T)
            }
            let numeric = (moved(1) - moved(-1)) / (2 * eps)
            let rel = abs(analytic - numeric) / max(abs(numeric), 1e-3)
            worst = max(worst, rel)
            XCTAssertLessThan(rel, 1e-2, "\(id.canonicalName): analytic \(analytic) numeric \(numeric)")
        }
        print("model gradient tied=\(tied) biases=\(biases): worst directional rel. error \(worst)")
    }

    func testModelGradientUntiedWithBiases() { checkModelGradient(tied: false, biases: true) }
    func testModelGradientTiedWithoutBiases() { checkModelGradient(tied: true, biases: false) }
    func testModelGradientTiedWithBiases() { checkModelGradient(tied: true, biases: true) }
}
