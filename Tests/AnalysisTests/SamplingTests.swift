import Analysis
import Checkpoints
import Engine
import Foundation
import Tokenizer
import TestFixtures
import XCTest

/// Completions against HF `generate(do_sample=False)` fixtures, and the sampler's contracts.
final class SamplingTests: XCTestCase {
    static let tokenizer = Result { try GPT2Tokenizer.load() }
    static let runs = ["baseline", "baseline-seed67", "wd-0.01", "stacked", "reference"]

    func fixtureDir() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.deletingLastPathComponent().appendingPathComponent("shared/fixtures").path
        guard FileManager.default.fileExists(atPath: dir) else { throw missingFixtures("../shared/fixtures not found") }
        return dir
    }

    func model(_ run: String) throws -> GPT2Model {
        let ck = try loadCheckpoint(path: try fixtureDir() + "/runs/\(run)/model.safetensors")
        return GPT2Model(weights: ck.weights)
    }

    func expectedGreedy(_ run: String) throws -> (promptIDs: [Int32], ids: [Int32], text: String) {
        let data = try Data(contentsOf: URL(fileURLWithPath: try fixtureDir() + "/expected/\(run).json"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let g = try XCTUnwrap(json["greedy"] as? [String: Any])
        let ints = { (k: String) in try XCTUnwrap(g[k] as? [Int]).map(Int32.init) }
        return (try ints("prompt_ids"), try ints("ids"), try XCTUnwrap(g["text"] as? String))
    }

    func testGreedyMatchesHFOnEveryRun() throws {
        let tok = try Self.tokenizer.get()
        for run in Self.runs {
            let expected = try expectedGreedy(run)
            let r = try sampleCompletions(model: try model(run), tokenizer: tok, checkpoint: run,
                                          prompt: "Every effort moves you", mode: .greedy, maxTokens: 20)
            XCTAssertEqual(r.promptIDs, expected.promptIDs, run)
            XCTAssertEqual(r.samples.count, 1)
            XCTAssertEqual(r.samples[0].ids, expected.ids, run)
            XCTAssertEqual(r.samples[0].text, expected.text, run)
        }
    }

    /// KV-cache steps on a trained checkpoint give the full forward's logits at every position.
    func testStepLogitsMatchForwardOnFixture() throws {
        let m = try model("reference")
        let tok = try Self.tokenizer.get()
        let ids = tok.encode("Anne Elliot had been a very pretty girl, but her bloom had vanished early")
        let V = m.config.vocabSize
        let full = m.logits(tokens: ids)
        let cache = KVCache(config: m.config)
        var rows = [m.prefill(tokens: Array(ids.prefix(3)), cache: cache)]
        for t in 3..<ids.count { rows.append(m.step(token: ids[t], position: t, cache: cache)) }
        var worst: Float = 0
        for (i, row) in rows.enumerated() {
            let t = 2 + i
            for v in 0..<V { worst = max(worst, abs(row[v] - full[t * V + v])) }
        }
        XCTAssertLessThan(worst, 1e-4, "max logit diff \(worst)")
    }

    func testSamplingIsReproducibleAndSeedDependent() throws {
        let m = try model("baseline"), tok = try Self.tokenizer.get()
        func run(_ mode: SamplingMode, seed: UInt64, count: Int = 1) throws -> SampleReport {
            try sampleCompletions(model: m, tokenizer: tok, checkpoint: "baseline", prompt: "Every effort moves you",
                                  mode: mode, maxTokens: 20, seed: seed, count: count)
        }
        let hot = SamplingMode.sample(temperature: 1.0, topK: 50)
        let a = try run(hot, seed: 7, count: 3), b = try run(hot, seed: 7, count: 3)
        XCTAssertEqual(a.samples, b.samples)
        XCTAssertEqual(a.samples.map(\.seed), [7, 8, 9])
        let second = try run(hot, seed: 8)                       // sample i uses seed + i
        XCTAssertEqual(second.samples[0].ids, a.samples[1].ids)
        XCTAssertNotEqual(a.samples[0].ids, a.samples[1].ids)
        XCTAssertNotEqual(a.samples[1].ids, a.samples[2].ids)
        let greedy = try run(.greedy, seed: 0)
        for seed in [UInt64(1), 99] {
            XCTAssertEqual(try run(.sample(temperature: 0.7, topK: 1), seed: seed).samples[0].ids, greedy.samples[0].ids)
        }
        XCTAssertEqual(greedy.samples[0].ids, try expectedGreedy("baseline").ids)
    }

    func testStopsAtEndOfTextAndContext() throws {
        // A tiny random model with context 8: at most 8 + 1 − prompt tokens, whatever --max-tokens says.
        let config = GPT2Config(vocabSize: 50257, contextLength: 8, nEmbd: 16, nLayer: 1, nHead: 2)
        let m = GPT2Model(weights: .random(config: config, tied: true, biases: true, seed: 5), backend: CPUBackend(threads: 1))
        let tok = try Self.tokenizer.get()
        let r = try sampleCompletions(model: m, tokenizer: tok, checkpoint: "random", prompt: "Every effort moves you",
                                      mode: .sample(temperature: 1, topK: nil), maxTokens: 100, seed: 3, count: 4)
        for s in r.samples {
            if let eos = s.ids.firstIndex(of: GPT2Tokenizer.endOfText) {
                XCTAssertEqual(eos, s.ids.count - 1)             // kept, and last
                XCTAssertEqual(s.stop, .endOfText)
            } else {
                XCTAssertEqual(s.ids.count, 5)                    // 4 prompt + 5 new = context + 1
                XCTAssertEqual(s.stop, .context)
            }
        }
        // a prompt that fills the context gets its one token; one more token is refused
        let full = try sampleCompletions(model: m, tokenizer: tok, checkpoint: "random",
                                         prompt: "one two three four five six seven eight", mode: .greedy, maxTokens: 5)
        XCTAssertEqual(full.promptIDs.count, 8)
        XCTAssertEqual(full.samples[0].ids.count, 1)
        XCTAssertThrowsError(try sampleCompletions(model: m, tokenizer: tok, checkpoint: "random",
                                                   prompt: "one two three four five six seven eight nine", mode: .greedy, maxTokens: 5)) {
            XCTAssertEqual($0 as? SamplingError, .promptTooLong(tokens: 9, context: 8))
        }
        XCTAssertThrowsError(try sampleCompletions(model: m, tokenizer: tok, checkpoint: "random", prompt: "",
                                                   mode: .greedy, maxTokens: 5)) {
            XCTAssertEqual($0 as? SamplingError, .emptyPrompt)
        }
    }

    /// At the end of the context, HF generate(do_sample=False) on the 64-position HF fixture (tests/reference/
    /// sample_context_reference.py): 61 tokens after a 4-token prompt, the last predicted from a full window, and
    /// one after a prompt of exactly 64 tokens. gpt2lab stopped one token earlier and refused the full prompt.
    func testGreedyAtTheContextEndMatchesHF() throws {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let ref = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: here.appendingPathComponent("Fixtures/sample-context-hf.json"))) as? [String: Any])
        let ck = try loadCheckpoint(path: try fixtureDir() + "/formats/tinyb-sharded")
        XCTAssertEqual(ck.config.contextLength, ref["n_positions"] as? Int)
        let m = GPT2Model(weights: ck.weights), tok = try Self.tokenizer.get()
        for c in try XCTUnwrap(ref["cases"] as? [[String: Any]]) {
            let prompt = try XCTUnwrap(c["prompt"] as? String), want = try XCTUnwrap(c["ids"] as? [Int]).map(Int32.init)
            let r = try sampleCompletions(model: m, tokenizer: tok, checkpoint: "tinyb-sharded", prompt: prompt, mode: .greedy, maxTokens: 1000)
            XCTAssertEqual(r.promptIDs, try XCTUnwrap(c["prompt_ids"] as? [Int]).map(Int32.init))
            XCTAssertEqual(r.samples[0].ids, want, "prompt of \(r.promptIDs.count) tokens")
            XCTAssertEqual(r.samples[0].stop, want.last == 50256 ? .endOfText : .context)
            // Asking for exactly the room the context leaves is a stop at max tokens, not at the context.
            let exact = try sampleCompletions(model: m, tokenizer: tok, checkpoint: "tinyb-sharded", prompt: prompt, mode: .greedy,
                                              maxTokens: want.count)
            XCTAssertEqual(exact.samples[0].ids, want)
            XCTAssertEqual(exact.samples[0].stop, want.last == 50256 ? .endOfText : .maxTokens)
        }
    }

    /// The end-of-text stop: a model whose every logit favours 50256 emits it once and stops.
    func testEndOfTextIsIncludedThenStops() throws {
        let config = GPT2Config(vocabSize: 50257, contextLength: 16, nEmbd: 16, nLayer: 1, nHead: 2)
        var w = GPT2Weights.random(config: config, tied: false, biases: true, seed: 1)
        // ln_f maps every input to e0 (weight 0, bias e0); the head row of 50256 alone reads e0.
        var lnfb = [Float](repeating: 0, count: 16); lnfb[0] = 1
        w.set(TensorID(.lnfw), [Float](repeating: 0, count: 16))
        w.set(TensorID(.lnfb), lnfb)
        var head = [Float](repeating: 0, count: config.vocabSize * 16)
        head[50256 * 16] = 5
        w.set(TensorID(.lmHead), head)
        let m = GPT2Model(weights: w, backend: CPUBackend(threads: 1))
        let r = try sampleCompletions(model: m, tokenizer: try Self.tokenizer.get(), checkpoint: "eos",
                                      prompt: "Hello", mode: .greedy, maxTokens: 10)
        XCTAssertEqual(r.samples[0].ids, [50256])
        XCTAssertEqual(r.samples[0].text, "Hello<|endoftext|>")
        XCTAssertEqual(r.samples[0].stop, .endOfText)
    }

    func testWhichModesDrawNothing() {
        XCTAssertTrue(SamplingMode.greedy.drawsNothing)
        XCTAssertTrue(SamplingMode.sample(temperature: 0.7, topK: 1).drawsNothing)
        XCTAssertFalse(SamplingMode.sample(temperature: 1, topK: 2).drawsNothing)
        XCTAssertFalse(SamplingMode.sample(temperature: 1, topK: nil).drawsNothing)
    }

    func testArgmaxAndTopKTies() {
        XCTAssertEqual(argmaxToken([1, 3, 3, 2]), 1)                      // lowest id on ties, as torch.argmax
        XCTAssertEqual(topKIndices([1, 3, 3, 2, 3], k: 2), [1, 2])
        XCTAssertEqual(topKIndices([0.5, -1, 2], k: 10), [2, 0, 1])
        var logits = [Float](repeating: 0, count: 1000)
        logits[700] = 4; logits[3] = 4; logits[500] = 3
        XCTAssertEqual(topKIndices(logits, k: 3), [3, 700, 500])
        var rng = SplitMix64(seed: 1)
        for _ in 0..<20 { XCTAssertTrue([3, 700].contains(sampleToken(logits, temperature: 1, topK: 2, rng: &rng))) }
    }
}
