// Benchmarks GPT-2 reproductions publish next to test loss: HellaSwag (multiple choice, two recipes) and
// LAMBADA (lm-eval's lambada_openai, a cloze). The files and each recipe's text are TestSets' (EvalTasks.swift);
// here is what becomes tokens, how they are scored, and the per-example predictions every summary, shard part
// and report comparison is made from.
//
// Tokens. lm-eval (`HFLM._encode_pair`): trailing spaces of the context move to the continuation, then
// `whole = encode(context + continuation)`, `context_enc = encode(context)`, `continuation_enc =
// whole[len(context_enc):]`; "if context == '': context_enc = [prefix_token_id]" (<|endoftext|>). llm.c
// (`render_example`): `ctx_tokens = enc.encode(ctx)`, `end_tokens = enc.encode(" " + end)`, concatenated.
// Both truncate from the left to the model's context as lm-eval does:
// `inp = (context_enc + continuation_enc)[-(max_length + 1):][:-1]` (llm.c's contexts never need it).
// A literal "<|endoftext|>" in the text is the end-of-text token 50256, as HF's tokenizer reads it for lm-eval
// (and `gpt2lab tokenize`); llm.c's tiktoken call refuses such text, so its recipe has no answer of its own.
//
// Scores. Each continuation token's log-probability comes from the engine's fp32 logits at that position,
// log-softmaxed in float64; a continuation's loglikelihood is their float64 sum, and it is "greedy" when every
// token is the argmax (ties to the lowest id, as torch.argmax). HellaSwag runs the four (context + ending) rows of
// an example as one (4, T) forward, padded at the end to the longest row (padding is never scored and, the
// attention being causal, changes nothing before it); LAMBADA runs one row per passage. Either way an example's
// numbers do not depend on its neighbours, so shards merge exactly.

import Engine
import Foundation
import TestSets
import Tokenizer

public enum EvalTask: String, Codable, CaseIterable, Sendable {
    case hellaswag, lambada

    /// What the rest of the code needs to know of a task, in one place (a new task fills in its own).
    public var info: EvalTaskInfo {
        switch self {
        case .hellaswag:
            return EvalTaskInfo(displayName: "HellaSwag", headlineMetric: "acc_norm", reportsPlainAccuracy: true,
                                reportsPerplexity: false, recipes: HellaSwagRecipe.allCases.map(\.rawValue))
        case .lambada:
            return EvalTaskInfo(displayName: "LAMBADA", headlineMetric: "acc", reportsPlainAccuracy: false,
                                reportsPerplexity: true, recipes: ["lm-eval"])
        }
    }
}

/// A benchmark task as data: its name in tables, the metric its headline and paired test use, which
/// other summaries it has, and the text recipes it can be read with (the first is the default).
public struct EvalTaskInfo: Sendable, Equatable {
    public var displayName: String
    /// "acc_norm" (HellaSwag: length-normalised choice) or "acc".
    public var headlineMetric: String
    /// Also reports plain `acc` beside a normalised headline.
    public var reportsPlainAccuracy: Bool
    /// Reports the perplexity of the target (LAMBADA).
    public var reportsPerplexity: Bool
    public var recipes: [String]

    /// Whether one example counts as right under the headline metric.
    public func headline(_ p: EvalPrediction) -> Bool { headlineMetric == "acc_norm" ? p.correctNorm : p.correct }
}

/// The token ids of one loglikelihood request.
public struct ContinuationRequest: Sendable, Equatable {
    public var context: [Int32]
    public var continuation: [Int32]
    public init(context: [Int32], continuation: [Int32]) { self.context = context; self.continuation = continuation }
}

/// Σ log p of a continuation's tokens (nats, float64), its token count, and whether greedy decoding
/// reproduces it.
public struct ContinuationScore: Sendable, Equatable {
    public var loglikelihood: Double
    public var tokens: Int
    public var greedy: Bool
}

/// lm-eval's `_encode_pair` (see the file comment); an empty context is [<|endoftext|>].
public func encodePairLMEval(context: String, continuation: String, tokenizer: GPT2Tokenizer) -> ContinuationRequest {
    if context.isEmpty {
        return ContinuationRequest(context: [GPT2Tokenizer.endOfText], continuation: tokenizer.encode(continuation))
    }
    var ctx = Array(context.unicodeScalars), cont = Array(continuation.unicodeScalars)
    let spaces = ctx.reversed().prefix { isPythonSpace($0) }.count
    if spaces > 0 { cont = Array(ctx.suffix(spaces)) + cont; ctx.removeLast(spaces) }
    let whole = tokenizer.encode(scalarsString(ctx + cont))
    let contextIDs = tokenizer.encode(scalarsString(ctx))
    return ContinuationRequest(context: contextIDs, continuation: Array(whole.dropFirst(contextIDs.count)))
}

/// llm.c's encoding: context and continuation encoded separately and concatenated; an empty context is
/// [<|endoftext|>] (llm.c has none; without a token before it the first ending token could not be scored).
public func encodePairSeparately(context: String, continuation: String, tokenizer: GPT2Tokenizer) -> ContinuationRequest {
    let c = tokenizer.encode(context)
    return ContinuationRequest(context: c.isEmpty ? [GPT2Tokenizer.endOfText] : c,
                               continuation: tokenizer.encode(continuation))
}

/// A request the engine cannot score; `evaluateExamples` names the file and line.
public struct EvalScoringError: Error, LocalizedError, Sendable {
    public let problem: String
    public var errorDescription: String? { problem }
}

/// The rows of one forward for `requests`: each context + continuation truncated from the left to the
/// model's context T, padded at the end (with end-of-text) to the longest row rounded up to `multiple`
/// (at most T); `positions` lists each request's scored positions in order (flat indices into b × L).
struct ContinuationRows {
    var inputs: [Int32], b: Int, L: Int, positions: [Int]

    init(_ requests: [ContinuationRequest], context T: Int, multiple: Int = 1) throws {
        var rows: [[Int32]] = [], scored: [[Int]] = []
        for r in requests {
            let k = r.continuation.count
            guard k >= 1 else { throw EvalScoringError(problem: "a continuation encodes to no tokens") }
            guard k <= T else { throw EvalScoringError(problem: "a continuation of \(k) tokens is longer than the model's context of \(T)") }
            let full = Array((r.context + r.continuation).suffix(T + 1))
            rows.append(Array(full.dropLast()))
            scored.append(Array((full.count - 1 - k)..<(full.count - 1)))
        }
        let longest = rows.map(\.count).max() ?? 0
        b = rows.count
        L = longest == 0 ? 0 : min(T, (longest + multiple - 1) / multiple * multiple)
        inputs = [Int32](repeating: GPT2Tokenizer.endOfText, count: b * L)
        positions = []
        for (i, row) in rows.enumerated() {
            for (t, id) in row.enumerated() { inputs[i * L + t] = id }
            for t in scored[i] { positions.append(i * L + t) }
        }
    }
}

/// Scores `requests` as the rows of one forward (padded at the end to the longest row), each truncated from
/// the left to the model's context. A continuation must be non-empty and no longer than the context.
public func scoreContinuations(model: GPT2Model, _ requests: [ContinuationRequest]) throws -> [ContinuationScore] {
    // Logit rows are V long; the softmax runs over the first Vs (GPT-2's 50257 rows of a padded head).
    let V = model.config.vocabSize, Vs = model.config.softmaxVocab
    let batch = try ContinuationRows(requests, context: model.config.contextLength)
    guard batch.L > 0 else { return [] }
    let logits = model.logits(inputs: batch.inputs, b: batch.b, t: batch.L, rows: batch.positions)
    var out: [ContinuationScore] = [], at = 0
    for r in requests {
        var ll = 0.0, greedy = true
        for target in r.continuation {
            let row = logits[(at * V)..<(at * V + Vs)]
            var best = row.startIndex, m = row[best]
            for i in row.indices where row[i] > m { m = row[i]; best = i }
            var s = 0.0
            for x in row { s += exp(Double(x - m)) }
            ll += Double(row[row.startIndex + Int(target)] - m) - log(s)
            if best - row.startIndex != Int(target) { greedy = false }
            at += 1
        }
        out.append(ContinuationScore(loglikelihood: ll, tokens: r.continuation.count, greedy: greedy))
    }
    return out
}

/// The same on a GPU: the forward's per-token NLL at the scored positions (padding has no target), and a
/// target is greedy when its logit is the row's largest (a tie counts as greedy, where the CPU takes the
/// first index). Rows are padded to a multiple of 64 so that examples of similar length reuse one scratch.
public func scoreContinuations(gpu: CUDAModel, _ requests: [ContinuationRequest]) throws -> [ContinuationScore] {
    let batch = try ContinuationRows(requests, context: gpu.config.contextLength, multiple: 64)
    guard batch.L > 0 else { return [] }
    var targets = [Int32](repeating: -1, count: batch.b * batch.L), at = 0
    for r in requests { for t in r.continuation { targets[batch.positions[at]] = t; at += 1 } }
    let (nll, greedy) = try gpu.nllAndGreedy(inputs: batch.inputs, targets: targets, b: batch.b, t: batch.L)
    var out: [ContinuationScore] = []
    at = 0
    for r in requests {
        let ps = batch.positions[at..<at + r.continuation.count]
        at += r.continuation.count
        out.append(ContinuationScore(loglikelihood: -ps.reduce(0.0) { $0 + Double(nll[$1]) }, tokens: r.continuation.count,
                                     greedy: ps.allSatisfy { greedy[$0] }))
    }
    return out
}

// MARK: examples and predictions

/// The examples of one benchmark file, read and checked for the recipe.
public enum EvalExamples: Sendable {
    case hellaswag([HellaSwagItem], HellaSwagRecipe)
    case lambada([LambadaItem])

    public var count: Int {
        switch self {
        case let .hellaswag(x, _): return x.count
        case let .lambada(x): return x.count
        }
    }
    public var task: EvalTask {
        switch self {
        case .hellaswag: return .hellaswag
        case .lambada: return .lambada
        }
    }
    /// "llmc" / "lm-eval" for HellaSwag; LAMBADA has lm-eval's recipe only.
    public var recipe: String {
        switch self {
        case let .hellaswag(_, r): return r.rawValue
        case .lambada: return task.info.recipes[0]
        }
    }
}

/// Reads `path` as `task`'s file (the first `limit` examples when given).
public func loadEvalExamples(task: EvalTask, recipe: HellaSwagRecipe, path: String, limit: Int? = nil) throws -> EvalExamples {
    switch task {
    case .hellaswag: return .hellaswag(Array(try readHellaSwag(path: path, recipe: recipe).prefix(limit ?? .max)), recipe)
    case .lambada: return .lambada(Array(try readLambada(path: path).prefix(limit ?? .max)))
    }
}

/// One example's outcome. HellaSwag: `pred` (lowest summed NLL / highest loglikelihood), `pred_norm`, `label`,
/// and each ending's `loglikelihoods` and `tokens`. LAMBADA: `hit` (greedy reproduces the target),
/// `loglikelihood` and `tokens` of the target.
public struct EvalPrediction: Codable, Sendable, Equatable {
    public var pred: Int?
    public var predNorm: Int?
    public var label: Int?
    public var loglikelihoods: [Double]?
    public var hit: Bool?
    public var loglikelihood: Double?
    public var tokens: [Int]
    enum CodingKeys: String, CodingKey { case pred, predNorm = "pred_norm", label, loglikelihoods, hit, loglikelihood, tokens }

    /// Whether the example counts as correct for `acc` / for `acc_norm` (LAMBADA: the hit, both).
    public var correct: Bool { hit ?? (pred == label) }
    public var correctNorm: Bool { hit ?? (predNorm == label) }
}

/// Index of the largest value, the first on ties (numpy's argmax; llm.c's argmin of the negated values).
func firstArgmax(_ x: [Double]) -> Int {
    var best = 0
    for i in x.indices where x[i] > x[best] { best = i }
    return best
}

/// Scores examples `range` of `examples` (all when nil), read from `path` (named in errors);
/// `progress(done, total)` after each example.
/// With `gpu`, the forwards run on it (scoreContinuations(gpu:)).
public func evaluateExamples(model: GPT2Model, gpu: CUDAModel? = nil, tokenizer: GPT2Tokenizer, _ examples: EvalExamples, path: String,
                             range: Range<Int>? = nil, progress: ((Int, Int) -> Void)? = nil) throws -> [EvalPrediction] {
    let range = range ?? 0..<examples.count
    func scoreContinuations(model: GPT2Model, _ requests: [ContinuationRequest]) throws -> [ContinuationScore] {
        let s = try gpu.map { try Analysis.scoreContinuations(gpu: $0, requests) } ?? Analysis.scoreContinuations(model: model, requests)
        // Finite weights whose activations overflow f32: refused, not counted as a wrong answer.
        guard s.allSatisfy({ $0.loglikelihood.isFinite }) else {
            throw EvalScoringError(problem: "the model's forward gives a non-finite log-likelihood (NaN or ±Inf) here: its activations overflow f32; no accuracy is given")
        }
        return s
    }
    var out: [EvalPrediction] = []
    for i in range {
        switch examples {
        case let .hellaswag(items, recipe):
            let q = hellaswagQuery(items[i], recipe: recipe)
            let encode = recipe == .llmc ? encodePairSeparately : encodePairLMEval
            let reqs = q.continuations.map { encode(q.context, $0, tokenizer) }
            let s: [ContinuationScore]
            do { s = try scoreContinuations(model: model, reqs) } catch let e as EvalScoringError {
                throw EvalTaskError(path: path, line: items[i].line, e.problem)
            }
            let lls = s.map(\.loglikelihood)
            // llmc: argmin of the summed and of the mean NLL; lm-eval: argmax of ll and of ll / len(choice).
            let norm = q.characterLengths.map { lens in zip(lls, lens).map { $0 / Double($1) } }
                ?? zip(lls, s).map { $0 / Double($1.tokens) }
            out.append(EvalPrediction(pred: firstArgmax(lls), predNorm: firstArgmax(norm), label: q.gold, loglikelihoods: lls,
                                      hit: nil, loglikelihood: nil, tokens: s.map(\.tokens)))
        case let .lambada(items):
            let (context, target) = lambadaQuery(items[i])
            let s: [ContinuationScore]
            do { s = try scoreContinuations(model: model, [encodePairLMEval(context: context, continuation: target, tokenizer: tokenizer)]) }
            catch let e as EvalScoringError { throw EvalTaskError(path: path, line: items[i].line, e.problem) }
            out.append(EvalPrediction(pred: nil, predNorm: nil, label: nil, loglikelihoods: nil, hit: s[0].greedy,
                                      loglikelihood: s[0].loglikelihood, tokens: [s[0].tokens]))
        }
        progress?(i - range.lowerBound + 1, range.count)
    }
    return out
}
