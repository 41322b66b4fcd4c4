/// GPT-2's pre-tokenizer, written out as a scanner over UTF-8 bytes.
///
/// It splits text exactly like the regular expression tiktoken uses for `gpt2`:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// Alternatives are tried in order at each position (a regex alternation is ordered, not longest-match):
/// 1. the lower-case contractions (case-sensitive: `'S` is `'` then `S`);
/// 2–4. an optional U+0020 space followed by a run of letters, numbers, or "other" (not space, letter or number);
/// 5. a whitespace run that is followed by non-space gives back its last character, which then leads the next
///    token (so `"  word"` → `" "`, `" word"`); a run at the end of the text is taken whole;
/// 6. otherwise a lone whitespace character before non-space is its own token.
///
/// Classes: \p{L} = general category L* (not `isAlphabetic`, which also admits marks and Nl), \p{N} = Nd, Nl, No,
/// \s = the Unicode White_Space property, with Unicode 16.0's assignments (tiktoken's; see `classify`). Swift Regex would do the same work ~50× slower, hence the hand scanner.
/// Bytes that are not valid UTF-8 (only possible through `encode(bytes:)`) count as "other", one byte each.
enum PreTokenizer {
    enum CharClass: UInt8 { case letter, number, space, other }

    /// Class of an ASCII byte by comparisons (a static table would cost a lazy-global check per character).
    /// `testASCIIClassesMatchUnicodeTables` checks this against `classify`.
    @inline(__always)
    static func asciiClass(_ b: UInt8) -> CharClass {
        if b >= UInt8(ascii: "a") { return b <= UInt8(ascii: "z") ? .letter : .other }
        if b >= UInt8(ascii: "A") { return b <= UInt8(ascii: "Z") ? .letter : .other }
        if b >= UInt8(ascii: "0") { return b <= UInt8(ascii: "9") ? .number : .other }
        if b == 0x20 || (b >= 0x09 && b <= 0x0D) { return .space }
        return .other
    }

    /// The Unicode version of the tables in tiktoken's regex engine (Rust `regex-syntax` 0.8). Letters and
    /// numbers assigned later (the Swift runtime may know newer ones) are unassigned there, i.e. "other".
    static let referenceUnicodeVersion = (major: 16, minor: 0)

    @inline(__always)
    static func classify(_ scalar: Unicode.Scalar) -> CharClass {
        let properties = scalar.properties
        let cls: CharClass
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            cls = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            cls = .number
        default:
            return properties.isWhitespace ? .space : .other
        }
        guard let age = properties.age,
              (age.major, age.minor) <= referenceUnicodeVersion else { return .other }
        return cls
    }

    /// Class and byte length of the character starting at `p[i]` (`i < n`).
    @inline(__always)
    static func classAt(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int) -> (CharClass, Int) {
        let b0 = p[i]
        if b0 < 0x80 { return (asciiClass(b0), 1) }
        return nonASCIIClassAt(p, i, n)
    }

    /// Classes of the Basic Multilingual Plane, built on first non-ASCII character (~65k `classify` calls, a few
    /// ms): a table read is several times cheaper than the Unicode property lookups it replaces.
    static let bmpClass: [CharClass] = (0..<0x10000).map { value in
        Unicode.Scalar(UInt32(value)).map(classify) ?? .other
    }

    /// Kept out of line so the ASCII path above stays small enough to inline into the scanner.
    @inline(never)
    static func nonASCIIClassAt(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int) -> (CharClass, Int) {
        guard let (scalar, length) = decodeScalar(p, i, n) else { return (.other, 1) }
        if scalar.value < 0x10000 { return (bmpClass[Int(scalar.value)], length) }
        return (classify(scalar), length)
    }

    /// Strict UTF-8 decoding of one scalar (no overlongs, no surrogates, ≤ U+10FFFF).
    @inline(__always)
    static func decodeScalar(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int) -> (Unicode.Scalar, Int)? {
        let b0 = UInt32(p[i])
        @inline(__always) func cont(_ k: Int) -> UInt32? {
            guard i + k < n else { return nil }
            let b = UInt32(p[i + k])
            return b & 0xC0 == 0x80 ? b & 0x3F : nil
        }
        var value: UInt32
        var length: Int
        switch b0 {
        case 0xC2...0xDF:
            guard let c1 = cont(1) else { return nil }
            value = (b0 & 0x1F) << 6 | c1; length = 2
        case 0xE0...0xEF:
            guard let c1 = cont(1), let c2 = cont(2) else { return nil }
            value = (b0 & 0x0F) << 12 | c1 << 6 | c2; length = 3
            guard value >= 0x800 else { return nil }
        case 0xF0...0xF4:
            guard let c1 = cont(1), let c2 = cont(2), let c3 = cont(3) else { return nil }
            value = (b0 & 0x07) << 18 | c1 << 12 | c2 << 6 | c3; length = 4
            guard value >= 0x10000 else { return nil }
        default:
            return nil
        }
        guard let scalar = Unicode.Scalar(value) else { return nil }  // surrogates, > U+10FFFF
        return (scalar, length)
    }

    /// Calls `body(start, end)` for each pre-token of `p[start ..< end]`, in order; the pieces tile the range.
    @inline(__always)
    static func split(_ p: UnsafeBufferPointer<UInt8>, from start: Int, to n: Int, _ body: (Int, Int) -> Void) {
        var i = start
        while i < n {
            let b0 = p[i]
            // 1. Contractions.
            if b0 == UInt8(ascii: "'") && i + 1 < n {
                let b1 = p[i + 1]
                if b1 == UInt8(ascii: "s") || b1 == UInt8(ascii: "t") || b1 == UInt8(ascii: "m") || b1 == UInt8(ascii: "d") {
                    body(i, i + 2); i += 2; continue
                }
                if i + 2 < n {
                    let b2 = p[i + 2]
                    if (b1 == UInt8(ascii: "r") && b2 == UInt8(ascii: "e")) || (b1 == UInt8(ascii: "v") && b2 == UInt8(ascii: "e"))
                        || (b1 == UInt8(ascii: "l") && b2 == UInt8(ascii: "l")) {
                        body(i, i + 3); i += 3; continue
                    }
                }
            }
            var (cls, length) = classAt(p, i, n)
            var runStart = i
            // 2–4. An optional single U+0020 before a letter / number / other run.
            if b0 == UInt8(ascii: " ") && i + 1 < n {
                let (next, nextLength) = classAt(p, i + 1, n)
                if next != .space {
                    cls = next
                    runStart = i + 1
                    length = nextLength
                }
            }
            if cls != .space {
                var j = runStart + length
                while j < n {
                    let (c, l) = classAt(p, j, n)
                    if c != cls { break }
                    j += l
                }
                body(i, j); i = j; continue
            }
            // 5–6. A whitespace run; before non-space it gives back its last character unless that is all it has.
            var j = i + length
            var lastStart = i
            while j < n {
                let (c, l) = classAt(p, j, n)
                if c != .space { break }
                lastStart = j
                j += l
            }
            let end = (j < n && lastStart > i) ? lastStart : j
            body(i, end); i = end
        }
    }
}
