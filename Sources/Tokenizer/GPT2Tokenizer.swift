import Foundation
import Plumbing

/// GPT-2's byte-level BPE, identical to tiktoken's `gpt2` encoding (ids 0 ..< 50256 from the merge ranks,
/// plus `<|endoftext|>` = 50256).
///
/// Encoding = split on the literal `<|endoftext|>` (when allowed) → pre-tokenize (`PreTokenizer`) → byte-pair
/// merge each piece by rank (`bytePairMerge`). Immutable after loading, so one instance is shared freely.
public final class GPT2Tokenizer: Sendable {
    public static let endOfText: Int32 = 50256
    /// The literal text of `endOfText`.
    public static let endOfTextLiteral = "<|endoftext|>"
    /// SHA-256 of GPT-2's `gpt2.tiktoken` (the hash tiktoken pins for `gpt2`/`r50k_base`); checked on load.
    public static let pinnedSHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"

    private static let endOfTextBytes = Array(endOfTextLiteral.utf8)

    let ranks: RankTable

    /// Number of ids, `<|endoftext|>` included (50257).
    public var vocabularySize: Int { ranks.count + 1 }

    /// The vocabulary bundled with the module (`Resources/gpt2.tiktoken`, found through `Bundle.module`; an
    /// installed binary needs its `gpt2lab_Tokenizer.resources` directory beside it, as SwiftPM lays it out).
    public static func load() throws -> GPT2Tokenizer {
        guard let url = Bundle.module.url(forResource: "gpt2", withExtension: "tiktoken") else {
            throw TokenizerError(path: "Resources/gpt2.tiktoken", problem: .missingResource)
        }
        return try GPT2Tokenizer(tiktokenFile: url.path)
    }

    /// Reads a tiktoken-format vocabulary; it must be GPT-2's (its SHA-256 is checked against `pinnedSHA256`).
    public convenience init(tiktokenFile path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerError(path: path, problem: .unreadable(reason: "cannot read: \(ioReason(error))"))
        }
        let bytes = [UInt8](data)
        let digest = SHA256.hexDigest(bytes)
        guard digest == GPT2Tokenizer.pinnedSHA256 else {
            throw TokenizerError(path: path, problem: .checksumMismatch(expected: GPT2Tokenizer.pinnedSHA256, found: digest))
        }
        try self.init(ranks: RankTable(tiktoken: bytes, path: path))
    }

    init(ranks: RankTable) {
        self.ranks = ranks
    }

    // MARK: Encoding

    /// Token ids of `text`. With `allowEndOfText` the literal `<|endoftext|>` becomes id 50256 (tiktoken's
    /// `encode(text, allowed_special={"<|endoftext|>"})`); without, it is ordinary text (`encode_ordinary`).
    public func encode(_ text: String, allowEndOfText: Bool = true) -> [Int32] {
        var text = text
        return text.withUTF8 { encode(buffer: $0, allowEndOfText: allowEndOfText) }
    }

    /// Token ids of UTF-8 bytes. Invalid UTF-8 is still encoded losslessly (each bad byte is its own
    /// "other" character for the pre-tokenizer), so `decode(encode(bytes: b)) == b` for any `b`.
    public func encode(bytes: [UInt8], allowEndOfText: Bool = true) -> [Int32] {
        bytes.withUnsafeBufferPointer { encode(buffer: $0, allowEndOfText: allowEndOfText) }
    }

    func encode(buffer: UnsafeBufferPointer<UInt8>, allowEndOfText: Bool) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(buffer.count / 4 + 16)
        var cache = MergeCache()
        var start = 0
        if allowEndOfText {
            while let marker = GPT2Tokenizer.findEndOfText(buffer, from: start) {
                encodeOrdinary(buffer, start, marker, into: &ids, cache: &cache)
                ids.append(GPT2Tokenizer.endOfText)
                start = marker + GPT2Tokenizer.endOfTextBytes.count
            }
        }
        encodeOrdinary(buffer, start, buffer.count, into: &ids, cache: &cache)
        return ids
    }

    /// Offset of the next literal `<|endoftext|>` at or after `from`.
    private static func findEndOfText(_ p: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        let marker = endOfTextBytes
        let last = p.count - marker.count
        guard from <= last else { return nil }
        var i = from
        while i <= last {
            if p[i] == UInt8(ascii: "<") && p[i + 1] == UInt8(ascii: "|") {
                var match = true
                for k in 2..<marker.count where p[i + k] != marker[k] { match = false; break }
                if match { return i }
            }
            i += 1
        }
        return nil
    }

    private func encodeOrdinary(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                                into ids: inout [Int32], cache: inout MergeCache) {
        guard let base = p.baseAddress else { return }
        ranks.withLookup { lookup in
            PreTokenizer.split(p, from: start, to: end) { s, e in
                let length = e - s
                if length == 1 {
                    ids.append(lookup.byteRank[Int(p[s])])
                } else if let whole = lookup.rank(base + s, length) {
                    ids.append(whole)  // most pieces are whole tokens (" the", " and")
                } else {
                    cache.lookupOrMerge(base + s, length, lookup: lookup, into: &ids)
                }
            }
        }
    }

    // MARK: Decoding

    /// Bytes of the ids concatenated. `endOfText` decodes to `<|endoftext|>`; an id outside the vocabulary
    /// decodes to U+FFFD (`EF BF BD`) rather than trapping.
    public func decode(_ ids: [Int32]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        ranks.tokenBytes.withUnsafeBufferPointer { bytes in
            ranks.tokenStart.withUnsafeBufferPointer { starts in
                for id in ids {
                    if id >= 0 && Int(id) < ranks.count {
                        out.append(contentsOf: bytes[Int(starts[Int(id)])..<Int(starts[Int(id) + 1])])
                    } else if id == GPT2Tokenizer.endOfText {
                        out.append(contentsOf: GPT2Tokenizer.endOfTextBytes)
                    } else {
                        out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                    }
                }
            }
        }
        return out
    }

    /// Text of the ids; a partial or invalid UTF-8 sequence (e.g. half an emoji) shows as U+FFFD.
    public func decodeText(_ ids: [Int32]) -> String {
        String(decoding: decode(ids), as: UTF8.self)
    }
}

// MARK: - Byte-pair merge

/// Byte-pair merge of one pre-token: start from single bytes and repeatedly merge the adjacent pair whose
/// concatenation has the lowest rank (the leftmost on ties) until no pair is a token; appends the ranks to `ids`.
/// Short pieces (nearly all) use tiktoken's quadratic scan; long ones (a run of 10k spaces is one pre-token) use a
/// heap, which makes the same choices in O(n log n).
func bytePairMerge(_ piece: UnsafePointer<UInt8>, _ n: Int, lookup: RankTable.Lookup, into ids: inout [Int32]) {
    if n < 2 {
        if n == 1 { ids.append(lookup.byteRank[Int(piece[0])]) }
    } else if n >= 64 {
        bytePairMergeHeap(piece, n, lookup: lookup, into: &ids)
    } else {
        bytePairMergeQuadratic(piece, n, lookup: lookup, into: &ids)
    }
}

/// tiktoken's `byte_pair_merge` as written there: scan all pairs for the minimum each step. O(n²).
func bytePairMergeQuadratic(_ piece: UnsafePointer<UInt8>, _ n: Int, lookup: RankTable.Lookup, into ids: inout [Int32]) {
    // Part k is piece[starts[k] ..< starts[k + 1]] with token rank partRank[k]; pairRank[k] is the rank of parts k
    // and k+1 merged (.max when not a token). Needs n ≥ 2.
    var starts = [Int](0...n)
    var pairRank = [Int32](repeating: .max, count: n + 1)
    var partRank = (0..<n).map { lookup.byteRank[Int(piece[$0])] }
    for k in 0..<(n - 1) { pairRank[k] = lookup.rank(piece + k, 2) ?? .max }

    @inline(__always) func rankAfterMerge(_ k: Int) -> Int32 {
        // Rank of parts k and k+1 merged with k+2, looked up before k+1 is removed (hence k+3).
        guard k + 3 < starts.count else { return .max }
        return lookup.rank(piece + starts[k], starts[k + 3] - starts[k]) ?? .max
    }

    while starts.count > 2 {
        var best = Int32.max
        var at = -1
        for k in 0..<(starts.count - 1) where pairRank[k] < best {
            best = pairRank[k]
            at = k
        }
        if at < 0 { break }
        partRank[at] = best
        partRank.remove(at: at + 1)
        pairRank[at] = rankAfterMerge(at)
        if at > 0 { pairRank[at - 1] = rankAfterMerge(at - 1) }
        starts.remove(at: at + 1)
        pairRank.remove(at: at + 1)
    }
    ids.append(contentsOf: partRank)
}

/// The same merges as `bytePairMergeQuadratic`, with candidate pairs in a min-heap keyed by (rank, start) —
/// the smallest start is the leftmost pair, tiktoken's tie-break — and parts in a linked list. Entries whose
/// parts have since changed are skipped when popped (lazy deletion). O(n log n).
func bytePairMergeHeap(_ piece: UnsafePointer<UInt8>, _ n: Int, lookup: RankTable.Lookup, into ids: inout [Int32]) {
    // Parts are identified by their start offset s: [s, end[s]) with token rank partRank[s]; prevStart[s] is
    // the previous part's start (-1 for the first). A dead start belongs to no part.
    var end = [Int](1...n)
    var prevStart = [Int](-1..<(n - 1))
    var alive = [Bool](repeating: true, count: n)
    var partRank = (0..<n).map { lookup.byteRank[Int(piece[$0])] }
    var heap = PairHeap()
    for s in 0..<(n - 1) {
        if let r = lookup.rank(piece + s, 2) { heap.push(.init(rank: r, start: s, end: s + 2)) }
    }
    while let pair = heap.pop() {
        let s = pair.start
        // Still the same two parts [s, m) and [m, pair.end)?
        guard alive[s], end[s] < n, end[end[s]] == pair.end else { continue }
        let m = end[s]
        alive[m] = false
        end[s] = pair.end
        partRank[s] = pair.rank
        if pair.end < n { prevStart[pair.end] = s }
        let p = prevStart[s]
        if p >= 0, let r = lookup.rank(piece + p, pair.end - p) { heap.push(.init(rank: r, start: p, end: pair.end)) }
        if pair.end < n {
            let e = end[pair.end]
            if let r = lookup.rank(piece + s, e - s) { heap.push(.init(rank: r, start: s, end: e)) }
        }
    }
    var s = 0
    while s < n {
        ids.append(partRank[s])
        s = end[s]
    }
}

/// Binary min-heap of candidate merges ordered by (rank, start).
struct PairHeap {
    struct Pair { let rank: Int32; let start: Int; let end: Int }
    private var items: [Pair] = []

    @inline(__always) private static func less(_ a: Pair, _ b: Pair) -> Bool {
        a.rank != b.rank ? a.rank < b.rank : a.start < b.start
    }

    mutating func push(_ pair: Pair) {
        items.append(pair)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !PairHeap.less(items[i], items[parent]) { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Pair? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < items.count && PairHeap.less(items[l], items[smallest]) { smallest = l }
                if r < items.count && PairHeap.less(items[r], items[smallest]) { smallest = r }
                if smallest == i { break }
                items.swapAt(i, smallest)
                i = smallest
            }
        }
        return top
    }
}

/// Per-call memo of merged pieces that are not single tokens (long words recur in running text).
/// Local to one `encode` call, so the tokenizer itself stays immutable and `Sendable` without locks.
struct MergeCache {
    private var memo: [[UInt8]: [Int32]] = [:]

    mutating func lookupOrMerge(_ piece: UnsafePointer<UInt8>, _ n: Int, lookup: RankTable.Lookup, into ids: inout [Int32]) {
        let key = Array(UnsafeBufferPointer(start: piece, count: n))
        if let hit = memo[key] {
            ids.append(contentsOf: hit)
            return
        }
        var merged: [Int32] = []
        bytePairMerge(piece, n, lookup: lookup, into: &merged)
        ids.append(contentsOf: merged)
        if memo.count < 1 << 16 { memo[key] = merged }
    }
}
