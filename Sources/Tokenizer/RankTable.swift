/// Byte-string → merge-rank map for byte-level BPE, read from a tiktoken `.tiktoken` file.
///
/// Every token's bytes live in one flat buffer (`tokenBytes`, indexed by rank through `tokenStart`), and an
/// open-addressing hash table of ranks looks up any byte range without allocating — the BPE inner loop asks for
/// the rank of every adjacent pair, so a `[[UInt8]: Int]` dictionary (one array per probe) would dominate the cost.
struct RankTable: Sendable {
    /// Concatenated token bytes; token `r` is `tokenBytes[tokenStart[r] ..< tokenStart[r + 1]]`.
    let tokenBytes: [UInt8]
    /// Offsets into `tokenBytes`, `count + 1` entries.
    let tokenStart: [Int32]
    /// Rank of each single byte (byte-level BPE has all 256).
    let byteRank: [Int32]
    /// Hash slots holding a rank, or -1 when empty; power-of-two size, load factor ≤ 1/2.
    private let slots: [Int32]
    private let mask: Int

    /// Number of ranks (ids 0 ..< count).
    var count: Int { tokenStart.count - 1 }

    /// Parses the tiktoken format: one `base64(token) rank` per line; ranks must be exactly 0 ..< lines.
    init(tiktoken data: [UInt8], path: String) throws {
        var tokensByRank: [(start: Int, end: Int)?] = []
        var decoded: [UInt8] = []
        decoded.reserveCapacity(data.count)
        var spans: [(rank: Int, start: Int, end: Int)] = []
        spans.reserveCapacity(60_000)

        var lineNumber = 0
        var i = 0
        let n = data.count
        try data.withUnsafeBufferPointer { buf in
            while i < n {
                lineNumber += 1
                var lineEnd = i
                while lineEnd < n && buf[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
                var end = lineEnd
                if end > i && buf[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                defer { i = lineEnd + 1 }
                if end == i { continue }  // blank line (e.g. a trailing newline)

                var space = i
                while space < end && buf[space] != UInt8(ascii: " ") { space += 1 }
                guard space < end else {
                    throw TokenizerError(path: path, problem: .malformedRanks(line: lineNumber, reason: "no space"))
                }
                let start = decoded.count
                guard Base64.decode(buf, i, space, into: &decoded) else {
                    throw TokenizerError(path: path, problem: .malformedRanks(line: lineNumber, reason: "bad base64"))
                }
                var rank = 0
                var p = space + 1
                guard p < end else {
                    throw TokenizerError(path: path, problem: .malformedRanks(line: lineNumber, reason: "missing rank"))
                }
                while p < end {
                    let d = Int(buf[p]) - 48
                    guard d >= 0 && d <= 9 && rank < 100_000_000 else {
                        throw TokenizerError(path: path, problem: .malformedRanks(line: lineNumber, reason: "bad rank"))
                    }
                    rank = rank * 10 + d
                    p += 1
                }
                guard decoded.count > start else {
                    throw TokenizerError(path: path, problem: .malformedRanks(line: lineNumber, reason: "empty token"))
                }
                spans.append((rank, start, decoded.count))
            }
        }

        tokensByRank = Array(repeating: nil, count: spans.count)
        for (index, span) in spans.enumerated() {
            guard span.rank < spans.count, tokensByRank[span.rank] == nil else {
                throw TokenizerError(path: path, problem: .malformedRanks(
                    line: index + 1, reason: "rank \(span.rank) duplicated or outside 0..<\(spans.count)"))
            }
            tokensByRank[span.rank] = (span.start, span.end)
        }

        // Re-lay the bytes in rank order so a rank indexes its bytes directly.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(decoded.count)
        var starts: [Int32] = [0]
        starts.reserveCapacity(spans.count + 1)
        for case let (start, end)? in tokensByRank {
            bytes.append(contentsOf: decoded[start..<end])
            starts.append(Int32(bytes.count))
        }
        tokenBytes = bytes
        tokenStart = starts

        var size = 1024
        while size < 2 * spans.count { size <<= 1 }
        mask = size - 1
        var table = [Int32](repeating: -1, count: size)
        var single = [Int32](repeating: -1, count: 256)
        bytes.withUnsafeBufferPointer { b in
            for rank in 0..<spans.count {
                let s = Int(starts[rank]), e = Int(starts[rank + 1])
                if e - s == 1 { single[Int(b[s])] = Int32(rank) }
                var slot = Int(truncatingIfNeeded: RankTable.hash(b.baseAddress! + s, e - s)) & (size - 1)
                while table[slot] >= 0 { slot = (slot + 1) & (size - 1) }
                table[slot] = Int32(rank)
            }
        }
        slots = table
        if let missing = single.firstIndex(of: -1) {
            throw TokenizerError(path: path, problem: .malformedRanks(
                line: 0, reason: "byte 0x\(String(missing, radix: 16)) has no token, not a byte-level vocabulary"))
        }
        byteRank = single
    }

    /// FNV-1a over the bytes; keys are short (a few bytes), so a byte loop is cheaper than anything clever.
    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ length: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in 0..<length { h = (h ^ UInt64(p[i])) &* 0x100_0000_01b3 }
        return h ^ (h >> 29)
    }

    /// Rank of the byte string `p[0 ..< length]`, or nil when it is not a token.
    func rank(_ p: UnsafePointer<UInt8>, _ length: Int) -> Int32? {
        withLookup { $0.rank(p, length) }
    }

    /// Runs `body` with raw views of the tables, so hot loops do no reference counting or bounds checks.
    @inline(__always)
    func withLookup<R>(_ body: (Lookup) -> R) -> R {
        slots.withUnsafeBufferPointer { table in
            tokenStart.withUnsafeBufferPointer { starts in
                tokenBytes.withUnsafeBufferPointer { bytes in
                    byteRank.withUnsafeBufferPointer { single in
                        body(Lookup(table: table.baseAddress!, starts: starts.baseAddress!,
                                    bytes: bytes.baseAddress!, byteRank: single.baseAddress!, mask: mask))
                    }
                }
            }
        }
    }

    /// Raw, borrowed view of a `RankTable`; valid only inside `withLookup`.
    struct Lookup {
        let table: UnsafePointer<Int32>
        let starts: UnsafePointer<Int32>
        let bytes: UnsafePointer<UInt8>
        let byteRank: UnsafePointer<Int32>
        let mask: Int

        @inline(__always)
        func rank(_ p: UnsafePointer<UInt8>, _ length: Int) -> Int32? {
            var slot = Int(truncatingIfNeeded: RankTable.hash(p, length)) & mask
            while true {
                let r = table[slot]
                if r < 0 { return nil }
                let s = Int(starts[Int(r)])
                if Int(starts[Int(r) + 1]) - s == length {
                    var equal = true
                    for i in 0..<length where bytes[s + i] != p[i] { equal = false; break }
                    if equal { return r }
                }
                slot = (slot + 1) & mask
            }
        }
    }
}

/// Standard base64 (RFC 4648, `=` padding), enough for tiktoken files.
enum Base64 {
    private static let values: [UInt8] = {
        var v = [UInt8](repeating: 0xff, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            v[Int(c)] = UInt8(i)
        }
        return v
    }()

    /// Appends the decoding of `buf[start ..< end]` to `out`; false when it is not base64.
    static func decode(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, into out: inout [UInt8]) -> Bool {
        var accumulator: UInt32 = 0
        var bits = 0
        var sawPadding = false
        for i in start..<end {
            let c = buf[i]
            if c == UInt8(ascii: "=") { sawPadding = true; continue }
            let v = values[Int(c)]
            if v == 0xff || sawPadding { return false }
            accumulator = (accumulator << 6) | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return (end - start) % 4 == 0
    }
}
