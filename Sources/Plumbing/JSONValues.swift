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
