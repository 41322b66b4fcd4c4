@testable import Engine
import XCTest

/// KV-cache decoding against the full forward: the logits at every position must agree.
final class GenerateTests: XCTestCase {
    let config = GPT2Config(vocabSize: 97, contextLength: 16, nEmbd: 32, nLayer: 3, nHead: 4)

    func tokens(_ n: Int, seed: UInt64) -> [Int32] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) }
    }

    /// Max |a − b| over two equal-length buffers, and max |b| (for a relative bound).
    func maxDiff(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> (diff: Float, scale: Float) {
        XCTAssertEqual(a.count, b.count)
        var d: Float = 0, s: Float = 0
        for (x, y) in zip(a, b) { d = max(d, abs(x - y)); s = max(s, abs(y)) }
        return (d, s)
    }

    func checkStepsMatchForward(_ model: GPT2Model, ids: [Int32], prompt: Int, line: UInt = #line) {
        let V = model.config.vocabSize
        let full = model.logits(tokens: ids)
        XCTAssertEqual(full.count, ids.count * V, line: line)
        let cache = KVCache(config: model.config)
        var rows: [[Float]] = [model.prefill(tokens: Array(ids[..<prompt]), cache: cache)]
        for t in prompt..<ids.count { rows.append(model.step(token: ids[t], position: t, cache: cache)) }
        XCTAssertEqual(cache.count, ids.count, line: line)
        var worst: Float = 0
        for (i, row) in rows.enumerated() {
            let t = prompt - 1 + i
            let (d, s) = maxDiff(row[...], full[(t * V)..<((t + 1) * V)])
            worst = max(worst, d / max(1, s))
        }
        XCTAssertLessThan(worst, 1e-4, "max relative logit diff \(worst)", line: line)
    }

    func testStepsMatchFullForwardOnRandomModels() {
        for (tied, biases, seed) in [(false, false, UInt64(1)), (true, true, 2), (false, true, 3)] {
            let model = GPT2Model(weights: .random(config: config, tied: tied, biases: biases, seed: seed),
                                  backend: CPUBackend(threads: 2))
            let ids = tokens(config.contextLength, seed: seed + 10)
            checkStepsMatchForward(model, ids: ids, prompt: 1)        // everything by step
            checkStepsMatchForward(model, ids: ids, prompt: 5)        // prefill, then steps
            checkStepsMatchForward(model, ids: ids, prompt: 16)       // prefill only, full context
        }
    }

    /// The single-query kernel equals the batched causal attention's last row.
    func testAttentionStepMatchesBatchedAttention() {
        let T = 7, C = 32, NH = 4
        var rng = SplitMix64(seed: 9)
        let qkv = (0..<(T * 3 * C)).map { _ in Float(rng.nextGaussian()) }
        var out = [Float](repeating: 0, count: T * C)
        attentionForward(&out, nil, qkv, b: 1, t: T, c: C, nh: NH, threads: 1)
        var keys = [Float](), values = [Float]()
        for t in 0..<T {
            let row: Int = t * 3 * C
            keys.append(contentsOf: qkv[(row + C)..<(row + 2 * C)])
            values.append(contentsOf: qkv[(row + 2 * C)..<(row + 3 * C)])
        }
        var step = [Float](repeating: 0, count: C), scores = [Float](repeating: 0, count: T)
        let last: Int = (T - 1) * 3 * C
        let q = Array(qkv[last..<(last + C)])
        attentionStepForward(&step, q, keys, values, scores: &scores, n: T, c: C, nh: NH)
        XCTAssertLessThan(maxDiff(step[...], out[((T - 1) * C)...]).diff, 1e-5)
    }
}
