// A byte-level check run before TOMLKit parses a manifest: toml++ (inside TOMLKit) asserts on a
// few malformed inputs instead of reporting an error, which would abort the process.

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
