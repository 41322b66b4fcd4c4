// Writing safetensors files (for tests, conversions and exports). Atomic: the bytes go to a
// temporary file beside the target, which is then renamed over it.

import Foundation
import Plumbing

/// One tensor to write: values are encoded to `dtype` (F32, F16 or BF16, rounding to nearest even).
public struct TensorToWrite: Sendable {
    public var name: String
    public var shape: [Int]
    public var dtype: TensorDType
    public var values: [Float]
    public init(name: String, shape: [Int], dtype: TensorDType = .F32, values: [Float]) {
        self.name = name; self.shape = shape; self.dtype = dtype; self.values = values
    }
}

/// Writes `tensors` (in the given order) and optional `__metadata__` to `path`.
public func writeSafetensors(path: String, tensors: [TensorToWrite], metadata: [String: String]? = nil) throws {
    var header: [String: Any] = [:]
    if let metadata { header["__metadata__"] = metadata }
    var blobs: [Data] = []
    var offset = 0
    for t in tensors {
        guard t.shape.reduce(1, *) == t.values.count else {
            throw CheckpointError(path, .wrongShape, "tensor '\(t.name)': shape \(describe(t.shape)) does not hold \(t.values.count) values")
        }
        let blob: Data
        switch t.dtype {
        case .F32: blob = t.values.withUnsafeBytes { Data($0) }
        case .BF16: blob = t.values.map(floatToBF16).withUnsafeBytes { Data($0) }
        case .F16: blob = t.values.map(floatToHalf).withUnsafeBytes { Data($0) }
        case .F64: blob = t.values.map(Double.init).withUnsafeBytes { Data($0) }
        default:
            throw CheckpointError(path, .badDType, "tensor '\(t.name)': writing \(t.dtype.rawValue) is not supported")
        }
        header[t.name] = ["dtype": t.dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + blob.count]] as [String: Any]
        offset += blob.count
        blobs.append(blob)
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while json.count % 8 != 0 { json.append(0x20) }          // pad so the data area is aligned
    var out = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(json)
    for b in blobs { out.append(b) }
    do {
        try writeAtomically(out, to: path)
    } catch let e as OutputError {
        throw CheckpointError(path, .unreadable, e.problem)
    }
}
