// Content hashes. XXH64 (fast, not cryptographic) tells files and token streams apart in score
// keys, caches and shard parts; SHA-256 (SHA256.swift) pins the bundled vocabulary.

import Foundation

/// XXH64 of a regular file's bytes (seed 0), as 16 hex digits, read in 8 MiB pieces. A checkpoint's identity in
/// score keys and shard parts is Checkpoints' `checkpointContentHash` (a folder hashes as the files its loader reads).
/// Not mapped: a mapping touched end to end counts the whole file in the process's resident memory (a nanoGPT ckpt.pt
/// is three times its model: weights and AdamW's two moments), and a file truncated while mapped (torch.save rewriting
/// a checkpoint in place) kills the reader with SIGBUS, where a read just comes back short and the caller's stamp
/// check refuses the file with one line. Anything but a regular file is refused before it is opened (a FIFO would
/// block, then be consumed).
public func fileContentHash(path: String) throws -> String {
    if case let .failure(problem) = inputFileSize(path) { throw InputError(path, problem.text) }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw InputError(path, "cannot read: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let size = 8 << 20   // a multiple of 32: every piece but the last feeds whole stripes
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
    defer { buffer.deallocate() }
    var state = XXH64Stream()
    while true {
        var filled = 0
        while filled < size {
            let got = read(fd, buffer.baseAddress! + filled, size - filled)
            if got < 0 {
                if errno == EINTR { continue }
                throw InputError(path, "cannot read: \(String(cString: strerror(errno)))")
            }
            if got == 0 { break }
            filled += got
        }
        let piece = UnsafeRawBufferPointer(rebasing: buffer[0..<filled])
        if filled < size { return hex64(state.finish(piece)) }
        state.stripes(piece)
    }
}

/// XXH64 of `names` (files in `folder`) as one list of their names and hashes, in sorted order.
public func filesContentHash(folder: String, names: [String]) throws -> String {
    let parts = try Set(names).sorted().map { "\($0):\(try fileContentHash(path: folder + "/" + $0))" }
    return hex64(contentHash64(parts.joined(separator: "|")))
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
    var state = XXH64Stream(seed: seed)
    let whole = buf.count & ~31
    state.stripes(UnsafeRawBufferPointer(rebasing: buf[0..<whole]))
    return state.finish(UnsafeRawBufferPointer(rebasing: buf[whole...]))
}

/// XXH64 over bytes that arrive in pieces: `stripes` takes every piece but the last (each a multiple of 32 bytes),
/// `finish` the last (any length) and gives the hash of them all, as `xxh64` of the whole.
public struct XXH64Stream {
    private static let p1: UInt64 = 0x9E37_79B1_85EB_CA87, p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let p3: UInt64 = 0x1656_67B1_9E37_79F9, p4: UInt64 = 0x85EB_CA77_C2B2_AE63, p5: UInt64 = 0x27D4_EB2F_1656_67C5
    private let seed: UInt64
    private var v1: UInt64, v2: UInt64, v3: UInt64, v4: UInt64
    private var striped = 0

    public init(seed: UInt64 = 0) {
        self.seed = seed
        v1 = seed &+ Self.p1 &+ Self.p2; v2 = seed &+ Self.p2; v3 = seed; v4 = seed &- Self.p1
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
    @inline(__always) private static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 { rotl(acc &+ input &* p2, 31) &* p1 }
    @inline(__always) private static func merge(_ acc: UInt64, _ val: UInt64) -> UInt64 { (acc ^ round(0, val)) &* p1 &+ p4 }

    /// Feeds `buf`, whose length must be a multiple of 32.
    public mutating func stripes(_ buf: UnsafeRawBufferPointer) {
        precondition(buf.count % 32 == 0, "XXH64Stream.stripes takes whole 32-byte stripes")
        @inline(__always) func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        var a = v1, b = v2, c = v3, d = v4, i = 0
        while i + 32 <= buf.count {
            a = Self.round(a, u64(i)); b = Self.round(b, u64(i + 8)); c = Self.round(c, u64(i + 16)); d = Self.round(d, u64(i + 24))
            i += 32
        }
        v1 = a; v2 = b; v3 = c; v4 = d
        striped += buf.count
    }

    /// The hash of everything fed and then `buf` (any length).
    public func finish(_ buf: UnsafeRawBufferPointer) -> UInt64 {
        var state = self
        let whole = buf.count & ~31
        if whole > 0 { state.stripes(UnsafeRawBufferPointer(rebasing: buf[0..<whole])) }
        let n = buf.count
        var i = whole
        @inline(__always) func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        @inline(__always) func u32(_ o: Int) -> UInt64 { UInt64(UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: o, as: UInt32.self))) }
        var h: UInt64
        if state.striped > 0 {
            h = Self.rotl(state.v1, 1) &+ Self.rotl(state.v2, 7) &+ Self.rotl(state.v3, 12) &+ Self.rotl(state.v4, 18)
            h = Self.merge(h, state.v1); h = Self.merge(h, state.v2); h = Self.merge(h, state.v3); h = Self.merge(h, state.v4)
        } else {
            h = seed &+ Self.p5
        }
        h = h &+ UInt64(state.striped + n - whole)
        while i + 8 <= n { h = Self.rotl(h ^ Self.round(0, u64(i)), 27) &* Self.p1 &+ Self.p4; i += 8 }
        if i + 4 <= n { h = Self.rotl(h ^ (u32(i) &* Self.p1), 23) &* Self.p2 &+ Self.p3; i += 4 }
        while i < n { h = Self.rotl(h ^ (UInt64(buf[i]) &* Self.p5), 11) &* Self.p1; i += 1 }
        h ^= h >> 33; h = h &* Self.p2; h ^= h >> 29; h = h &* Self.p3; h ^= h >> 32
        return h
    }
}
