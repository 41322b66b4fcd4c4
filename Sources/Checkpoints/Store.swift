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

    /// HDF5's signature at offset 0 (files with a user block put it at 512, 1024, …).
    private static func hasHDF5Signature(_ path: String) -> Bool {
        guard let fh = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? fh.close() }   // closing a read-only handle: nothing to report
        let magic: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        var offset: UInt64 = 0
        while offset <= 8192 {
            do {
                try fh.seek(toOffset: offset)
                guard let d = try fh.read(upToCount: 8), d.count == 8 else { return false }
                if Array(d) == magic { return true }
            } catch { return false }
            offset = offset == 0 ? 512 : offset * 2
        }
        return false
    }
}
