// A shard's result on disk, written by `score --shard K/N --out` and `eval --shard K/N --out`, and
// the exact merge of a set of them.
//
// One envelope for every kind of part: `format` "gpt2lab-part", `version` 2, `kind` ("score" or
// "eval"), which shard of how many, the units (windows or examples) of the unsharded run and this
// shard's first, and the kind's body under its own name ("score": per-window NLL sums, "eval":
// per-example predictions), and `check`, the XXH64 of the split's and body's values (ValueDigest: numbers by their
// bits, not as some JSON printer writes them, so parts from several machines check alike), so a part
// damaged or edited after it was written is refused rather than merged. Shard k of n holds a contiguous range of whole batches of units
// (`shardRange`), so the merge concatenates the bodies' rows in unit order and the merged result is
// the unsharded one, bit for bit. Parts merge only when their bodies' identity keys (ScoreKey,
// EvalKey) and the split (batch, shard count, unit count) are equal; every difference is named.
// Parts in the formats before this one ("gpt2lab-score-part", "gpt2lab-eval-part", version 1 without
// `check`) are refused with one line: run the shard again.

import Foundation
import Plumbing

/// The most shards a run may be split into (a job array's size; `--shard K/N` refuses more, and a part
/// claiming more is refused by merge): a larger N only makes empty parts, and used to overflow here.
public let maxShards = 1_000_000

/// Which units shard `k` of `n` holds: whole batches of `batch` units, split evenly (0 ≤ k ≤ n ≤ maxShards).
public func shardRange(shard k: Int, of n: Int, units: Int, batch: Int = 1) -> Range<Int> {
    let batches = units / batch + (units % batch == 0 ? 0 : 1)
    func edge(_ j: Int) -> Int {   // batches·j/n without overflow, as a unit index
        let b = n.dividingFullWidth(batches.multipliedFullWidth(by: j)).quotient
        return min(units, b * batch)
    }
    return edge(k)..<edge(k + 1)
}

/// What a part holds.
public enum PartKind: String, Codable, Sendable, CaseIterable {
    case score, eval

    /// What its units are called.
    public var units: String { self == .score ? "windows" : "examples" }
    /// The unit count, as a difference names it.
    var unitCount: String { self == .score ? "window count" : "example count (--limit)" }
    /// What merged parts of this kind are.
    var results: String { self == .score ? "scores" : "evals" }
}

/// The body a kind of part carries besides the envelope.
public protocol PartBody: Codable, Sendable {
    associatedtype Key: IdentityKey
    associatedtype Merged
    static var kind: PartKind { get }
    /// What decides the rows: parts merge only when their keys are equal.
    var key: Key { get }
    /// Units per batch the split keeps whole (a score's --batch; 1 for an eval).
    var batch: Int { get }
    /// Rows (units) this shard holds.
    var rowCount: Int { get }
    /// What is wrong inside the body, if anything.
    var inconsistency: String? { get }
    /// What besides the key keeps this body from merging with `other`, if anything (as "field (a vs b)").
    func mismatch(_ other: Self) -> String?
    /// Adds every value the body holds to the part's `check`.
    func addValues(to d: inout ValueDigest)
    /// The bodies of shards 0..<n, in order, as the unsharded run's result.
    static func merged(_ bodies: [Self]) -> Merged
}

extension PartBody {
    public func mismatch(_ other: Self) -> String? { nil }
}

/// One shard's part file.
public struct ShardPart<Body: PartBody>: Codable, Sendable {
    public static var format: String { "gpt2lab-part" }
    public static var version: Int { 2 }
    public var shard: Int
    public var shards: Int
    /// Units of the whole run and this shard's first.
    public var total: Int
    public var start: Int
    public var body: Body
    /// The body's digest as the file records it (nil until read); decodePart checks it against the body.
    var check: String?

    public init(shard: Int, shards: Int, total: Int, start: Int, body: Body) {
        self.shard = shard; self.shards = shards; self.total = total; self.start = start; self.body = body
    }

    enum CodingKeys: String, CodingKey { case format, version, kind, shard, shards, total, start, check }
    private struct BodyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.format, forKey: .format); try c.encode(Self.version, forKey: .version)
        try c.encode(Body.kind, forKey: .kind)
        try c.encode(shard, forKey: .shard); try c.encode(shards, forKey: .shards)
        try c.encode(total, forKey: .total); try c.encode(start, forKey: .start)
        try c.encode(digest(), forKey: .check)
        var b = encoder.container(keyedBy: BodyKey.self)
        try b.encode(body, forKey: BodyKey(stringValue: Body.kind.rawValue))
    }

    /// The split's and the body's values in a fixed byte form (ValueDigest): what `check` records.
    func digest() -> String {
        var d = ValueDigest()
        d.add(Body.kind.rawValue); d.add(shard); d.add(shards); d.add(total); d.add(start)
        body.addValues(to: &d)
        return d.hex
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        shard = try c.decode(Int.self, forKey: .shard); shards = try c.decode(Int.self, forKey: .shards)
        total = try c.decode(Int.self, forKey: .total); start = try c.decode(Int.self, forKey: .start)
        check = try c.decode(String.self, forKey: .check)
        body = try decoder.container(keyedBy: BodyKey.self).decode(Body.self, forKey: BodyKey(stringValue: Body.kind.rawValue))
    }
}

/// A part file of any kind, as `readPart` finds it.
public enum AnyPart: Sendable {
    case score(ShardPart<ScoreShard>)
    case eval(ShardPart<EvalShard>)
}

/// A merge's result.
public enum MergedParts: Sendable {
    case score(ScoreReport)
    case eval(EvalReport)
}

/// Why a part cannot be read or a set of parts cannot be merged; one line naming the files.
public struct MergeError: Error, LocalizedError, Sendable {
    public let message: String
    public var errorDescription: String? { message }
}

/// The envelope's fields every part format has had, read before the rest.
private struct PartHead: Decodable {
    var format: String
    var version: Int?
    var kind: String?
}

/// The `format` of part files, this one and the earlier ones (what `--out` may replace).
public let partFileFormats = ["gpt2lab-part", "gpt2lab-score-part", "gpt2lab-eval-part"]

/// The `format` field of a JSON file (a part file's is one of partFileFormats).
public func partFileFormat(path: String) throws -> String {
    try readPartHead(path: path).head.format
}

/// The `format` field of JSON bytes already read, or nil when they have none.
public func partFormat(of data: Data) -> String? {
    try? JSONDecoder().decode(PartHead.self, from: data).format
}

private func readPartHead(path: String) throws -> (head: PartHead, data: Data) {
    let data: Data
    switch readInputFile(path) {
    case let .success(d): data = d
    case let .failure(problem): throw MergeError(message: "\(path): \(problem.text)")
    }
    do { return (try JSONDecoder().decode(PartHead.self, from: data), data) } catch {
        throw MergeError(message: "\(path): not a gpt2lab part file (\(shortDecodingError(error)))")
    }
}

/// Reads a part file of either kind, checking it is one of this format and whole.
public func readPart(path: String) throws -> AnyPart {
    let (head, data) = try readPartHead(path: path)
    let earlier = partFileFormats.dropFirst().contains(head.format) ? head.format
        : head.format == partFileFormats[0] && head.version == 1 ? "version 1, without a checksum" : nil
    if let earlier {
        throw MergeError(message: "\(path): a part in an earlier gpt2lab format (\(earlier)); run its shard again with this gpt2lab")
    }
    guard head.format == partFileFormats[0] else { throw MergeError(message: "\(path): not a gpt2lab part file (format \(head.format))") }
    let version = ShardPart<ScoreShard>.version
    guard head.version == version else {
        throw MergeError(message: "\(path): gpt2lab part version \(head.version.map(String.init) ?? "none"); this gpt2lab reads version \(version)")
    }
    guard let kind = head.kind.flatMap(PartKind.init(rawValue:)) else {
        throw MergeError(message: "\(path): part kind \(head.kind ?? "none") is none of \(PartKind.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    switch kind {
    case .score: return .score(try decodePart(data, path: path))
    case .eval: return .eval(try decodePart(data, path: path))
    }
}

private func decodePart<B: PartBody>(_ data: Data, path: String) throws -> ShardPart<B> {
    let part: ShardPart<B>
    do { part = try JSON.decoder().decode(ShardPart<B>.self, from: data) } catch {
        throw MergeError(message: "\(path): not a gpt2lab \(B.kind.rawValue) part (\(shortDecodingError(error)))")
    }
    guard part.check == part.digest() else {
        throw MergeError(message: "\(path): its numbers do not match the checksum gpt2lab wrote with them (the file was changed after it was written); run its shard again")
    }
    guard part.shards >= 1, part.shards <= maxShards, (0..<part.shards).contains(part.shard), part.start >= 0, part.body.inconsistency == nil else {
        throw MergeError(message: "\(path): inconsistent part (shard \(part.shard)/\(part.shards)\(part.body.inconsistency.map { ", \($0)" } ?? ""))")
    }
    return part
}

/// Merges parts (any order, one kind) into what the unsharded run prints.
public func mergeParts(_ parts: [(path: String, part: AnyPart)]) throws -> MergedParts {
    guard let first = parts.first else { throw MergeError(message: "merge: no parts given") }
    func only<B: PartBody>(_ extract: (AnyPart) -> ShardPart<B>?) throws -> [(path: String, part: ShardPart<B>)] {
        try parts.map { path, p in
            guard let part = extract(p) else {
                throw MergeError(message: "\(path): not a \(B.kind.rawValue) part like \(first.path); parts of different kinds cannot be merged")
            }
            return (path, part)
        }
    }
    switch first.part {
    case .score: return .score(try mergeShards(try only { if case let .score(p) = $0 { return p }; return nil }))
    case .eval: return .eval(try mergeShards(try only { if case let .eval(p) = $0 { return p }; return nil }))
    }
}

/// Merges parts of one kind: equal keys and split, each shard once, each holding its range.
func mergeShards<B: PartBody>(_ parts: [(path: String, part: ShardPart<B>)]) throws -> B.Merged {
    guard let (firstPath, first) = parts.first else { throw MergeError(message: "merge: no parts given") }
    for (path, p) in parts.dropFirst() {
        let diffs = p.body.key.differences(from: first.body.key)
            + (p.body.batch != first.body.batch ? ["batch (\(p.body.batch) vs \(first.body.batch))"] : [])
            + (p.shards != first.shards ? ["shard count (\(p.shards) vs \(first.shards))"] : [])
            + (p.total != first.total ? ["\(B.kind.unitCount) (\(p.total) vs \(first.total))"] : [])
        if !diffs.isEmpty {
            throw MergeError(message: "\(path): differs from \(firstPath) in \(diffs.joined(separator: ", ")); parts of different \(B.kind.results) cannot be merged")
        }
    }
    for (i, (path, p)) in parts.enumerated() {
        for (otherPath, o) in parts[..<i] {
            if let m = p.body.mismatch(o.body) { throw MergeError(message: "\(path): differs from \(otherPath) in \(m); parts of different \(B.kind.results) cannot be merged") }
        }
    }
    var byShard: [Int: (path: String, part: ShardPart<B>)] = [:]
    for (path, p) in parts {
        if let other = byShard[p.shard] {
            throw MergeError(message: "merge: shard \(p.shard)/\(first.shards) given twice (\(other.path) and \(path))")
        }
        byShard[p.shard] = (path, p)
    }
    if byShard.count < first.shards {   // each part is a distinct shard in 0..<shards: name the first few missing
        var missing: [Int] = []
        for k in 0..<first.shards where byShard[k] == nil {
            missing.append(k)
            if missing.count == 10 { break }
        }
        let count = first.shards - byShard.count
        throw MergeError(message: "merge: missing shard(s) \(missing.map(String.init).joined(separator: ", "))"
                         + (count > missing.count ? " and \(count - missing.count) more" : "") + " of \(first.shards)")
    }
    var bodies: [B] = []
    for k in 0..<first.shards {
        let (path, p) = byShard[k]!
        let want = shardRange(shard: k, of: first.shards, units: first.total, batch: first.body.batch)
        guard p.start == want.lowerBound, p.body.rowCount == want.count else {
            throw MergeError(message: "\(path): shard \(k) holds \(B.kind.units) \(p.start)..<\(p.start + p.body.rowCount), expected \(want)")
        }
        bodies.append(p.body)
    }
    return B.merged(bodies)
}

func shortDecodingError(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let k, _): return "missing key \(k.stringValue)"
    case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
        return "bad value at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
    case DecodingError.dataCorrupted(let c): return c.debugDescription
    default: return "\(error)"
    }
}
