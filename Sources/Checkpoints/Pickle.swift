// A restricted pickle reader: the opcodes torch.save emits (protocol 2, plus the few protocol
// 3–4 opcodes newer writers use), and nothing that runs code. GLOBAL only names a callable; the
// host (TorchCheckpoint.swift) decides whether that name is allowed — anything else stops the
// read with the global's name — and what REDUCE of an allowed callable builds. No Python object
// is ever created: values are plain data, and containers live in one arena referred to by index,
// so self-referencing or deeply nested pickles cannot recurse, leak into a cycle or overflow the
// stack. Every length is checked against the bytes left; memo, stack, marks and objects are capped.

/// A pickled value. Containers and host objects are `.ref`s into `PickleArena.objects`.
enum PValue: Equatable {
    case none, bool(Bool), int(Int), float(Double), string(String)
    /// A bytes object (contents not kept: torch checkpoints carry none we need).
    case bytes(Int)
    /// A callable named by GLOBAL, "module.name".
    case global(String)
    case ref(Int)
}

/// A mutable list (lists, and sets read as lists).
final class PList { var items: [PValue] = [] }

/// A dict in insertion order, indexed for lookups.
final class PDict {
    private(set) var keys: [PValue] = []
    private(set) var values: [PValue] = []
    private var index: [PValue.Key: Int] = [:]

    func set(_ k: PValue, _ v: PValue) {
        if let i = index[k.key] { values[i] = v; return }
        index[k.key] = keys.count
        keys.append(k); values.append(v)
    }
    subscript(_ k: String) -> PValue? { index[.string(k)].map { values[$0] } }
    var count: Int { keys.count }
}

extension PValue {
    /// Hashable identity of a dict key (containers by object identity, as Python hashes tuples
    /// of the same objects alike only when equal — close enough for state-dict keys).
    enum Key: Hashable { case none, bool(Bool), int(Int), float(UInt64), string(String), bytes(Int), global(String), ref(Int) }
    var key: Key {
        switch self {
        case .none: return .none
        case let .bool(b): return .bool(b)
        case let .int(i): return .int(i)
        case let .float(d): return .float(d.bitPattern)
        case let .string(s): return .string(s)
        case let .bytes(n): return .bytes(n)
        case let .global(g): return .global(g)
        case let .ref(r): return .ref(r)
        }
    }
}

enum PObject {
    case tuple([PValue])
    case list(PList)
    case dict(PDict)
    /// Something the host built (a tensor, a storage), by the host's own index.
    case host(Int)
}

/// Every container a pickle built, and its result.
struct PickleArena {
    var objects: [PObject] = []
    mutating func add(_ o: PObject) -> PValue { objects.append(o); return .ref(objects.count - 1) }
    func object(_ v: PValue) -> PObject? { if case let .ref(i) = v { return objects[i] }; return nil }
    func dict(_ v: PValue) -> PDict? { if case let .dict(d)? = object(v) { return d }; return nil }
    func tuple(_ v: PValue) -> [PValue]? {
        switch object(v) {
        case let .tuple(t)?: return t
        case let .list(l)?: return l.items
        default: return nil
        }
    }
    func host(_ v: PValue) -> Int? { if case let .host(h)? = object(v) { return h }; return nil }
}

/// What a pickle's globals and persistent ids mean; the only way a pickle affects anything.
protocol PickleHost {
    /// Throws unless `global` ("module.name") is allowed.
    func checkGlobal(_ global: String) throws
    /// REDUCE / NEWOBJ of an allowed global with `args`.
    mutating func call(_ global: String, _ args: [PValue], arena: inout PickleArena) throws -> PValue
    /// BINPERSID: what persistent id `pid` stands for.
    mutating func persistentLoad(_ pid: PValue, arena: inout PickleArena) throws -> PValue
}

/// Caps on what one pickle may build.
enum PickleLimits {
    static let maxBytes = 256 << 20
    static let maxMemo = 1 << 22
    static let maxObjects = 1 << 22
    static let maxMarkDepth = 10_000
}

/// Runs the restricted pickle program in `bytes`; returns the arena and the STOP value.
func unpickle<H: PickleHost>(_ bytes: UnsafeRawBufferPointer, host: inout H, path: String) throws -> (PickleArena, PValue) {
    func fail(_ what: String, _ at: Int) -> CheckpointError { CheckpointError(path, .badHeader, "pickle: \(what) at byte \(at)") }
    guard bytes.count <= PickleLimits.maxBytes else { throw CheckpointError(path, .badHeader, "pickle of \(bytes.count) bytes exceeds the 256 MiB limit") }
    var arena = PickleArena()
    var stack: [PValue] = [], marks: [Int] = []
    var memo: [Int: PValue] = [:]
    var p = 0
    let n = bytes.count

    func take(_ k: Int, _ at: Int) throws -> UnsafeRawBufferPointer {
        guard k >= 0, k <= n - p else { throw fail("truncated (needs \(k) more bytes)", at) }
        defer { p += k }
        return UnsafeRawBufferPointer(rebasing: bytes[p..<(p + k)])
    }
    func uint(_ k: Int, _ at: Int) throws -> Int {
        let b = try take(k, at)
        var v = 0
        for i in stride(from: k - 1, through: 0, by: -1) { v = v << 8 | Int(b[i]) }
        return v
    }
    func line(_ at: Int) throws -> String {
        guard let nl = bytes[p...].firstIndex(of: 0x0A), nl - p <= 4096 else { throw fail("unterminated GLOBAL name", at) }
        defer { p = nl + 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[p..<nl]), as: UTF8.self)
    }
    func pop(_ at: Int) throws -> PValue {
        guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else { throw fail("stack underflow", at) }
        return v
    }
    func popMark(_ at: Int) throws -> [PValue] {
        guard let m = marks.popLast() else { throw fail("no MARK to pop to", at) }
        defer { stack.removeSubrange(m...) }
        return Array(stack[m...])
    }
    func push(_ v: PValue) { stack.append(v) }
    func top(_ at: Int) throws -> PValue {
        guard let v = stack.last, stack.count > (marks.last ?? 0) else { throw fail("stack underflow", at) }
        return v
    }
    func add(_ o: PObject, _ at: Int) throws -> PValue {
        guard arena.objects.count < PickleLimits.maxObjects else { throw fail("more than \(PickleLimits.maxObjects) objects", at) }
        return arena.add(o)
    }
    func put(_ i: Int, _ at: Int) throws {
        let v = try top(at)
        guard memo.count < PickleLimits.maxMemo || memo[i] != nil else { throw fail("memo exceeds \(PickleLimits.maxMemo) entries", at) }
        memo[i] = v
    }
    func get(_ i: Int, _ at: Int) throws {
        guard let v = memo[i] else { throw fail("memo GET of unset slot \(i)", at) }
        push(v)
    }
    /// A LONG's value: an int, or one wider than 64 bits (Python's ints have no bound: a hash or a counter in a
    /// checkpoint's metadata, such as an iter_num of 2⁷⁰, made the whole file unreadable) as its nearest Double,
    /// which no tensor reader takes for a shape, offset or size.
    func long(_ b: UnsafeRawBufferPointer, _ at: Int) throws -> PValue {
        if b.count <= 8 { return .int(try signed(b, at)) }
        let negative = b[b.count - 1] & 0x80 != 0
        var magnitude = 0.0
        for i in stride(from: b.count - 1, through: 0, by: -1) {   // two's complement, most significant byte first
            magnitude = magnitude * 256 + Double(negative ? ~b[i] : b[i])
        }
        return .float(negative ? -(magnitude + 1) : magnitude)
    }
    func signed(_ b: UnsafeRawBufferPointer, _ at: Int) throws -> Int {
        guard b.count <= 8 else { throw fail("integer wider than 64 bits", at) }
        if b.isEmpty { return 0 }
        var v: UInt64 = 0
        for i in stride(from: b.count - 1, through: 0, by: -1) { v = v << 8 | UInt64(b[i]) }
        if b.count < 8, b[b.count - 1] & 0x80 != 0 { v |= ~0 << UInt64(8 * b.count) }  // sign-extend
        return Int(Int64(bitPattern: v))
    }
    func dictOrList(_ v: PValue, _ at: Int) throws -> PObject {
        guard let o = arena.object(v) else { throw fail("SETITEM/APPEND target is not a container", at) }
        return o
    }
    func setItems(_ target: PValue, _ kv: [PValue], _ at: Int) throws {
        guard case let .dict(d) = try dictOrList(target, at) else { throw fail("SETITEMS target is not a dict", at) }
        guard kv.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items", at) }
        for i in stride(from: 0, to: kv.count, by: 2) { d.set(kv[i], kv[i + 1]) }
    }
    func append(_ target: PValue, _ items: [PValue], _ at: Int) throws {
        guard case let .list(l) = try dictOrList(target, at) else { throw fail("APPEND target is not a list", at) }
        l.items += items
    }

    while true {
        let at = p
        guard p < n else { throw fail("ended without STOP (truncated?)", at) }
        let op = bytes[p]
        p += 1
        switch op {
        case 0x80: _ = try take(1, at)                                        // PROTO
        case 0x95: _ = try take(8, at)                                        // FRAME
        case 0x2E:                                                            // STOP
            guard stack.count == 1, marks.isEmpty else { throw fail("STOP with \(stack.count) values on the stack", at) }
            return (arena, stack[0])
        case 0x28:                                                            // MARK
            guard marks.count < PickleLimits.maxMarkDepth else { throw fail("nesting deeper than \(PickleLimits.maxMarkDepth) MARKs", at) }
            marks.append(stack.count)
        case 0x30: _ = try pop(at)                                            // POP
        case 0x31: _ = try popMark(at)                                        // POP_MARK
        case 0x32: let v = try pop(at); push(v); push(v)                      // DUP
        case 0x4E: push(.none)                                                // NONE
        case 0x88: push(.bool(true))                                          // NEWTRUE
        case 0x89: push(.bool(false))                                         // NEWFALSE
        case 0x4B: push(.int(try uint(1, at)))                                // BININT1
        case 0x4D: push(.int(try uint(2, at)))                                // BININT2
        case 0x4A: push(.int(Int(Int32(truncatingIfNeeded: try uint(4, at)))))  // BININT
        case 0x8A: push(try long(try take(try uint(1, at), at), at))            // LONG1
        case 0x8B:                                                            // LONG4
            let k = Int(Int32(truncatingIfNeeded: try uint(4, at)))
            push(try long(try take(k, at), at))
        case 0x47:                                                            // BINFLOAT (big-endian)
            let b = try take(8, at)
            var v: UInt64 = 0
            for i in 0..<8 { v = v << 8 | UInt64(b[i]) }
            push(.float(Double(bitPattern: v)))
        case 0x58, 0x8C, 0x8D, 0x55, 0x54:                                    // BINUNICODE, SHORT_/8, SHORT_BINSTRING, BINSTRING
            let k = try uint(op == 0x8C || op == 0x55 ? 1 : op == 0x8D ? 8 : 4, at)
            push(.string(String(decoding: try take(k, at), as: UTF8.self)))
        case 0x43, 0x42, 0x8E:                                                // SHORT_BINBYTES, BINBYTES, BINBYTES8
            let k = try uint(op == 0x43 ? 1 : op == 0x42 ? 4 : 8, at)
            push(.bytes(try take(k, at).count))
        case 0x7D: push(try add(.dict(PDict()), at))                          // EMPTY_DICT
        case 0x5D, 0x8F: push(try add(.list(PList()), at))                    // EMPTY_LIST, EMPTY_SET
        case 0x29: push(try add(.tuple([]), at))                              // EMPTY_TUPLE
        case 0x85, 0x86, 0x87:                                                // TUPLE1/2/3
            var t: [PValue] = []
            for _ in 0..<Int(op - 0x84) { t.insert(try pop(at), at: 0) }
            push(try add(.tuple(t), at))
        case 0x74: push(try add(.tuple(try popMark(at)), at))                 // TUPLE
        case 0x6C:                                                            // LIST
            let l = PList(); l.items = try popMark(at); push(try add(.list(l), at))
        case 0x64:                                                            // DICT
            let kv = try popMark(at), d = try add(.dict(PDict()), at)
            try setItems(d, kv, at); push(d)
        case 0x91:                                                            // FROZENSET
            let l = PList(); l.items = try popMark(at); push(try add(.list(l), at))
        case 0x73:                                                            // SETITEM
            let v = try pop(at), k = try pop(at)
            try setItems(try top(at), [k, v], at)
        case 0x75:                                                            // SETITEMS
            let kv = try popMark(at)
            try setItems(try top(at), kv, at)
        case 0x61:                                                            // APPEND
            let v = try pop(at)
            try append(try top(at), [v], at)
        case 0x65, 0x90:                                                      // APPENDS, ADDITEMS
            let items = try popMark(at)
            try append(try top(at), items, at)
        case 0x71: try put(try uint(1, at), at)                               // BINPUT
        case 0x72: try put(try uint(4, at), at)                               // LONG_BINPUT
        case 0x94: try put(memo.count, at)                                    // MEMOIZE
        case 0x68: try get(try uint(1, at), at)                               // BINGET
        case 0x6A: try get(try uint(4, at), at)                               // LONG_BINGET
        case 0x63:                                                            // GLOBAL "module\nname\n"
            let module = try line(at), name = try line(at)
            let g = module + "." + name
            try host.checkGlobal(g)
            push(.global(g))
        case 0x93:                                                            // STACK_GLOBAL
            let name = try pop(at), module = try pop(at)
            guard case let .string(m) = module, case let .string(nm) = name else { throw fail("STACK_GLOBAL of non-strings", at) }
            try host.checkGlobal(m + "." + nm)
            push(.global(m + "." + nm))
        case 0x52, 0x81:                                                      // REDUCE, NEWOBJ
            let args = try pop(at), callable = try pop(at)
            guard case let .global(g) = callable else { throw fail("REDUCE of something that is not an allowed global", at) }
            guard let a = arena.tuple(args) else { throw fail("REDUCE arguments are not a tuple", at) }
            push(try host.call(g, a, arena: &arena))
        case 0x51:                                                            // BINPERSID
            let pid = try pop(at)
            push(try host.persistentLoad(pid, arena: &arena))
        case 0x62:                                                            // BUILD: state is data only, dropped
            _ = try pop(at)
            guard stack.count > (marks.last ?? 0) else { throw fail("BUILD with nothing to build", at) }
        default:
            let c = (0x20..<0x7F).contains(op) ? " ('\(Character(Unicode.Scalar(op)))')" : ""
            throw fail("unsupported opcode 0x\(String(op, radix: 16))\(c)", at)
        }
    }
}
