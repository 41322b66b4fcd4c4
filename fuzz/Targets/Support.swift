// What every fuzz target shares: a scratch folder for the files an input becomes, a byte
// reader for inputs that are recipes, and the failure type for a broken invariant.
//
// A target takes the raw input and returns nil, or a description of an invariant it broke
// (the libFuzzer harness aborts on it; the XCTest replay fails on it). Thrown errors are the
// expected outcome for bad input and are ignored; a crash is a crash.

import Foundation

/// Per-process scratch folder (on /dev/shm when there is one: writes cost no disk I/O).
public let fuzzScratch: String = {
    let base = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
    let dir = base + "gpt2lab-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}()

/// Removes the scratch folder (the replay test calls this when done).
public func removeFuzzScratch() { try? FileManager.default.removeItem(atPath: fuzzScratch) }

/// Writes `bytes` to `fuzzScratch/name` (plain write, no rename: the fuzz input is not an output).
func scratchFile(_ name: String, _ bytes: UnsafeRawBufferPointer) -> String {
    let path = fuzzScratch + "/" + name
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if fd >= 0 {
        var off = 0
        while off < bytes.count {
            let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n <= 0 { break }
            off += n
        }
        close(fd)
    }
    return path
}

/// Reads an input front to back; past the end every read is 0.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var at = 0
    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    var atEnd: Bool { at >= bytes.count }
    mutating func u8() -> UInt8 {
        guard at < bytes.count else { return 0 }
        defer { at += 1 }
        return bytes[at]
    }
    mutating func pick<T>(_ xs: [T]) -> T { xs[Int(u8()) % xs.count] }
    mutating func u64() -> UInt64 { (0..<8).reduce(UInt64(0)) { acc, _ in acc << 8 | UInt64(u8()) } }
    /// The rest of the input.
    mutating func rest() -> UnsafeRawBufferPointer {
        let r = UnsafeRawBufferPointer(rebasing: bytes[min(at, bytes.count)...])
        at = bytes.count
        return r
    }
}

/// The fuzz targets by name, for the harnesses and the replay test.
public let fuzzTargets: [String: @Sendable (UnsafeRawBufferPointer) -> String?] = [
    "safetensors": fuzzSafetensors,
    "hdf5": fuzzHDF5Recipe,
    "testsets": fuzzTestSets,
    "tokenizer": fuzzTokenizer,
    "manifest": fuzzManifest,
    "torch": fuzzTorch,
    "evals": fuzzEvalTasks,
]
