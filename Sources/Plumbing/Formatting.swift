// How every command and report writes JSON and counts: one configuration each.

import Foundation

public enum JSON {
    /// The encoder of every JSON output: sorted keys (stable diffs), no escaped slashes (paths stay
    /// readable), non-finite numbers as "inf", "-inf", "nan" strings (JSON has none). `pretty` adds
    /// indentation; compact output is for caches and one-line-per-record streams.
    public static func encoder(pretty: Bool = true) -> JSONEncoder {
        let enc = JSONEncoder()
        enc.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return enc
    }

    /// The decoder of what `encoder` wrote: "inf", "-inf", "nan" strings read back as those numbers.
    public static func decoder() -> JSONDecoder {
        let dec = JSONDecoder()
        dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return dec
    }

    /// XXH64 of `value` as `encoder(pretty: false)` writes it (sorted keys): the check a score-cache entry
    /// carries, so a file damaged or edited after it was written is told from one gpt2lab wrote. The cache is read
    /// back by the build that wrote it; a shard part, which travels between machines, carries a `ValueDigest`
    /// of its values instead, independent of how a JSON printer writes a number.
    public static func digest<T: Encodable>(_ value: T) throws -> String {
        let data = try encoder(pretty: false).encode(value)
        return hex64(data.withUnsafeBytes { xxh64($0) })
    }
}

/// A Double that JSON writes as null when it is NaN: a quantity that is undefined (the standard error of one
/// probe), where `JSON.encoder`'s "nan" string would be read as text. null reads back as NaN; ±inf stay "inf".
@propertyWrapper
public struct NullIfNaN: Codable, Sendable, Equatable {
    public var wrappedValue: Double
    public init(wrappedValue: Double) { self.wrappedValue = wrappedValue }
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        wrappedValue = c.decodeNil() ? .nan : try c.decode(Double.self)
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if wrappedValue.isNaN { try c.encodeNil() } else { try c.encode(wrappedValue) }
    }
}

/// `NullIfNaN` for each value of a dictionary.
@propertyWrapper
public struct NullIfNaNValues: Codable, Sendable, Equatable {
    public var wrappedValue: [String: Double]
    public init(wrappedValue: [String: Double]) { self.wrappedValue = wrappedValue }
    public init(from decoder: Decoder) throws {
        wrappedValue = try decoder.singleValueContainer().decode([String: Double?].self).mapValues { $0 ?? .nan }
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(wrappedValue.mapValues { $0.isNaN ? nil : $0 })
    }
}

/// A whole-number-valued quantity rounded and grouped ("1,234,567"), or in scientific notation when it is past
/// what an Int holds or not finite (a weight of 1.8e37 gives ‖θ‖² ≈ 3e74; `Int(x)` trapped there).
public func groupedThousands(rounding x: Double) -> String {
    guard x.isFinite, abs(x) < 9e15 else { return String(format: "%.3g", x) }
    return groupedThousands(Int(x.rounded()))
}

/// 1234567 → "1,234,567".
public func groupedThousands(_ n: Int) -> String {
    var out = ""
    for (i, ch) in String(n).reversed().enumerated() {
        if i > 0 && i % 3 == 0 && ch != "-" { out.append(",") }
        out.append(ch)
    }
    return String(out.reversed())
}

/// `x` with `decimals` decimals (a "+" before positives when `plus`), never "-0.0000": a non-zero
/// value that rounds to zero is written with two significant digits in scientific notation
/// ("-3.2e-05"), so its sign stays true, and an exact zero is "0.0000" (no sign).
public func formatDecimal(_ x: Double, decimals: Int, plus: Bool = false) -> String {
    guard x.isFinite else { return "\(x)" }
    if x == 0 { return String(format: "%.\(decimals)f", 0.0) }
    let fixed = String(format: plus ? "%+.\(decimals)f" : "%.\(decimals)f", x)
    if fixed.allSatisfy({ "+-0.".contains($0) }) { return String(format: plus ? "%+.1e" : "%.1e", x) }
    return fixed
}

/// "x ± u" as a measurement is written: u to two significant digits, x to the same decimal place, both
/// without exponents ("2516 ± 210", not "2516 ± 2.1e+02"; "26.945 ± 0.012"); just x (four significant digits)
/// when u is not finite or not positive.
public func formatMeasurement(_ x: Double, _ u: Double) -> String {
    guard x.isFinite else { return "\(x)" }
    guard u.isFinite, u > 0 else { return String(format: "%.4g", x) }
    let decimals = max(0, 1 - Int(floor(log10(u))))
    return String(format: "%.\(decimals)f ± %.\(decimals)f", x, u)
}

/// A p-value as tables print it: three decimals, or two significant digits below 0.001.
public func formatPValue(_ p: Double) -> String {
    p < 0.001 ? String(format: "%.1e", p) : String(format: "%.3f", p)
}

/// `text` in a column `width` characters wide: right-aligned (numbers), or left-aligned with `alignLeft`;
/// longer text is kept whole. The padding of every plain-text table.
public func column(_ text: String, _ width: Int, alignLeft: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - text.count))
    return alignLeft ? text + fill : fill + text
}

/// A byte count for a message: "50.3 GiB", "812.0 MiB", "4.0 KiB", "17 bytes".
public func formatBytes(_ n: Int) -> String {
    let units = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
    for (size, name) in units where n >= size { return String(format: "%.1f", Double(n) / Double(size)) + " " + name }
    return "\(n) bytes"
}

/// `message` as one printable line of at most `limit` characters: control characters a file put in it (a tensor
/// name with a newline, a pickle's binary global name) are escaped as \n, \t, \u{0} …, and a longer message is
/// cut with "…", so an error stays the one line it promises.
public func oneLine(_ message: String, limit: Int = 1000) -> String {
    var out = ""
    for scalar in message.unicodeScalars {
        switch scalar {
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}":
            out += "\\u{\(String(scalar.value, radix: 16))}"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out.count > limit ? String(out.prefix(limit - 1)) + "…" : out
}
