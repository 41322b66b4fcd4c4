// A key that says what decides a result (a score, a benchmark's predictions): two results merge or
// share a cache entry only when their keys are equal. Differences are found by reflection over the
// stored properties, so a field added to a key is compared and named without anyone remembering to.

/// What decides a result. Conformers name every stored property in `fieldNames` (tests check it).
public protocol IdentityKey: Codable, Sendable, Equatable {
    /// What messages call each stored property.
    static var fieldNames: [String: String] { get }
    /// What a nil property means, for messages ("none" when absent).
    static var noneMeans: [String: String] { get }
}

extension IdentityKey {
    public static var noneMeans: [String: String] { [:] }

    /// The stored properties' names, in declaration order.
    public var fieldLabels: [String] { Mirror(reflecting: self).children.compactMap(\.label) }

    /// Each field that differs from `other`, as "name (this vs other)", in declaration order.
    public func differences(from other: Self) -> [String] {
        zip(Mirror(reflecting: self).children, Mirror(reflecting: other).children).compactMap { a, b in
            let label = a.label ?? "?"
            let none = Self.noneMeans[label] ?? "none"
            let (x, y) = (describeField(a.value, none: none), describeField(b.value, none: none))
            return x == y ? nil : "\(Self.fieldNames[label] ?? label) (\(x) vs \(y))"
        }
    }
}

/// A field's value for a message: optionals unwrapped, nil as `none`.
private func describeField(_ value: Any, none: String) -> String {
    let m = Mirror(reflecting: value)
    guard m.displayStyle == .optional else { return "\(value)" }
    return m.children.first.map { "\($0.value)" } ?? none
}
