// A fast 64-bit content hash for cache keys and "identical checkpoint" detection.
//
// FNV-1a run over 8-byte little-endian words instead of bytes (8× fewer multiplies), the tail
// bytes and the length folded in last, then SplitMix64's finalizer so that every input bit
// reaches every output bit. Not cryptographic: it tells files apart, it does not defend
// against someone crafting collisions.

import Foundation

/// Hash of a byte buffer (see the file comment).
public func contentHash64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    let prime: UInt64 = 0x0000_0100_0000_01B3
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    let words = bytes.count / 8
    for i in 0..<words {
        h = (h ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) &* prime
    }
    for i in (8 * words)..<bytes.count { h = (h ^ UInt64(bytes[i])) &* prime }
    h = (h ^ UInt64(bytes.count)) &* prime
    h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
    h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
    return h ^ (h >> 31)
}

/// `contentHash64` of a string's UTF-8 bytes.
public func contentHash64(_ s: String) -> UInt64 {
    var s = s
    return s.withUTF8 { contentHash64(UnsafeRawBufferPointer($0)) }
}

/// The file's content hash as 16 hex digits; the file is memory-mapped, not copied.
public func fileContentHash(path: String) throws -> String {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
        throw ReportError.io("\(path): cannot read: \(error.localizedDescription)")
    }
    return hex64(data.withUnsafeBytes { contentHash64($0) })
}

func hex64(_ x: UInt64) -> String {
    let s = String(x, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
