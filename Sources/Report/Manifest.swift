// The intervention manifest: a TOML file naming a test set, a baseline, a reference and the runs
// to compare. Its keys are declared once, in ManifestKeys.swift. Reading is three steps, and
// everything is checked before any scoring starts:
//   1. the text: a readable, non-empty file that TOMLKit parses (TOMLGuard.swift first);
//   2. one check of each table against the key table: unknown keys, missing required keys,
//      each value's type and range, files present, and what a key needs (`checkTable`);
//   3. the `ReportManifest` built from the checked values: run names unique and non-empty,
//      baseline / reference / stack_of / seed_group / per_token naming runs, hyperparameters
//      from a meta.json / train.json beside the checkpoint filling the manifest's gaps.
// Each problem is one line naming the manifest, the line (when it can be found) and the key.

import Analysis
import Foundation
import Plumbing
import TOMLKit

/// Reads and checks a manifest: TOML syntax, known keys and types, files present, names unique,
/// baseline / reference / stack_of / seed_group naming runs. Checkpoint contents (vocabulary,
/// context) are checked by `compareRuns` once the report's context is known.
public func loadManifest(path: String) throws -> ReportManifest {
    let text = try readManifestText(path: path)
    if let (line, problem) = tableHeaderProblem(text) { throw ManifestError(path, line: line, "TOML syntax: \(problem)") }
    let table: TOMLTable
    do { table = try TOMLTable(string: text) } catch let e as TOMLParseError {
        throw ManifestError(path, line: e.source.begin.line, "TOML syntax: \(e.description)")
    }
    let source = ManifestSource(path: path, text: text)
    let top = try source.checkTable(table, scope: .top, run: nil, top: nil)
    guard case let .tables(runTables)? = top.values["run"] else { preconditionFailure("run is a required key") }
    let runs = try runTables.enumerated().map { try source.checkTable($1, scope: .run, run: $0, top: top) }
    return try source.build(top: top, runs: runs)
}

private func readManifestText(path: String) throws -> String {
    switch inputFileSize(path) {
    case let .failure(problem): throw ManifestError(path, "cannot read the manifest: \(problem.text)")
    case .success(0): throw ManifestError(path, "the manifest is empty")
    case .success: break
    }
    do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
        throw ManifestError(path, "cannot read the manifest: \(ioReason(error))")
    }
}

/// A value that passed its key's check (file paths resolved).
enum ManifestValue {
    case text(String), count(Int), number(Double), flag(Bool), names([String]), tables([TOMLTable])
    /// `per_token = true | false`.
    case allRuns(Bool)
    /// `interpolate = [["a", "b"], …]`.
    case pairs([RunPair])
}

/// One table's checked values, by key.
struct CheckedTable {
    var values: [String: ManifestValue] = [:]
    func text(_ key: String) -> String? { if case let .text(s)? = values[key] { return s }; return nil }
    func count(_ key: String) -> Int? { if case let .count(n)? = values[key] { return n }; return nil }
    func number(_ key: String) -> Double? { if case let .number(x)? = values[key] { return x }; return nil }
    func flag(_ key: String) -> Bool? { if case let .flag(b)? = values[key] { return b }; return nil }
    func names(_ key: String) -> [String]? { if case let .names(n)? = values[key] { return n }; return nil }
    func pairs(_ key: String) -> [RunPair]? { if case let .pairs(p)? = values[key] { return p }; return nil }
    /// Whether `key` is given (and, for a flag, true): what a key's `needs` asks for.
    func gives(_ key: String) -> Bool {
        guard let v = values[key] else { return false }
        if case .flag(false) = v { return false }
        return true
    }
}

/// The manifest's text, for line numbers and paths.
struct ManifestSource {
    let path: String
    let lines: [String]
    /// Line index (0-based) of each `[[run]]` header.
    let runHeaders: [Int]
    let folder: String

    init(path: String, text: String) {
        self.path = path
        let lines = text.components(separatedBy: "\n")
        self.lines = lines
        runHeaders = lines.indices.filter { lines[$0].trimmingCharacters(in: .whitespaces).hasPrefix("[[run]]") }
        folder = (path as NSString).deletingLastPathComponent
    }

    /// Line (1-based) of run i's `[[run]]` header.
    func runLine(_ i: Int) -> Int? { i < runHeaders.count ? runHeaders[i] + 1 : nil }

    /// Line (1-based) of `key =` in the top part (before the first [[run]]) or in run i's block.
    func lineOf(_ key: String, run i: Int? = nil) -> Int? {
        let from = i.map { $0 < runHeaders.count ? runHeaders[$0] : lines.count } ?? 0
        let to = i.map { $0 + 1 < runHeaders.count ? runHeaders[$0 + 1] : lines.count } ?? (runHeaders.first ?? lines.count)
        for l in from..<to {
            let t = lines[l].trimmingCharacters(in: .whitespaces)
            if t.hasPrefix(key), t.dropFirst(key.count).trimmingCharacters(in: .whitespaces).hasPrefix("=") { return l + 1 }
        }
        return i.flatMap(runLine)
    }

    /// A problem at `key`'s line (else run i's header line, else no line).
    func fail(_ key: String?, run i: Int? = nil, _ problem: String) -> ManifestError {
        ManifestError(path, line: key.flatMap { lineOf($0, run: i) } ?? i.flatMap(runLine), problem)
    }

    /// `p` resolved against the manifest's folder; it must exist, and be a file unless `folderAllowed`.
    func file(_ p: String, key: String, run i: Int?, folderAllowed: Bool = false) throws -> String {
        let r = p.hasPrefix("/") ? p : (folder.isEmpty ? p : folder + "/" + p)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: r, isDirectory: &isDir) else {
            throw fail(key, run: i, "\(key) '\(p)': no such file (looked for \(r))")
        }
        guard !isDir.boolValue || folderAllowed else { throw fail(key, run: i, "\(key) '\(p)' is a folder, expected a file (\(r))") }
        return r
    }

    /// The one check of a table against `manifestKeys`: unknown keys, then each key of `scope` in
    /// the key table's order (a missing required one, a value not of its kind), then what each
    /// given key needs from `top` (the top table itself when nil).
    func checkTable(_ table: TOMLTable, scope: ManifestScope, run i: Int?, top: CheckedTable?) throws -> CheckedTable {
        let keys = manifestKeys(in: scope)
        let known = keys.map(\.name)
        let inRun = i.map { " in [[run]] #\($0 + 1)" } ?? ""
        for k in table.keys where !known.contains(k) {
            throw fail(k, run: i, "unknown key '\(k)'\(inRun) (known: \(known.sorted().joined(separator: ", ")))")
        }
        var checked = CheckedTable()
        for key in keys {
            if let v = table[key.name] {
                checked.values[key.name] = try checkValue(v, key, run: i)
            } else if key.required {
                throw fail(nil, run: i, key.kind.isRunTables ? "no [[run]] entries" : "missing key '\(key.name)'\(inRun)")
            }
        }
        for key in keys where checked.values[key.name] != nil {
            if let needs = key.needs, !needs.keys.contains(where: (top ?? checked).gives) {
                throw fail(key.name, run: i, "\(key.name) without \(needs.phrase)")
            }
        }
        return checked
    }

    /// `v` checked against `key`'s kind: one message per kind for a value that is not one.
    func checkValue(_ v: TOMLValueConvertible, _ key: ManifestKey, run i: Int?) throws -> ManifestValue {
        let k = key.name
        func string() throws -> String {
            guard let s = v.string else { throw fail(k, run: i, "key '\(k)' must be a string") }
            return s
        }
        func strings(_ what: String) throws -> [String] {
            guard let arr = v.array, arr.allSatisfy({ $0.string != nil }) else { throw fail(k, run: i, "key '\(k)' must be an array of \(what)") }
            return arr.compactMap(\.string)
        }
        func number() -> Double? { v.double ?? v.int.map(Double.init) }
        switch key.kind {
        case .text:
            return .text(try string())
        case .file, .checkpoint:
            return .text(try file(try string(), key: k, run: i, folderAllowed: key.kind.isCheckpoint))
        case let .count(min):
            guard let n = v.int else { throw fail(k, run: i, "key '\(k)' must be an integer") }
            guard n >= min else { throw fail(k, run: i, "key '\(k)' must be at least \(min), got \(n)") }
            return .count(n)
        case .amount:
            guard let x = number() else { throw fail(k, run: i, "key '\(k)' must be a number") }
            guard x >= 0, x.isFinite else { throw fail(k, run: i, "key '\(k)' must be a non-negative number, got \(x)") }
            return .number(x)
        case .halfWidth:
            guard let x = number() else { throw fail(k, run: i, "key '\(k)' must be a number (a half-width in nats)") }
            guard x > 0, x.isFinite else { throw fail(k, run: i, "\(k) must be a positive half-width in nats, e.g. \(k) = 0.01; got \(x)") }
            return .number(x)
        case .flag:
            guard let b = v.bool else { throw fail(k, run: i, "key '\(k)' must be true or false") }
            return .flag(b)
        case let .choice(options, what):
            let s = try string()
            guard options.contains(s) else { throw fail(k, run: i, "\(k) '\(s)' is not \(what) (\(options.joined(separator: ", ")))") }
            return .text(s)
        case .runNames:
            return .names(try strings("run names"))
        case .stepFiles:
            return .names(try strings("checkpoint paths").map { p in
                guard trainingStep(fromPath: p) != nil else {
                    throw fail(k, run: i, "step checkpoint '\(p)' has no step in its name (step-N or iter=N)")
                }
                return try file(p, key: k, run: i)
            })
        case .flagOrRunNames:
            if let all = v.bool { return .allRuns(all) }
            guard let arr = v.array, arr.allSatisfy({ $0.string != nil }) else {
                throw fail(k, run: i, "key '\(k)' must be true, false or an array of run names")
            }
            return .names(arr.compactMap(\.string))
        case .runPairs:
            guard let arr = v.array, arr.allSatisfy({ ($0.array?.count ?? 0) == 2 && $0.array!.allSatisfy { $0.string != nil } }) else {
                throw fail(k, run: i, "key '\(k)' must be an array of run-name pairs, e.g. \(k) = [[\"a\", \"b\"]]")
            }
            return .pairs(arr.map { p in RunPair(p.array![0].string!, p.array![1].string!) })
        case .runTables:
            guard let arr = v.array else { throw fail(nil, "'\(k)' must be an array of tables ([[run]])") }
            return .tables(try arr.enumerated().map { j, e in
                guard let t = e.table else { throw fail(nil, run: j, "[[run]] #\(j + 1) is not a table") }
                return t
            })
        }
    }
}

extension ManifestValueKind {
    var isRunTables: Bool { if case .runTables = self { return true }; return false }
    var isCheckpoint: Bool { if case .checkpoint = self { return true }; return false }
}
