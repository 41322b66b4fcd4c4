// Values read from JSONSerialization's output, where true and false arrive as an NSNumber like any number
// (objCType "c"): a boolean is not the number 1, and 0 or 1 is not a boolean.

import Foundation

/// A JSON true or false; nil for anything else (0 and 1 included).
public func jsonBool(_ v: Any) -> Bool? {
    if let n = v as? NSNumber { return isJSONBoolean(n) ? n.boolValue : nil }
    return v as? Bool
}

/// A JSON number (integer or not) as a Double; nil for a boolean, a string or anything else.
public func jsonNumber(_ v: Any) -> Double? {
    guard let n = v as? NSNumber, !isJSONBoolean(n) else { return nil }
    return n.doubleValue
}

private func isJSONBoolean(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

/// One JSON text (a JSONL line) parsed by JSONSerialization, with U+FEFF kept: Foundation on Linux drops a raw
/// U+FEFF (bytes EF BB BF) that opens a string value, so a LAMBADA text or HellaSwag ending beginning with one
/// lost it and tokenized differently. In valid JSON those bytes can only sit inside a string, where the escape
/// `\ufeff` means the same character and survives. Before the JSON text the bytes are a byte-order mark
/// (a file's first line), which JSONSerialization skips, and so are left as they are.
public func parseJSONLine<C: Collection>(_ line: C) throws -> Any where C.Element == UInt8 {
    let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
    var bytes: [UInt8] = []
    bytes.reserveCapacity(line.count + 8)
    var i = line.startIndex
    if line.starts(with: bom) { bytes += bom; i = line.index(i, offsetBy: 3) }
    while i != line.endIndex {
        let b = line[i]
        if b == 0xEF, line[line.index(after: i)...].starts(with: [0xBB, 0xBF]) {
            bytes += Array("\\ufeff".utf8)
            i = line.index(i, offsetBy: 3)
            continue
        }
        bytes.append(b); i = line.index(after: i)
    }
    return try JSONSerialization.jsonObject(with: Data(bytes), options: [])
}

/// Why a JSON Lines line was refused: its 1-based number and the reason ("not valid JSON (…)", "not a JSON object").
public struct JSONLineProblem: Error, Sendable, Equatable {
    public let line: Int
    public let reason: String
}

/// Calls `body` with each line of JSON Lines `bytes` that is not blank (only spaces, tabs, a CR), parsed by
/// `parseJSONLine` as a JSON object, and its 1-based line number. A line that is not valid JSON, or not an
/// object, throws `JSONLineProblem`; what `body` throws passes through.
public func forEachJSONObjectLine(_ bytes: [UInt8], _ body: (_ line: Int, _ object: [String: Any]) throws -> Void) throws {
    for (i, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
        let object: Any
        do { object = try parseJSONLine(line) } catch {
            throw JSONLineProblem(line: i + 1, reason: "not valid JSON" + parserDetail(error))
        }
        guard let o = object as? [String: Any] else { throw JSONLineProblem(line: i + 1, reason: "not a JSON object") }
        try body(i + 1, o)
    }
}

/// " (what the parser says)" from JSONSerialization's error, e.g. " (Invalid value around character 9)", or "".
private func parserDetail(_ error: Error) -> String {
    guard var said = (error as NSError).userInfo["NSDebugDescription"] as? String, !said.isEmpty else { return "" }
    said = said.replacingOccurrences(of: " in Swift", with: "")
    if said.hasSuffix(".") { said.removeLast() }
    return " (\(said))"
}
