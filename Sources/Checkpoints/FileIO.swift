// File helpers every module shares: atomic writes and content hashes.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Problems writing an output; one line naming the file.
public struct OutputError: Error, LocalizedError, Sendable {
    public let path: String
    public let problem: String
    public init(_ path: String, _ problem: String) { self.path = path; self.problem = problem }
    public var errorDescription: String? { "\(path): \(problem)" }
}

/// Writes `data` to a temporary file in the same folder, flushes it, then renames it over
/// `path`: readers see the old file or the new one, never half of one.
public func writeAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
        throw OutputError(path, "folder \(dir) does not exist")
    }
    removeStaleTemporaries(for: path)
    let (tmp, token) = try createTemporary(for: path)
    defer { PendingOutputs.untrack(token) }
    let fd = open(tmp, O_WRONLY | O_TRUNC)
    guard fd >= 0 else {
        let e = String(cString: strerror(errno)); unlink(tmp)
        throw OutputError(path, "cannot open a temporary file: \(e)")
    }
    var ok = true
    data.withUnsafeBytes { raw in
        var off = 0
        while off < raw.count {
            let n = write(fd, raw.baseAddress! + off, raw.count - off)
            if n <= 0 { ok = false; return }
            off += n
        }
    }
    if fsync(fd) != 0 { ok = false }
    close(fd)
    guard ok else { unlink(tmp); throw OutputError(path, "write failed: \(String(cString: strerror(errno)))") }
    guard rename(tmp, path) == 0 else {
        let e = String(cString: strerror(errno)); unlink(tmp)
        throw OutputError(path, "cannot rename into place: \(e)")
    }
}

/// The temporary name an output is written under before it is renamed over `path`:
/// ".NAME.tmp-PID-RANDOM" in the same folder (hidden, same file system, owner findable).
public func temporaryName(for path: String) -> String {
    let url = URL(fileURLWithPath: path)
    return url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
}

/// Creates the temporary an output is written under (an empty file, or a folder) and tracks it
/// for interrupt cleanup, as one step: a SIGINT/SIGTERM removes it whenever it exists.
public func createTemporary(for path: String, folder: Bool = false) throws -> (path: String, token: Int) {
    try PendingOutputs.critical {
        let tmp = temporaryName(for: path)
        let made: Bool
        if folder {
            made = mkdir(tmp, 0o755) == 0
        } else {
            let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            made = fd >= 0
            if made { close(fd) }
        }
        guard made else { throw OutputError(path, "cannot create a temporary \(folder ? "folder" : "file") \(tmp): \(String(cString: strerror(errno)))") }
        return (tmp, PendingOutputs.track(tmp))
    }
}

/// Cleans up after a writer of `path` that no longer runs (killed between creating its
/// temporary and renaming it): removes its ".NAME.tmp-PID-…" files or folders, and its
/// ".NAME.old-PID-…" (a previous version moved aside while the new one was renamed in) —
/// which goes back to `path` if nothing is there. A live writer's entries are left alone.
/// Returns the names removed or restored.
@discardableResult
public func removeStaleTemporaries(for path: String) -> [String] {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path, name = url.lastPathComponent
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
    var cleaned: [String] = []
    for entry in entries.sorted() {
        for kind in [".tmp-", ".old-"] where entry.hasPrefix("." + name + kind) {
            let rest = entry.dropFirst(name.count + 1 + kind.count)
            guard let pid = rest.split(separator: "-").first.flatMap({ Int32($0) }), pid > 0, pid != getpid() else { continue }
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }          // its writer still runs
            let full = dir + "/" + entry
            if kind == ".old-", !FileManager.default.fileExists(atPath: path) {
                if rename(full, path) == 0 { cleaned.append(entry) }
            } else if (try? FileManager.default.removeItem(atPath: full)) != nil {
                cleaned.append(entry)
            }
        }
    }
    return cleaned
}

/// XXH64 of a file's bytes (seed 0), as 16 hex digits: identifies checkpoints and test sets
/// in caches and shard parts. Reads the file memory-mapped.
public func contentHash(path: String) throws -> String {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
        throw OutputError(path, "cannot read: \(error.localizedDescription)")
    }
    let h = data.withUnsafeBytes { xxh64($0) }
    let s = String(h, radix: 16)
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
