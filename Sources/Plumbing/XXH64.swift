// Content hashes. XXH64 (fast, not cryptographic) tells files and token streams apart in score
// keys, caches and shard parts; SHA-256 (SHA256.swift) pins the bundled vocabulary.

import Foundation

/// XXH64 of a file's bytes (seed 0), as 16 hex digits, memory-mapped. A checkpoint's identity in score
/// keys and shard parts is Checkpoints' `checkpointContentHash` (a folder hashes as the files its loader reads).
public func fileContentHash(path: String) throws -> String {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
        throw InputError(path, "is a folder, not a file")
    }
    return try bytesHash(path)
}

/// XXH64 of `names` (files in `folder`) as one list of their names and hashes, in sorted order.
public func filesContentHash(folder: String, names: [String]) throws -> String {
    let parts = try Set(names).sorted().map { "\($0):\(try bytesHash(folder + "/" + $0))" }
    return hex64(contentHash64(parts.joined(separator: "|")))
}

/// XXH64 of one file's bytes, memory-mapped.
private func bytesHash(_ path: String) throws -> String {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
        throw InputError(path, "cannot read: \(ioReason(error))")
    }
    return hex64(data.withUnsafeBytes { xxh64($0) })
}

/// An XXH64 over values in a fixed byte form (integers as 8 little-endian bytes, doubles as their bit patterns,
/// strings and optionals tagged with their length or presence), so a digest written on one machine is the same on
/// another whatever their JSON printers do with a number.
public struct ValueDigest {
    private var bytes: [UInt8] = []
    public init() {}
    public mutating func add(_ x: Int) { withUnsafeBytes(of: Int64(x).littleEndian) { bytes += $0 } }
    public mutating func add(_ x: Double) { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes += $0 } }
    public mutating func add(_ s: String) { add(s.utf8.count); bytes += s.utf8 }
    public mutating func add(_ b: Bool) { bytes.append(b ? 1 : 0) }
    public mutating func add(_ x: Int?) { add(x != nil); if let x { add(x) } }
    public mutating func add(_ x: Double?) { add(x != nil); if let x { add(x) } }
    public mutating func add(_ x: String?) { add(x != nil); if let x { add(x) } }
    public mutating func add(_ x: Bool?) { add(x != nil); if let x { add(x) } }
    public mutating func add(_ xs: [Double]) { add(xs.count); for x in xs { add(x) } }
    public mutating func add(_ xs: [Int]) { add(xs.count); for x in xs { add(x) } }
    public var hex: String { hex64(bytes.withUnsafeBytes { xxh64($0) }) }
}

/// XXH64 of a string's UTF-8 bytes.
public func contentHash64(_ s: String) -> UInt64 {
    var s = s
    return s.withUTF8 { xxh64(UnsafeRawBufferPointer($0)) }
}

/// 16 lower-case hex digits.
public func hex64(_ x: UInt64) -> String {
    let s = String(x, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

/// XXH64 (Yann Collet's xxHash, 64-bit variant), seed 0.
public func xxh64(_ buf: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
    let p1: UInt64 = 0x9E37_79B1_85EB_CA87, p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    let p3: UInt64 = 0x1656_67B1_9E37_79F9, p4: UInt64 = 0x85EB_CA77_C2B2_AE63, p5: UInt64 = 0x27D4_EB2F_1656_67C5
    @inline(__always) func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
    @inline(__always) func round(_ acc: UInt64, _ input: UInt64) -> UInt64 { rotl(acc &+ input &* p2, 31) &* p1 }
    @inline(__always) func merge(_ acc: UInt64, _ val: UInt64) -> UInt64 { (acc ^ round(0, val)) &* p1 &+ p4 }
    let n = buf.count
    var i = 0
    var h: UInt64
    @inline(__always) func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
    @inline(__always) func u32(_ o: Int) -> UInt64 { UInt64(UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: o, as: UInt32.self))) }
    if n >= 32 {
        var v1 = seed &+ p1 &+ p2, v2 = seed &+ p2, v3 = seed, v4 = seed &- p1
        while i + 32 <= n {
            v1 = round(v1, u64(i)); v2 = round(v2, u64(i + 8)); v3 = round(v3, u64(i + 16)); v4 = round(v4, u64(i + 24))
            i += 32
        }
        h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
        h = merge(h, v1); h = merge(h, v2); h = merge(h, v3); h = merge(h, v4)
    } else {
        h = seed &+ p5
    }
    h = h &+ UInt64(n)
    while i + 8 <= n { h = rotl(h ^ round(0, u64(i)), 27) &* p1 &+ p4; i += 8 }
    if i + 4 <= n { h = rotl(h ^ (u32(i) &* p1), 23) &* p2 &+ p3; i += 4 }
    while i < n { h = rotl(h ^ (UInt64(buf[i]) &* p5), 11) &* p1; i += 1 }
    h ^= h >> 33; h = h &* p2; h ^= h >> 29; h = h &* p3; h ^= h >> 32
    return h
}
