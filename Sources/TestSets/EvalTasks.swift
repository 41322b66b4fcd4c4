// Benchmark files in the formats their authors publish, and each recipe's text preprocessing:
//
// - HellaSwag (rowanz/hellaswag `hellaswag_val.jsonl`): one JSON object a line with `ctx` (or `ctx_a` and
//   `ctx_b`), `endings` (4 strings), `label` (index of the true ending; an integer, or a digit string as the HF
//   datasets copy has it) and `activity_label`.
// - LAMBADA (lm-evaluation-harness's `lambada_openai`, EleutherAI's copy of OpenAI's preprocessing): one
//   `{"text": …}` a line.
//
// Text only: which tokens a recipe scores, and how, is Analysis's (Evals.swift). Strings are handled as
// sequences of Unicode scalars, because the recipes are Python and Python strings are code points
// (`len`, `strip`, `replace` and the bracket regex below all count code points).

import Foundation
import Plumbing

/// A problem with a benchmark file: one line naming the file and, when known, the line.
public struct EvalTaskError: Error, LocalizedError, Sendable, Equatable {
    public let path: String
    public let line: Int?
    public let problem: String
    public init(path: String, line: Int? = nil, _ problem: String) { self.path = path; self.line = line; self.problem = problem }
    public var errorDescription: String? { "\(path)\(line.map { ":\($0)" } ?? ""): \(problem)" }
}

/// How a HellaSwag item is turned into a context and four continuations (see `hellaswagQuery`).
public enum HellaSwagRecipe: String, CaseIterable, Sendable, Codable {
    /// karpathy/llm.c `dev/data/hellaswag.py` (and build-nanogpt's `hellaswag.py`).
    case llmc
    /// EleutherAI/lm-evaluation-harness `lm_eval/tasks/hellaswag`.
    case lmEval = "lm-eval"
}

/// One HellaSwag item as the file holds it.
public struct HellaSwagItem: Sendable, Equatable {
    /// 1-based line of the file.
    public var line: Int
    public var ctx: String?
    public var ctxA: String?
    public var ctxB: String?
    public var activityLabel: String?
    public var endings: [String]
    public var label: Int
}

/// One LAMBADA passage; the last word (after the last " ") is the target.
public struct LambadaItem: Sendable, Equatable {
    public var line: Int
    public var text: String
}

/// A recipe's rendering of an item: score each `continuations[i]` after `context`; `gold` is the true one.
public struct ChoiceQuery: Sendable, Equatable {
    public var context: String
    /// Continuation texts, each with its leading space.
    public var continuations: [String]
    /// lm-eval only: the choices' lengths in characters (code points), without the leading space — what
    /// its `acc_norm` divides by.
    public var characterLengths: [Int]?
    public var gold: Int
}

// MARK: reading

/// Reads a HellaSwag JSONL file, checking every line has what `recipe` needs: `ctx` (or `ctx_a`) for llmc;
/// `ctx_a`, `ctx_b` and `activity_label` for lm-eval; always `endings` (at least 2 strings) and a `label` that
/// indexes them. Blank lines are skipped. Throws `EvalTaskError` naming the file and line.
public func readHellaSwag(path: String, recipe: HellaSwagRecipe) throws -> [HellaSwagItem] {
    try parseHellaSwag(try readBytes(path), path: path, recipe: recipe)
}

public func parseHellaSwag(_ bytes: [UInt8], path: String, recipe: HellaSwagRecipe) throws -> [HellaSwagItem] {
    try jsonObjects(bytes, path: path).map { line, o in
        func fail(_ p: String) -> EvalTaskError { EvalTaskError(path: path, line: line, p) }
        func string(_ key: String, required: Bool) throws -> String? {
            guard let v = o[key], !(v is NSNull) else {
                if required { throw fail("missing \"\(key)\"") }
                return nil
            }
            guard let s = v as? String else { throw fail("\"\(key)\" must be a string") }
            return s
        }
        let needsLMEval = recipe == .lmEval
        let ctxA = try string("ctx_a", required: needsLMEval)
        let ctxB = try string("ctx_b", required: needsLMEval)
        let ctx = try string("ctx", required: false)
        let activity = try string("activity_label", required: needsLMEval)
        if recipe == .llmc, ctx == nil, ctxA == nil { throw fail("missing \"ctx\" (or \"ctx_a\"/\"ctx_b\")") }
        guard let rawEndings = o["endings"] else { throw fail("missing \"endings\"") }
        guard let arr = rawEndings as? [Any], arr.allSatisfy({ $0 is String }) else {
            throw fail("\"endings\" must be an array of strings")
        }
        let endings = arr.compactMap { $0 as? String }
        guard endings.count >= 2 else { throw fail("\"endings\" has \(endings.count) ending(s); a choice needs at least 2") }
        guard let rawLabel = o["label"] else { throw fail("missing \"label\"") }
        let label: Int
        let isBool = jsonBool(rawLabel) != nil   // JSON true/false also arrive as NSNumber; they are not labels
        if let s = rawLabel as? String, let n = Int(s) { label = n } else if !(rawLabel is String), !isBool, let n = rawLabel as? Int {
            label = n
        } else {
            throw fail("\"label\" must be an integer (or a string of digits), got \(String(describing: rawLabel).prefix(40))")
        }
        guard endings.indices.contains(label) else { throw fail("\"label\" \(label) is not an index of the \(endings.count) endings") }
        return HellaSwagItem(line: line, ctx: ctx, ctxA: ctxA, ctxB: ctxB, activityLabel: activity, endings: endings, label: label)
    }
}

/// Reads a LAMBADA JSONL file (`{"text": …}` a line). A text must be non-empty and end on a word (not a space),
/// so that it has a last word to predict.
public func readLambada(path: String) throws -> [LambadaItem] {
    try parseLambada(try readBytes(path), path: path)
}

public func parseLambada(_ bytes: [UInt8], path: String) throws -> [LambadaItem] {
    try jsonObjects(bytes, path: path).map { line, o in
        guard let v = o["text"] else { throw EvalTaskError(path: path, line: line, "missing \"text\"") }
        guard let text = v as? String else { throw EvalTaskError(path: path, line: line, "\"text\" must be a string") }
        guard let last = text.unicodeScalars.last, last != " " else {
            throw EvalTaskError(path: path, line: line, text.isEmpty ? "\"text\" is empty" : "\"text\" ends with a space: no last word to predict")
        }
        return LambadaItem(line: line, text: text)
    }
}

private func readBytes(_ path: String) throws -> [UInt8] {
    switch readInputFile(path) {
    case let .success(data): return [UInt8](data)
    case let .failure(problem): throw EvalTaskError(path: path, problem.text)
    }
}

/// (line number, object) of each non-blank line.
private func jsonObjects(_ bytes: [UInt8], path: String) throws -> [(Int, [String: Any])] {
    var out: [(Int, [String: Any])] = []
    do { try forEachJSONObjectLine(bytes) { out.append(($0, $1)) } } catch let p as JSONLineProblem {
        throw EvalTaskError(path: path, line: p.line, p.reason)
    }
    if out.isEmpty { throw EvalTaskError(path: path, "no examples (the file has no JSON lines)") }
    return out
}

// MARK: recipes

/// The context and continuations a recipe scores for `item`.
///
/// - llmc: "ctx = example["ctx"]" and each ending as `" " + end` (llm.c `render_example`). Without `ctx`,
///   `ctx_a + " " + ctx_b` (`ctx_a` alone when `ctx_b` is empty), which is how the file's `ctx` is made.
/// - lm-eval: `query = preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize())`,
///   `choices = [preprocess(e) for e in endings]`, continuation = " " + choice (`target_delimiter`),
///   `acc_norm` dividing by `len(choice)` (`lm_eval/tasks/hellaswag/utils.py`, `api/task.py`).
public func hellaswagQuery(_ item: HellaSwagItem, recipe: HellaSwagRecipe) -> ChoiceQuery {
    switch recipe {
    case .llmc:
        let ctx = item.ctx ?? {
            let b = item.ctxB ?? ""
            return (item.ctxA ?? "") + (b.isEmpty ? "" : " " + b)
        }()
        return ChoiceQuery(context: ctx, continuations: item.endings.map { " " + $0 }, characterLengths: nil, gold: item.label)
    case .lmEval:
        let ctx = (item.ctxA ?? "") + " " + pythonCapitalize(item.ctxB ?? "")
        let choices = item.endings.map(lmEvalPreprocess)
        return ChoiceQuery(context: lmEvalPreprocess((item.activityLabel ?? "") + ": " + ctx),
                           continuations: choices.map { " " + $0 }, characterLengths: choices.map { $0.unicodeScalars.count },
                           gold: item.label)
    }
}

/// lambada_openai: `doc_to_text = text.split(' ')[:-1]|join(' ')`, `doc_to_target = ' ' + text.split(' ')[-1]`
/// (split on the space character only, as Python's `split(' ')`): the context is the text before its last
/// U+0020, the target a space and what follows it. Code points, not Characters: a space followed by a combining
/// mark is one Swift Character but still a space to Python (found by fuzzing).
public func lambadaQuery(_ item: LambadaItem) -> (context: String, target: String) {
    let s = Array(item.text.unicodeScalars)
    guard let cut = s.lastIndex(of: " ") else { return ("", " " + item.text) }
    return (scalarsString(Array(s[..<cut])), " " + scalarsString(Array(s[(cut + 1)...])))
}

/// lm-eval's HellaSwag `preprocess`: strip; " [title]" → ". "; remove every `\[.*?\]` (shortest bracket
/// span within a line); "  " → " " (one left-to-right pass, as `str.replace`). "Brackets are artifacts of
/// the WikiHow dataset portion of HellaSwag."
public func lmEvalPreprocess(_ text: String) -> String {
    var s = pythonStrip(Array(text.unicodeScalars))
    s = replaceAll(s, Array(" [title]".unicodeScalars), Array(". ".unicodeScalars))
    var out: [Unicode.Scalar] = []
    var i = 0
    while i < s.count {
        if s[i] == "[", let j = s[(i + 1)...].firstIndex(where: { $0 == "]" || $0 == "\n" }), s[j] == "]" {
            i = j + 1
            continue
        }
        out.append(s[i]); i += 1
    }
    s = replaceAll(out, [" ", " "], [" "])
    return scalarsString(s)
}

/// Python's `str.capitalize()`: the first character in title case, the rest lower case, with CPython's
/// Final_Sigma rule (Swift's `lowercased()` has none: "ΟΔΟΣ ΑΣ" must become "Οδος ας", not "Οδοσ ασ").
public func pythonCapitalize(_ s: String) -> String {
    let u = Array(s.unicodeScalars)
    guard let first = u.first else { return s }
    var rest = ""
    for i in 1..<u.count {
        rest += u[i].value == 0x3A3 ? (isFinalSigma(u, at: i) ? "ς" : "σ") : u[i].properties.lowercaseMapping
    }
    return first.properties.titlecaseMapping + rest
}

/// CPython's `handle_capital_sigma`: Σ at `i` lowers to ς when a cased letter precedes it and none follows,
/// case-ignorable characters skipped both ways (\p{cased} \p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased})).
private func isFinalSigma(_ u: [Unicode.Scalar], at i: Int) -> Bool {
    guard let before = u[..<i].lastIndex(where: { !$0.properties.isCaseIgnorable }), u[before].properties.isCased else { return false }
    guard let after = u[(i + 1)...].firstIndex(where: { !$0.properties.isCaseIgnorable }) else { return true }
    return !u[after].properties.isCased
}

/// Python's `str.isspace()` for one code point: Unicode White_Space plus the four separators U+001C–U+001F.
public func isPythonSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace || (0x1C...0x1F).contains(c.value) }

func pythonStrip(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
    guard let a = s.firstIndex(where: { !isPythonSpace($0) }), let b = s.lastIndex(where: { !isPythonSpace($0) }) else { return [] }
    return Array(s[a...b])
}

/// Non-overlapping, left-to-right replacement of `a` by `b` (Python's `str.replace`).
func replaceAll(_ s: [Unicode.Scalar], _ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> [Unicode.Scalar] {
    var out: [Unicode.Scalar] = []
    out.reserveCapacity(s.count)
    var i = 0
    while i < s.count {
        if i + a.count <= s.count, s[i..<(i + a.count)].elementsEqual(a) { out += b; i += a.count } else { out.append(s[i]); i += 1 }
    }
    return out
}

/// A String of exactly these scalars (the recipes split and join text by code point, as Python does).
public func scalarsString(_ s: [Unicode.Scalar]) -> String {
    var v = String.UnicodeScalarView()
    v.append(contentsOf: s)
    return String(v)
}
