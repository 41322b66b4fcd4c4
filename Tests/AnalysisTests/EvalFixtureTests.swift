import Checkpoints
import Engine
import Foundation
import TestSets
import Tokenizer
import XCTest
@testable import Analysis

/// `eval` against HF transformers (bench/evals/hf_evals.py → Fixtures/evals/expected.json) on two fixture runs and
/// the files of examples/evals (written by bench/evals/make_fixtures.py):
/// HellaSwag in both recipes and LAMBADA, every example's prediction, token counts and loglikelihoods, and the
/// summary numbers. Loglikelihoods are sums of up to ~45 fp32 log-probabilities, so they are compared to
/// 1e-4 + 2.5e-5 per token (the worst seen is 5.7e-4 on a 40-token ending of about −265 nats).
final class EvalFixtureTests: XCTestCase {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let evals = here.appendingPathComponent("Fixtures/evals")
    static let runs = here.appendingPathComponent("../../examples/runs").standardized
    /// The benchmark files (examples/evals, also the demo's).
    static let files = here.appendingPathComponent("../../examples/evals").standardized

    func expected() throws -> [String: Any] {
        let data = try Data(contentsOf: Self.evals.appendingPathComponent("expected.json"))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func model(_ run: String) throws -> GPT2Model {
        let path = Self.runs.appendingPathComponent("\(run)/model.safetensors").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("examples/runs missing") }
        return GPT2Model(weights: try loadCheckpoint(path: path).weights, backend: CPUBackend(threads: 2))
    }

    /// A model whose activations overflow f32 (token embeddings of ±3e38) is refused on the first example, naming
    /// the benchmark file's line, rather than counted wrong on every example (acc 0 with exit 0).
    func testOverflowingModelIsRefused() throws {
        var w = try loadCheckpoint(path: Self.runs.appendingPathComponent("baseline/model.safetensors").path).weights
        for i in w.layout.range(TensorID(.wte)) { w.data[i] = w.data[i] >= 0 ? 3e38 : -3e38 }
        let file = Self.files.appendingPathComponent("lambada.jsonl").path
        let examples = try loadEvalExamples(task: .lambada, recipe: .llmc, path: file)
        XCTAssertThrowsError(try evaluateExamples(model: GPT2Model(weights: w, backend: CPUBackend(threads: 2)), tokenizer: try GPT2Tokenizer.load(),
                                                  examples, path: file, range: 0..<1)) { e in
            let text = (e as? LocalizedError)?.errorDescription ?? ""
            XCTAssertTrue(text.hasPrefix(file + ":") && text.contains("non-finite log-likelihood"), text)
        }
    }

    func check(_ run: String, _ task: EvalTask, _ recipe: HellaSwagRecipe) throws {
        let root = try expected()
        let r = try XCTUnwrap((root["runs"] as? [String: Any])?[run] as? [String: Any])
        let want = try XCTUnwrap(task == .lambada ? r["lambada"] as? [String: Any]
                                     : (r["hellaswag"] as? [String: Any])?[recipe.rawValue] as? [String: Any])
        let file = Self.files.appendingPathComponent(task == .lambada ? "lambada.jsonl" : "hellaswag.jsonl").path
        let examples = try loadEvalExamples(task: task, recipe: recipe, path: file)
        let preds = try evaluateExamples(model: try model(run), tokenizer: try GPT2Tokenizer.load(), examples, path: file)
        let report = EvalReport(task: task, recipe: examples.recipe, data: file, checkpoint: run, layout: "raschka", context: 256,
                                seconds: 0, predictions: preds)
        let wantPreds = try XCTUnwrap(want["predictions"] as? [[String: Any]])
        XCTAssertEqual(report.examples, wantPreds.count)
        XCTAssertEqual(report.examples, want["examples"] as? Int)
        let what = "\(run) \(task) \(examples.recipe)"
        XCTAssertEqual(report.acc, try XCTUnwrap(want["acc"] as? Double), accuracy: 1e-12, what)
        var worst = 0.0
        for (i, (got, w)) in zip(preds, wantPreds).enumerated() {
            let tokens = try XCTUnwrap(w["tokens"] as? [Int] ?? (w["tokens"] as? Int).map { [$0] })
            XCTAssertEqual(got.tokens, tokens, "\(what) example \(i) token counts")
            let lls = task == .lambada ? [got.loglikelihood ?? .nan] : got.loglikelihoods ?? []
            let wantLLs = try XCTUnwrap(task == .lambada ? (w["loglikelihood"] as? Double).map { [$0] } : w["loglikelihoods"] as? [Double])
            XCTAssertEqual(lls.count, wantLLs.count)
            for (k, (a, b)) in zip(lls, wantLLs).enumerated() {
                worst = max(worst, abs(a - b))
                XCTAssertEqual(a, b, accuracy: 1e-4 + 2.5e-5 * Double(tokens[k]), "\(what) example \(i) continuation \(k)")
            }
            if task == .lambada {
                XCTAssertEqual(got.hit, w["hit"] as? Bool, "\(what) example \(i) hit")
            } else {
                XCTAssertEqual(got.pred, w["pred"] as? Int, "\(what) example \(i) pred")
                XCTAssertEqual(got.predNorm, w["pred_norm"] as? Int, "\(what) example \(i) pred_norm")
                XCTAssertEqual(got.label, w["label"] as? Int)
            }
        }
        if task == .lambada {
            XCTAssertEqual(try XCTUnwrap(report.ppl), try XCTUnwrap(want["ppl"] as? Double), accuracy: 1e-4 * (want["ppl"] as? Double ?? 1), what)
        } else {
            XCTAssertEqual(try XCTUnwrap(report.accNorm), try XCTUnwrap(want["acc_norm"] as? Double), accuracy: 1e-12, what)
        }
        print("\(what): acc \(report.acc) acc_norm \(report.accNorm.map { "\($0)" } ?? "-") ppl \(report.ppl.map { "\($0)" } ?? "-") worst |Δ loglikelihood| \(worst)")
    }

    func testHellaSwagLLMCReference() throws { try check("reference", .hellaswag, .llmc) }
    func testHellaSwagLMEvalReference() throws { try check("reference", .hellaswag, .lmEval) }
    func testLambadaReference() throws { try check("reference", .lambada, .llmc) }
    func testHellaSwagLLMCBaseline() throws { try check("baseline", .hellaswag, .llmc) }
    func testHellaSwagLMEvalBaseline() throws { try check("baseline", .hellaswag, .lmEval) }
    func testLambadaBaseline() throws { try check("baseline", .lambada, .llmc) }

    /// lm-eval's pair encoding moves the context's trailing spaces into the continuation; an empty context
    /// becomes <|endoftext|>. Ids are tiktoken's (" Anne" = 15397, "Anne" = 43227, "." = 13, " ." = 764).
    func testPairEncoding() throws {
        let tok = try GPT2Tokenizer.load()
        XCTAssertEqual(encodePairLMEval(context: "", continuation: " Anne", tokenizer: tok),
                       ContinuationRequest(context: [50256], continuation: [15397]))
        let moved = encodePairLMEval(context: "Anne ", continuation: ".", tokenizer: tok)
        XCTAssertEqual(moved, ContinuationRequest(context: [43227], continuation: [764]))
        XCTAssertEqual(encodePairSeparately(context: "Anne ", continuation: ".", tokenizer: tok).continuation, [13])
        // A literal <|endoftext|> is the token 50256, as HF's tokenizer reads it for lm-eval (tiktoken with
        // allowed_special="all": "Anne<|endoftext|> said" = [43227, 50256, 531]); it was spelled out as text.
        XCTAssertEqual(encodePairLMEval(context: "Anne<|endoftext|>", continuation: " said", tokenizer: tok),
                       ContinuationRequest(context: [43227, 50256], continuation: [531]))
        XCTAssertEqual(encodePairSeparately(context: "Anne<|endoftext|>", continuation: " said", tokenizer: tok),
                       ContinuationRequest(context: [43227, 50256], continuation: [531]))
    }

    /// Any split into shards merges back to the unsharded predictions and numbers, bit for bit.
    func testShardsMergeExactly() throws {
        let file = Self.files.appendingPathComponent("lambada.jsonl").path
        let examples = try loadEvalExamples(task: .lambada, recipe: .llmc, path: file, limit: 10)
        let m = try model("baseline"), tok = try GPT2Tokenizer.load()
        let whole = EvalReport(task: .lambada, recipe: "lm-eval", data: file, checkpoint: "b", layout: "raschka", context: 256, seconds: 0,
                               predictions: try evaluateExamples(model: m, tokenizer: tok, examples, path: file))
        let n = 3
        let parts = try (0..<n).map { k -> (path: String, part: ShardPart<EvalShard>) in
            let range = shardRange(shard: k, of: n, units: examples.count)
            let r = EvalReport(task: .lambada, recipe: "lm-eval", data: file, checkpoint: "b", layout: "raschka", context: 256, seconds: 0,
                               predictions: try evaluateExamples(model: m, tokenizer: tok, examples, path: file, range: range))
            return ("part-\(k)", ShardPart(shard: k, shards: n, total: examples.count, start: range.lowerBound,
                                           body: EvalShard(checkpointHash: "c", dataHash: "d", heads: 4, report: r)))
        }
        let merged = try mergeShards(parts.reversed())
        XCTAssertEqual(merged.predictions, whole.predictions)
        XCTAssertEqual(merged.ppl?.bitPattern, whole.ppl?.bitPattern)
        XCTAssertEqual(merged.acc, whole.acc)
        XCTAssertThrowsError(try mergeShards([parts[0], parts[2]])) { e in
            XCTAssertEqual((e as? LocalizedError)?.errorDescription, "merge: missing shard(s) 1 of 3")
        }
        var other = parts[1]
        other.part.body.dataHash = "e"
        XCTAssertThrowsError(try mergeShards([parts[0], other, parts[2]])) { e in
            XCTAssertTrue(((e as? LocalizedError)?.errorDescription ?? "").contains("benchmark file"))
        }
        other = parts[1]
        other.part.body.heads = 2
        XCTAssertThrowsError(try mergeShards([parts[0], other, parts[2]])) { e in
            XCTAssertEqual((e as? LocalizedError)?.errorDescription,
                           "part-1: differs from part-0 in heads (2 vs 4); parts of different evals cannot be merged")
        }
        // Every stored field of the key has a name for that message.
        XCTAssertEqual(Set(parts[0].part.body.key.fieldLabels), Set(EvalKey.fieldNames.keys))
    }
}
