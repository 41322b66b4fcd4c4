// 64-bit content hashes for cache keys and "identical checkpoint" detection: XXH64 (seed 0),
// the same function shard parts use (Checkpoints/FileIO.swift). Not cryptographic: it tells
// files apart, it does not defend against someone crafting collisions.

import Checkpoints
import Foundation

/// XXH64 of a byte buffer.
public func contentHash64(_ bytes: UnsafeRawBufferPointer) -> UInt64 { xxh64(bytes) }

/// `contentHash64` of a string's UTF-8 bytes.
public func contentHash64(_ s: String) -> UInt64 {
    var s = s
    return s.withUTF8 { contentHash64(UnsafeRawBufferPointer($0)) }
}

/// The file's content hash as 16 hex digits; the file is memory-mapped, not copied. A folder
/// (sharded safetensors) hashes as the list of its files' names and hashes.
public func fileContentHash(path: String) throws -> String {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path).sorted() } catch {
            throw ReportError.io("\(path): cannot list: \(error.localizedDescription)")
        }
        let parts = try names.filter { $0.hasSuffix(".safetensors") || $0.hasSuffix(".json") }
            .map { "\($0):\(try fileContentHash(path: path + "/" + $0))" }
        return hex64(contentHash64(parts.joined(separator: "|")))
    }
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
