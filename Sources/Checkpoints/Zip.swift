// Reading the zip archives torch.save writes (torch ≥ 1.6): every entry is STORED
// (uncompressed) and its data 64-byte aligned, so entries are byte ranges of the mapped file.
// The central directory is found from the end-of-central-directory record (zip64 when any
// count, size or offset overflows 32 bits); each entry's local header is read to find where its
// data starts. Every length, offset and count is checked against the file before use. An entry's
// CRC-32, when the archive records one (torch.save does unless told not to, and then writes 0), is
// checked before its bytes are used: a damaged byte in a storage would otherwise change a weight.

import Foundation
import Plumbing

/// One stored entry of a zip archive: its name and where its bytes lie in the file.
struct ZipEntry: Equatable {
    let name: String
    /// Byte range of the entry's data inside the archive.
    let range: Range<Int>
    /// The CRC-32 the central directory records; 0 when the writer computed none.
    var crc: UInt32 = 0

    /// Throws when the archive records a CRC-32 for this entry and its bytes in `file` (the archive) do not have it.
    /// Read 4 MiB at a time, each released once summed: the weights' pages would otherwise all be resident before
    /// decoding starts (a 1.4 GB model's storages held as file pages beside the 1.4 GB being decoded).
    func checkCRC(in file: MappedFile, path: String) throws {
        guard crc != 0 else { return }
        var got: UInt32 = 0, at = range.lowerBound
        while at < range.upperBound {
            let end = min((at / (4 << 20) + 1) * (4 << 20), range.upperBound)   // piece ends on the file's 4 MiB marks: whole pages
            got = crc32(UnsafeRawBufferPointer(rebasing: file.bytes[at..<end]), continuing: got)
            file.release(at..<end)
            at = end
        }
        guard got == crc else {
            throw CheckpointError(path, .badHeader, "zip entry '\(name)' does not match its CRC-32 (recorded \(hex32(crc)), found \(hex32(got))): the file is damaged")
        }
    }
}

private func hex32(_ x: UInt32) -> String { "0x" + String(x, radix: 16) }

/// The entries of a zip archive held in `bytes` (a mapped file).
struct ZipDirectory {
    /// Most entries accepted (a torch checkpoint has one per storage plus a few).
    static let maxEntries = 1_000_000

    let entries: [String: ZipEntry]
    /// Entry names in central-directory order.
    let names: [String]

    /// "PK\x03\x04": a zip file's first local header.
    static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04
    }

    init(_ bytes: UnsafeRawBufferPointer, path: String) throws {
        func bad(_ what: String) -> CheckpointError { CheckpointError(path, .badHeader, "zip archive: \(what)") }
        let n = bytes.count
        func u16(_ o: Int) -> Int { Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt16.self))) }
        func u32(_ o: Int) -> Int { Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self))) }
        func u64(_ o: Int) throws -> Int {
            let v = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self))
            guard v <= UInt64(Int.max) else { throw bad("a 64-bit size or offset is out of range") }
            return Int(v)
        }
        // End of central directory: 22 bytes plus a comment of at most 65535, at the very end.
        guard n >= 22 else { throw CheckpointError(path, .truncated, "zip archive of \(n) bytes is too short") }
        var eocd = -1
        var o = n - 22
        while o >= max(0, n - 22 - 65535) {
            if u32(o) == 0x0605_4B50 { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else { throw CheckpointError(path, .truncated, "zip archive: no end-of-central-directory record (truncated?)") }
        var count = u16(eocd + 10), cdSize = u32(eocd + 12), cdOffset = u32(eocd + 16)
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // Zip64: a locator 20 bytes before, pointing at the zip64 end record.
            guard eocd >= 20, u32(eocd - 20) == 0x0706_4B50 else { throw bad("zip64 sizes without a zip64 locator") }
            let rec = try u64(eocd - 20 + 8)
            guard rec <= n - 56, u32(rec) == 0x0606_4B50 else { throw bad("zip64 end record missing or out of range") }
            count = try u64(rec + 32); cdSize = try u64(rec + 40); cdOffset = try u64(rec + 48)
        }
        guard count <= Self.maxEntries else { throw bad("\(count) entries, more than the \(Self.maxEntries) limit") }
        guard cdOffset <= n, cdSize <= n - cdOffset else {
            throw CheckpointError(path, .truncated, "zip archive: central directory [\(cdOffset), +\(cdSize)) runs past the end of the file (\(n) bytes)")
        }
        var entries: [String: ZipEntry] = [:], names: [String] = []
        var p = cdOffset
        let end = cdOffset + cdSize
        for _ in 0..<count {
            guard p <= end - 46, u32(p) == 0x0201_4B50 else { throw bad("central directory entry \(names.count) is malformed") }
            let method = u16(p + 10), crc = UInt32(truncatingIfNeeded: u32(p + 16))
            var compressed = u32(p + 20), size = u32(p + 24)
            let nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32)
            var local = u32(p + 42)
            guard nameLen + extraLen + commentLen <= end - p - 46 else { throw bad("central directory entry \(names.count) runs past the directory") }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(p + 46)..<(p + 46 + nameLen)]), as: UTF8.self)
            // Zip64 extra field (id 1): the 64-bit values of the fields that read 0xFFFFFFFF, in order.
            var x = p + 46 + nameLen
            let xEnd = x + extraLen
            while x + 4 <= xEnd {
                let id = u16(x), len = u16(x + 2)
                guard len <= xEnd - x - 4 else { throw bad("entry '\(name)': extra field runs past its end") }
                if id == 1 {
                    var f = x + 4
                    func next() throws -> Int {
                        guard f + 8 <= x + 4 + len else { throw bad("entry '\(name)': zip64 extra field too short") }
                        defer { f += 8 }
                        return try u64(f)
                    }
                    if size == 0xFFFF_FFFF { size = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if local == 0xFFFF_FFFF { local = try next() }
                }
                x += 4 + len
            }
            p += 46 + nameLen + extraLen + commentLen
            guard method == 0 else {
                throw CheckpointError(path, .unreadable,
                                      "zip entry '\(name)' is compressed (method \(method)); torch.save stores entries uncompressed — re-save the file with torch.save")
            }
            guard compressed == size else { throw bad("stored entry '\(name)' has compressed size \(compressed) ≠ size \(size)") }
            guard local <= n - 30, u32(local) == 0x0403_4B50 else { throw bad("entry '\(name)': local header at \(local) missing or out of range") }
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            guard start <= n, size <= n - start else {
                throw CheckpointError(path, .truncated, "zip entry '\(name)' ([\(start), +\(size))) runs past the end of the file (\(n) bytes)")
            }
            guard entries[name] == nil else { throw bad("entry '\(name)' appears twice") }
            entries[name] = ZipEntry(name: name, range: start..<(start + size), crc: crc)
            names.append(name)
        }
        self.entries = entries
        self.names = names
    }
}
