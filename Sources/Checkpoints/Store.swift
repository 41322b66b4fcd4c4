// One view over both container formats: the stored tensors by their own names, and a reader.

import Foundation

/// The container a checkpoint is in.
public enum CheckpointFormat: String, Sendable { case safetensors, hdf5 }

/// A tensor as the checkpoint stores it, by its own name.
public struct SourceTensor: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let dtype: String
}

/// An opened checkpoint file of either format.
struct TensorStore {
    let path: String
    let format: CheckpointFormat
    /// Stored tensors (aliases not repeated), in file order.
    let tensors: [SourceTensor]
    /// Alias name → stored name.
    let aliases: [String: String]
    private let safetensors: SafetensorsFile?
    private let hdf5: HDF5File?

    init(path: String) throws {
        let size = try regularFileSize(path)
        self.path = path
        if size >= 8, Self.hasHDF5Signature(path) {
            let h = try HDF5File(path: path)
            format = .hdf5; hdf5 = h; safetensors = nil; aliases = [:]
            tensors = h.datasets.map { SourceTensor(name: $0.path, shape: $0.shape, dtype: $0.dtype.rawValue) }
        } else {
            let s = try SafetensorsFile(path: path)
            format = .safetensors; safetensors = s; hdf5 = nil; aliases = s.aliases
            tensors = s.tensorNames.compactMap { n in s.info(n).map { SourceTensor(name: n, shape: $0.shape, dtype: $0.dtype.rawValue) } }
        }
    }

    /// A stored tensor (or alias) as Float.
    func floats(_ name: String) throws -> [Float] {
        if let s = safetensors { return try s.floats(name) }
        if let h = hdf5 { return try h.floats(name) }
        throw CheckpointError(path, .unreadable, "no reader")
    }

    /// Decodes a stored tensor (or alias) straight into `out`, which holds `count` floats.
    func decode(_ name: String, into out: UnsafeMutablePointer<Float>, count: Int) throws {
        if let s = safetensors {
            guard try s.elementCount(name) == count else { throw CheckpointError(path, .wrongShape, "tensor '\(name)': size mismatch") }
            try s.decode(name, into: out)
            return
        }
        let v = try floats(name)
        guard v.count == count else { throw CheckpointError(path, .wrongShape, "tensor '\(name)': size mismatch") }
        v.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: count) }
    }

    /// Whether two stored tensors hold bitwise-equal values.
    func sameValues(_ a: String, _ b: String) throws -> Bool {
        if a == b { return true }
        if let s = safetensors, try s.sameBytes(a, b) { return true }
        let x = try floats(a), y = try floats(b)
        return x.elementsEqual(y) { $0.bitPattern == $1.bitPattern }
    }

    /// HDF5's signature at offset 0 (files with a user block put it at 512, 1024, …).
    private static func hasHDF5Signature(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let magic: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        var buf = [UInt8](repeating: 0, count: 8)
        var offset = 0
        while offset <= 8192 {
            guard pread(fd, &buf, 8, off_t(offset)) == 8 else { return false }
            if buf == magic { return true }
            offset = offset == 0 ? 512 : offset * 2
        }
        return false
    }
}
