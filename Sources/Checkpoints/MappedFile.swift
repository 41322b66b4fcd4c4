// A whole file mapped read-only: container readers (safetensors, torch zip, llm.c) take byte
// ranges of it instead of copying tensors into memory.

import Foundation

final class MappedFile {
    let path: String
    /// The file's bytes (empty for an empty file).
    let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?

    init(path: String) throws {
        let size = try regularFileSize(path)
        self.path = path
        guard size > 0 else { base = nil; bytes = UnsafeRawBufferPointer(start: nil, count: 0); return }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CheckpointError(path, .unreadable, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw CheckpointError(path, .unreadable, "cannot map: \(String(cString: strerror(errno)))")
        }
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit { if let base { munmap(base, bytes.count) } }

    /// MADV_DONTNEED on the whole pages inside `range`: the mapping stays valid (pages come back
    /// from the page cache if touched again), but they stop counting toward our RSS.
    func release(_ range: Range<Int>) {
        guard let base else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (range.lowerBound + page - 1) / page * page, hi = range.upperBound / page * page
        if hi > lo { madvise(base + lo, hi - lo, MADV_DONTNEED) }
    }
}

/// Decodes `count` elements at byte `start` of `file` into `out`, 4 MiB of file at a time, each
/// released once decoded, so the file's pages never pile up: loading a model then costs about
/// its Float size in memory, not that plus the file.
func decodeReleasing(_ file: MappedFile, at start: Int, count: Int, dtype: TensorDType, into out: UnsafeMutablePointer<Float>) {
    guard let base = file.bytes.baseAddress else { return }
    let size = dtype.byteSize, step = max(1, (4 << 20) / size)
    var k = 0
    while k < count {
        let m = min(step, count - k)
        decodeFloats(base + start + k * size, count: m, dtype: dtype, into: out + k)
        file.release((start + k * size)..<(start + (k + m) * size))
        k += m
    }
}
