// The intervention manifest: a TOML file naming a test set, a baseline, a reference and the runs
// to compare. Everything here is checked before any scoring starts; each problem is one line
// naming the manifest, the line (when it can be found) and the key.
//
//   title = "…"              test_set = "test-persuasion.bin"      (paths relative to the manifest)
//   context / stride / skip / max_tokens (optional)               baseline = "run name"
//   reference = "run name"   reference_note = "…" (optional)      description = "…" (optional)
//   full_vocab = true (optional: softmax over every stored row of a padded vocabulary)
//   [[run]] name, checkpoint, description, seed_group, stack_of = [names], scores = "merged.json",
//           heads, lr, weight_decay, batch_size, steps, tokens, schedule
//   benchmarks (optional): hellaswag = "hellaswag_val.jsonl", hellaswag_recipe = "llmc" | "lm-eval",
//           lambada = "lambada_test.jsonl", eval_limit = N (first N examples of each)
//   per_token = true | ["run", …] (optional: token-by-token comparison with the baseline),
//           per_token_max_tokens = N (default 8192)
//   sequential (optional): ci = HALF_WIDTH (nats, > 0), ci_seed = N (default 0), ci_min_windows = N (≥ 2, default 30)
//   loss_across_steps = true (optional), with per-run step_checkpoints = ["step-000571.safetensors", …]

import Analysis
import Foundation
import Plumbing
import TOMLKit

private let topKeys: Set<String> = ["title", "description", "test_set", "context", "stride", "skip", "max_tokens",
                                    "baseline", "reference", "reference_note", "run", "full_vocab",
                                    "hellaswag", "hellaswag_recipe", "lambada", "eval_limit",
                                    "per_token", "per_token_max_tokens",
                                    "ci", "ci_seed", "ci_min_windows", "loss_across_steps"]
private let runKeys: Set<String> = ["name", "checkpoint", "description", "seed_group", "stack_of", "scores", "heads",
                                    "lr", "weight_decay", "batch_size", "steps", "tokens", "schedule", "step_checkpoints"]

/// Reads and checks a manifest: TOML syntax, known keys and types, files present, names unique,
/// baseline / reference / stack_of / seed_group naming runs. Checkpoint contents (vocabulary,
/// context) are checked by `checkRunCheckpoints` once the report's context is known.
public func loadManifest(path: String) throws -> ReportManifest {
    switch inputFileSize(path) {
    case let .failure(problem): throw ManifestError(path, "cannot read the manifest: \(problem.text)")
    case .success(0): throw ManifestError(path, "the manifest is empty")
    case .success: break
    }
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
        throw ManifestError(path, "cannot read the manifest: \(error.localizedDescription)")
    }
    if let (line, problem) = tableHeaderProblem(text) { throw ManifestError(path, line: line, "TOML syntax: \(problem)") }
    let table: TOMLTable
    do { table = try TOMLTable(string: text) } catch let e as TOMLParseError {
        throw ManifestError(path, line: e.source.begin.line, "TOML syntax: \(e.description)")
    }
    let lines = text.components(separatedBy: "\n")
    let runHeaders = lines.indices.filter { lines[$0].trimmingCharacters(in: .whitespaces).hasPrefix("[[run]]") }
    // Line (1-based) of `key =` in the top part (before the first [[run]]) or in run i's block.
    func lineOf(_ key: String, run i: Int? = nil) -> Int? {
        let from = i.map { $0 < runHeaders.count ? runHeaders[$0] : lines.count } ?? 0
        let to = i.map { $0 + 1 < runHeaders.count ? runHeaders[$0 + 1] : lines.count } ?? (runHeaders.first ?? lines.count)
        for l in from..<to {
            let t = lines[l].trimmingCharacters(in: .whitespaces)
            if t.hasPrefix(key), t.dropFirst(key.count).trimmingCharacters(in: .whitespaces).hasPrefix("=") { return l + 1 }
        }
        return i.flatMap { $0 < runHeaders.count ? runHeaders[$0] + 1 : nil }
    }
    let folder = (path as NSString).deletingLastPathComponent
    func resolve(_ p: String) -> String {
        p.hasPrefix("/") ? p : (folder.isEmpty ? p : folder + "/" + p)
    }
    func fail(_ key: String?, run i: Int? = nil, _ problem: String) -> ManifestError {
        let line = key.flatMap { lineOf($0, run: i) } ?? i.flatMap { $0 < runHeaders.count ? runHeaders[$0] + 1 : nil }
        return ManifestError(path, line: line, problem)
    }

    // Typed accessors that name the key on a type mismatch.
    func string(_ t: TOMLTable, _ key: String, run i: Int? = nil, required: Bool = false) throws -> String? {
        guard let v = t[key] else {
            if required { throw fail(nil, run: i, "missing key '\(key)'\(i.map { " in [[run]] #\($0 + 1)" } ?? "")") }
            return nil
        }
        guard let s = v.string else { throw fail(key, run: i, "key '\(key)' must be a string") }
        return s
    }
    func int(_ t: TOMLTable, _ key: String, run i: Int? = nil, min: Int = 0) throws -> Int? {
        guard let v = t[key] else { return nil }
        guard let n = v.int else { throw fail(key, run: i, "key '\(key)' must be an integer") }
        guard n >= min else { throw fail(key, run: i, "key '\(key)' must be at least \(min), got \(n)") }
        return n
    }
    func number(_ t: TOMLTable, _ key: String, run i: Int? = nil) throws -> Double? {
        guard let v = t[key] else { return nil }
        guard let x = v.double ?? v.int.map(Double.init) else { throw fail(key, run: i, "key '\(key)' must be a number") }
        guard x >= 0, x.isFinite else { throw fail(key, run: i, "key '\(key)' must be a non-negative number, got \(x)") }
        return x
    }
    /// A checkpoint may be a folder (sharded safetensors); other files may not.
    func file(_ p: String, key: String, run i: Int? = nil) throws -> String {
        let r = resolve(p)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: r, isDirectory: &isDir), !isDir.boolValue || key == "checkpoint" else {
            throw fail(key, run: i, "\(key) '\(p)': no such file (looked for \(r))")
        }
        return r
    }

    for k in table.keys where !topKeys.contains(k) {
        throw fail(k, "unknown key '\(k)' (known: \(topKeys.sorted().joined(separator: ", ")))")
    }
    let title = try string(table, "title") ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    guard let testSetRaw = try string(table, "test_set", required: true) else { throw fail(nil, "missing key 'test_set'") }
    let testSet = try file(testSetRaw, key: "test_set")
    let context = try int(table, "context", min: 1)
    let stride = try int(table, "stride", min: 1)
    if let context, let stride, stride > context { throw fail("stride", "stride \(stride) is longer than context \(context)") }
    let skip = try int(table, "skip") ?? 0
    let maxTokens = try int(table, "max_tokens", min: 2)
    guard let baseline = try string(table, "baseline", required: true) else { throw fail(nil, "missing key 'baseline'") }
    let reference = try string(table, "reference")

    guard let runArray = table["run"]?.array else {
        throw fail(nil, table["run"] == nil ? "no [[run]] entries" : "'run' must be an array of tables ([[run]])")
    }
    var runs: [RunSpec] = []
    for (i, v) in runArray.enumerated() {
        guard let t = v.table else { throw fail(nil, run: i, "[[run]] #\(i + 1) is not a table") }
        for k in t.keys where !runKeys.contains(k) {
            throw fail(k, run: i, "unknown key '\(k)' in [[run]] #\(i + 1) (known: \(runKeys.sorted().joined(separator: ", ")))")
        }
        guard let name = try string(t, "name", run: i, required: true), !name.isEmpty else {
            throw fail("name", run: i, "[[run]] #\(i + 1) has an empty name")
        }
        if runs.contains(where: { $0.name == name }) { throw fail("name", run: i, "duplicate run name '\(name)'") }
        guard let ckRaw = try string(t, "checkpoint", run: i, required: true) else { throw fail(nil, run: i, "missing checkpoint") }
        let checkpoint = try file(ckRaw, key: "checkpoint", run: i)
        var stackOf: [String] = []
        if let s = t["stack_of"] {
            guard let arr = s.array, arr.allSatisfy({ $0.string != nil }) else {
                throw fail("stack_of", run: i, "key 'stack_of' must be an array of run names")
            }
            stackOf = arr.compactMap(\.string)
        }
        let scores = try string(t, "scores", run: i).map { try file($0, key: "scores", run: i) }
        var hyper = Hyperparameters()
        hyper.lr = try number(t, "lr", run: i)
        hyper.weightDecay = try number(t, "weight_decay", run: i)
        hyper.batchSize = try int(t, "batch_size", run: i, min: 1)
        hyper.steps = try int(t, "steps", run: i, min: 1)
        hyper.tokens = try int(t, "tokens", run: i, min: 1)
        hyper.schedule = try string(t, "schedule", run: i)
        if !hyper.isEmpty { hyper.source = "manifest" }
        var curve: [(step: Double, loss: Double)] = []
        if let meta = try readRunMeta(besides: checkpoint, manifest: path) {
            hyper = merge(manifest: hyper, meta: meta.hyper, metaName: meta.file)
            curve = meta.curve
        }
        var spec = RunSpec(name: name, checkpoint: checkpoint, description: try string(t, "description", run: i),
                           seedGroup: try string(t, "seed_group", run: i), stackOf: stackOf, scores: scores,
                           heads: try int(t, "heads", run: i, min: 1), hyper: hyper, lossCurve: curve,
                           line: i < runHeaders.count ? runHeaders[i] + 1 : nil)
        if let v = t["step_checkpoints"] {
            guard let arr = v.array, arr.allSatisfy({ $0.string != nil }) else {
                throw fail("step_checkpoints", run: i, "key 'step_checkpoints' must be an array of checkpoint paths")
            }
            spec.stepCheckpoints = try arr.compactMap(\.string).map { p in
                guard trainingStep(fromPath: p) != nil else {
                    throw fail("step_checkpoints", run: i, "step checkpoint '\(p)' has no step in its name (step-N or iter=N)")
                }
                return try file(p, key: "step_checkpoints", run: i)
            }
        }
        runs.append(spec)
    }
    let names = Set(runs.map(\.name))
    let known = "runs are: \(runs.map(\.name).joined(separator: ", "))"
    if !names.contains(baseline) { throw fail("baseline", "baseline '\(baseline)' names no run (\(known))") }
    if let reference, !names.contains(reference) {
        throw fail("reference", "reference '\(reference)' names no run (\(known))")
    }
    for (i, r) in runs.enumerated() {
        for p in r.stackOf where !names.contains(p) || p == r.name {
            throw fail("stack_of", run: i, p == r.name ? "run '\(r.name)' lists itself in stack_of"
                                                      : "stack_of of '\(r.name)' names no run '\(p)' (\(known))")
        }
        if let g = r.seedGroup, !names.contains(g) {
            throw fail("seed_group", run: i, "seed_group '\(g)' of '\(r.name)' names no run (\(known))")
        }
    }
    var fullVocab = false
    if let v = table["full_vocab"] {
        guard let b = v.bool else { throw fail("full_vocab", "key 'full_vocab' must be true or false") }
        fullVocab = b
    }
    var manifest = ReportManifest(path: path, title: title, description: try string(table, "description"), testSet: testSet,
                                  context: context, stride: stride, skip: skip, maxTokens: maxTokens, baseline: baseline,
                                  reference: reference, referenceNote: try string(table, "reference_note"), runs: runs,
                                  fullVocab: fullVocab)
    manifest.evals.hellaswag = try string(table, "hellaswag").map { try file($0, key: "hellaswag") }
    manifest.evals.lambada = try string(table, "lambada").map { try file($0, key: "lambada") }
    manifest.evals.limit = try int(table, "eval_limit", min: 1)
    if let r = try string(table, "hellaswag_recipe") {
        guard manifest.evals.setHellaSwagRecipe(named: r) else {
            throw fail("hellaswag_recipe", "hellaswag_recipe '\(r)' is not a recipe (\(EvalSpec.recipeNames.joined(separator: ", ")))")
        }
        guard manifest.evals.hellaswag != nil else { throw fail("hellaswag_recipe", "hellaswag_recipe without hellaswag = \"FILE.jsonl\"") }
    }
    if let v = table["ci"] {
        guard let ci = v.double ?? v.int.map(Double.init) else { throw fail("ci", "key 'ci' must be a number (a half-width in nats)") }
        guard ci > 0, ci.isFinite else { throw fail("ci", "ci must be a positive half-width in nats, e.g. ci = 0.01; got \(ci)") }
        var rule = SequentialRule(halfWidth: ci)
        if let seed = try int(table, "ci_seed") { rule.seed = UInt64(seed) }
        if let n = try int(table, "ci_min_windows", min: 2) { rule.minWindows = n }
        manifest.sequential = rule
    } else {
        for k in ["ci_seed", "ci_min_windows"] where table[k] != nil { throw fail(k, "\(k) without ci = HALF_WIDTH") }
    }
    if let v = table["loss_across_steps"] {
        guard let b = v.bool else { throw fail("loss_across_steps", "key 'loss_across_steps' must be true or false") }
        manifest.lossAcrossSteps = b
    }
    if !manifest.lossAcrossSteps, let i = runs.firstIndex(where: { $0.stepCheckpoints != nil }) {
        throw fail("step_checkpoints", run: i, "step_checkpoints without loss_across_steps = true")
    }
    if manifest.evals.limit != nil, manifest.evals.hellaswag == nil, manifest.evals.lambada == nil {
        throw fail("eval_limit", "eval_limit without hellaswag or lambada")
    }
    if let v = table["per_token"] {
        if let all = v.bool {
            manifest.perToken = all ? runs.map(\.name).filter { $0 != baseline } : []
        } else if let arr = v.array, arr.allSatisfy({ $0.string != nil }) {
            let named = arr.compactMap(\.string)
            for n in named where !names.contains(n) {
                throw fail("per_token", "per_token names no run '\(n)' (\(known))")
            }
            if named.contains(baseline) {
                throw fail("per_token", "per_token names the baseline '\(baseline)': every per-token comparison is against it")
            }
            manifest.perToken = runs.map(\.name).filter(named.contains)
        } else {
            throw fail("per_token", "key 'per_token' must be true, false or an array of run names")
        }
    }
    if let n = try int(table, "per_token_max_tokens", min: 1) {
        guard table["per_token"] != nil else { throw fail("per_token_max_tokens", "per_token_max_tokens without per_token") }
        manifest.perTokenMaxTokens = n
    }
    return manifest
}

/// A table header whose key does not start right: `[` or `[[` (and blanks) followed by anything
/// but a bare-key character or a quote. toml++ (inside TOMLKit) asserts on these rather than
/// reporting an error, which aborts the process (found by fuzzing: a manifest holding "[" on a
/// line of its own). Lines inside multi-line strings are skipped. Returns the 1-based line.
func tableHeaderProblem(_ text: String) -> (Int, String)? {
    // A small lexer: only a line that begins outside every string can be a header. Bytes, not
    // Characters: "\r\n" and "[" + a combining mark are single Characters.
    enum Inside { case nothing, basic, literal, multiBasic, multiLiteral }
    let b = Array(text.utf8)
    let quote = UInt8(ascii: "\""), apostrophe = UInt8(ascii: "'"), newline = UInt8(0x0A), backslash = UInt8(ascii: "\\")
    func triple(_ i: Int, _ q: UInt8) -> Bool { i + 2 < b.count && b[i] == q && b[i + 1] == q && b[i + 2] == q }
    var inside = Inside.nothing, line = 1, lineStart = true, i = 0
    while i < b.count {
        let c = b[i]
        if c == newline {
            line += 1; i += 1
            if inside == .basic || inside == .literal { inside = .nothing }     // unterminated: toml++ reports it
            lineStart = inside == .nothing
            continue
        }
        switch inside {
        case .nothing:
            if lineStart {
                lineStart = false
                let end = b[i...].firstIndex(of: newline) ?? b.count
                if let problem = headerProblem(b[i..<end], String(decoding: b[i..<end], as: UTF8.self)) { return (line, problem) }
            }
            if c == UInt8(ascii: "#") { i = b[i...].firstIndex(of: newline) ?? b.count; continue }
            // "[," "[}" ",," ",}" "{," never start a value; toml++ asserts on some of them.
            if c == UInt8(ascii: "[") || c == UInt8(ascii: ",") || c == UInt8(ascii: "{") {
                var j = i + 1
                while j < b.count {
                    if b[j] == UInt8(ascii: "#") { j = b[j...].firstIndex(of: newline) ?? b.count; continue }
                    guard [0x20, 0x09, 0x0A, 0x0D].contains(b[j]) else { break }
                    j += 1
                }
                if j < b.count, b[j] == UInt8(ascii: ",") || (c != UInt8(ascii: "{") && b[j] == UInt8(ascii: "}")) {
                    return (line, "'\(Character(Unicode.Scalar(c)))' followed by '\(Character(Unicode.Scalar(b[j])))' where a value should be")
                }
            }
            if triple(i, quote) { inside = .multiBasic; i += 3; continue }
            if triple(i, apostrophe) { inside = .multiLiteral; i += 3; continue }
            if c == quote { inside = .basic } else if c == apostrophe { inside = .literal }
        case .basic, .multiBasic:
            if c == backslash, i + 1 < b.count, b[i + 1] != newline { i += 2; continue }
            if inside == .multiBasic, triple(i, quote) { inside = .nothing; i += 3; continue }
            if inside == .basic, c == quote { inside = .nothing }
        case .literal:
            if c == apostrophe { inside = .nothing }
        case .multiLiteral:
            if triple(i, apostrophe) { inside = .nothing; i += 3; continue }
        }
        i += 1
    }
    return nil
}

/// Works on bytes: a combining mark after "[" makes one Character of the two.
private func headerProblem(_ bytes: ArraySlice<UInt8>, _ line: String) -> String? {
    var rest = bytes.drop { $0 == 0x20 || $0 == 0x09 }
    guard rest.first == UInt8(ascii: "[") else { return nil }
    rest = rest.dropFirst()
    if rest.first == UInt8(ascii: "[") { rest = rest.dropFirst() }
    rest = rest.drop { $0 == 0x20 || $0 == 0x09 }
    guard let c = rest.first else { return "table header '\(line)' has no key" }
    let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
        || [UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "]")].contains(c)
    return ok ? nil : "table header '\(line)' does not start with a key"
}

/// Manifest values win; the meta file fills the gaps.
private func merge(manifest m: Hyperparameters, meta: Hyperparameters, metaName: String) -> Hyperparameters {
    var h = m
    h.lr = m.lr ?? meta.lr
    h.weightDecay = m.weightDecay ?? meta.weightDecay
    h.batchSize = m.batchSize ?? meta.batchSize
    h.steps = m.steps ?? meta.steps
    h.tokens = m.tokens ?? meta.tokens
    h.schedule = m.schedule ?? meta.schedule
    let fromMeta = (m.lr == nil && meta.lr != nil) || (m.weightDecay == nil && meta.weightDecay != nil)
        || (m.batchSize == nil && meta.batchSize != nil) || (m.steps == nil && meta.steps != nil)
        || (m.tokens == nil && meta.tokens != nil) || (m.schedule == nil && meta.schedule != nil)
    h.source = [m.source, fromMeta ? metaName : nil].compactMap { $0 }.joined(separator: "+")
    if h.source == "" { h.source = nil }
    return h
}

/// Hyperparameters and loss curve from `meta.json` (gpt2lab's example runs: `train.lr`,
/// `train.weight_decay`, `train.batch_size`, `train.schedule`, `steps`, `tokens_seen`,
/// `loss_curve` [[step, loss], …]) or `train.json` (the same keys, nested under `train` or flat)
/// beside the checkpoint; nil when neither exists.
func readRunMeta(besides checkpoint: String, manifest: String) throws
    -> (hyper: Hyperparameters, curve: [(step: Double, loss: Double)], file: String)? {
    let folder = (checkpoint as NSString).deletingLastPathComponent
    for name in ["meta.json", "train.json"] {
        let p = (folder.isEmpty ? "." : folder) + "/" + name
        guard FileManager.default.fileExists(atPath: p) else { continue }
        guard let data = FileManager.default.contents(atPath: p),
              let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ManifestError(manifest, "\(p): not a JSON object")
        }
        let train = root["train"] as? [String: Any] ?? [:]
        func value(_ k: String) -> Any? { train[k] ?? root[k] }
        func num(_ k: String) -> Double? { (value(k) as? NSNumber)?.doubleValue }
        var h = Hyperparameters()
        h.lr = num("lr")
        h.weightDecay = num("weight_decay")
        // Int(Double) traps on 1e300; a count must be a whole number an Int holds.
        func count(_ k: String) throws -> Int? {
            guard let x = num(k) else { return nil }
            guard x.isFinite, x == x.rounded(), abs(x) < 9e15 else {
                throw ManifestError(manifest, "\(p): '\(k)' is \(x), expected a whole number")
            }
            return Int(x)
        }
        h.batchSize = try count("batch_size")
        h.steps = try count("steps")
        h.tokens = try num("tokens_seen") != nil ? count("tokens_seen") : count("tokens")
        h.schedule = value("schedule") as? String
        let curve: [(step: Double, loss: Double)] = ((root["loss_curve"] as? [[Any]]) ?? []).compactMap { pair in
            guard pair.count >= 2, let s = (pair[0] as? NSNumber)?.doubleValue, let l = (pair[1] as? NSNumber)?.doubleValue
            else { return nil }
            return (s, l)
        }
        return (h, curve, name)
    }
    return nil
}
