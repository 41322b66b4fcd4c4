// CRC-32 (ISO-HDLC, zip's and zlib's: reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF),
// slicing by 8: eight 256-entry tables, eight bytes per step. Checks the entries of torch.save's zip archives.

/// The eight tables: table[0] is the bytewise CRC table, table[k][i] the CRC of byte i followed by k zero bytes.
private let crcTables: [UInt32] = {
    var t = [UInt32](repeating: 0, count: 8 * 256)
    for i in 0..<256 {
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        t[i] = c
    }
    for k in 1..<8 {
        for i in 0..<256 { t[k * 256 + i] = (t[(k - 1) * 256 + i] >> 8) ^ t[Int(t[(k - 1) * 256 + i] & 0xFF)] }
    }
    return t
}()

/// CRC-32 of `buf`, continuing from `crc` (0 to start), as zlib's crc32(crc, buf, len) computes it.
public func crc32(_ buf: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    var c = ~crc
    let n = buf.count
    var i = 0
    crcTables.withUnsafeBufferPointer { t in
        while i + 8 <= n {
            let lo = c ^ UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: i, as: UInt32.self))
            let hi = UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
            c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)] ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)] ^ t[256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
            i += 8
        }
        while i < n {
            c = t[Int((c ^ UInt32(buf[i])) & 0xFF)] ^ (c >> 8)
            i += 1
        }
    }
    return ~c
}
