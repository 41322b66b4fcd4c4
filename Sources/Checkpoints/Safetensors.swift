// Reading safetensors files: an 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the
// data area. The file is memory-mapped read-only; every header claim is checked against the
// file before any tensor is touched.

import Foundation
import Plumbing

/// One tensor's entry in a safetensors header.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: TensorDType
    public let shape: [Int]
    /// Byte range inside the data area (after the header).
    public let byteRange: Range<Int>
    public var count: Int { shape.reduce(1, *) }
}

/// A read-only, memory-mapped safetensors file.
public final class SafetensorsFile {
    /// Largest header accepted (the format's own limit is 100 MB).
    public static let maxHeaderBytes = 100_000_000
    /// Most tensors accepted in one file (GPT-2 XL has 581; a 100 MB header could list millions).
    public static let maxTensors = 100_000

    public let path: String
    /// Entries by name.
    public let infos: [String: SafetensorsTensorInfo]
    /// Tensor names in data order.
    public let tensorNames: [String]
    /// `__metadata__` entries that are not aliases.
    public let metadata: [String: String]
    /// Alias name → stored tensor name (`__metadata__` entries such as
    /// "tok_emb.weight": "out_head.weight" written by `save_model` for tied weights).
    public let aliases: [String: String]

    private let file: MappedFile
    private var base: UnsafeRawPointer { file.bytes.baseAddress! }
    private let dataStart: Int

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        let size = file.bytes.count
        guard size >= 8 else {
            throw CheckpointError(path, .truncated, "file is \(size) bytes, too short for a safetensors header")
        }
        self.path = path; self.file = file
        let p = file.bytes.baseAddress!
        let n = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
        guard n <= UInt64(Self.maxHeaderBytes) else {
            throw CheckpointError(path, .badHeader, "header length \(n) exceeds the 100 MB limit")
        }
        guard n <= UInt64(size - 8) else {
            throw CheckpointError(path, .truncated, "header length \(n) runs past the end of the file (\(size) bytes)")
        }
        dataStart = 8 + Int(n)
        let header = Data(bytes: p + 8, count: Int(n))
        let parsed = try Self.parseHeader(header, path: path, dataBytes: size - dataStart)
        (infos, metadata, aliases) = parsed
        tensorNames = infos.values.sorted { ($0.byteRange.lowerBound, $0.name) < ($1.byteRange.lowerBound, $1.name) }.map(\.name)
    }

    public func info(_ name: String) -> SafetensorsTensorInfo? { infos[name] }

    /// The tensor's values as Float (integer dtypes converted).
    public func floats(_ name: String) throws -> [Float] {
        let i = try entry(name)
        let v = decodeFloats(base + dataStart + i.byteRange.lowerBound, count: i.count, dtype: i.dtype)
        file.release((dataStart + i.byteRange.lowerBound)..<(dataStart + i.byteRange.upperBound))
        return v
    }

    /// Decodes the tensor straight into `out` (which holds its element count), then drops the
    /// file's pages for it from this process's resident set: loading a model then costs about
    /// its Float size in memory, not that plus the file.
    public func decode(_ name: String, into out: UnsafeMutablePointer<Float>) throws {
        let i = try entry(name)
        decodeReleasing(file, at: dataStart + i.byteRange.lowerBound, count: i.count, dtype: i.dtype, into: out)
    }

    /// The number of elements of a tensor (or alias).
    public func elementCount(_ name: String) throws -> Int { try entry(name).count }

    /// Whether two tensors hold the same bytes (same dtype and shape): tied weights saved twice.
    public func sameBytes(_ a: String, _ b: String) throws -> Bool {
        let x = try entry(a), y = try entry(b)
        guard x.dtype == y.dtype, x.shape == y.shape else { return false }
        let p = base + dataStart
        return memcmp(p + x.byteRange.lowerBound, p + y.byteRange.lowerBound, x.byteRange.count) == 0
    }

    /// An integer tensor's values as Int32; values outside Int32 are an error.
    public func int32s(_ name: String) throws -> [Int32] {
        let i = try entry(name)
        guard i.dtype.isInteger else {
            throw CheckpointError(path, .badDType, "tensor '\(name)' is \(i.dtype.rawValue), expected an integer dtype")
        }
        let wide = decodeInts(base + dataStart + i.byteRange.lowerBound, count: i.count, dtype: i.dtype)
        return try narrowToInt32(wide, file: path, what: "tensor '\(name)'")
    }

    private func entry(_ name: String) throws -> SafetensorsTensorInfo {
        if let i = infos[name] { return i }
        if let target = aliases[name], let i = infos[target] { return i }
        throw CheckpointError(path, .missingTensors, "no tensor named '\(name)'")
    }

    // MARK: header validation

    private static func parseHeader(_ data: Data, path: String, dataBytes: Int) throws
        -> ([String: SafetensorsTensorInfo], [String: String], [String: String]) {
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw CheckpointError(path, .badHeader, "header is not valid JSON")
        }
        guard let object = json as? [String: Any] else {
            throw CheckpointError(path, .badHeader, "header is not a JSON object")
        }
        let tensorCount = object.count - (object["__metadata__"] == nil ? 0 : 1)
        guard tensorCount <= maxTensors else {
            throw CheckpointError(path, .badHeader, "header lists \(tensorCount) tensors, more than the \(maxTensors)-tensor limit")
        }
        var infos: [String: SafetensorsTensorInfo] = [:]
        var rawMeta: [String: String] = [:]
        // In name order, so a header with several problems names the same one on every run.
        for (name, value) in object.sorted(by: { $0.key < $1.key }) {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw CheckpointError(path, .badHeader, "__metadata__ is not an object")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw CheckpointError(path, .badHeader, "__metadata__['\(k)'] is not a string")
                    }
                    rawMeta[k] = s
                }
                continue
            }
            infos[name] = try parseEntry(name, value, path: path, dataBytes: dataBytes)
        }
        // Ranges must not overlap (empty tensors take no space).
        let sorted = infos.values.filter { !$0.byteRange.isEmpty }.sorted { ($0.byteRange.lowerBound, $0.name) < ($1.byteRange.lowerBound, $1.name) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.byteRange.lowerBound < a.byteRange.upperBound {
            throw CheckpointError(path, .badHeader,
                                  "tensors '\(a.name)' \(a.byteRange) and '\(b.name)' \(b.byteRange) overlap")
        }
        var meta: [String: String] = [:], aliases: [String: String] = [:]
        for (k, v) in rawMeta {
            if infos[k] == nil, infos[v] != nil { aliases[k] = v } else { meta[k] = v }
        }
        return (infos, meta, aliases)
    }

    private static func parseEntry(_ name: String, _ value: Any, path: String, dataBytes: Int) throws -> SafetensorsTensorInfo {
        func bad(_ what: String) -> CheckpointError { CheckpointError(path, .badHeader, "tensor '\(name)': \(what)") }
        guard let e = value as? [String: Any] else { throw bad("entry is not an object") }
        guard let ds = e["dtype"] as? String else { throw bad("missing dtype") }
        guard let dtype = TensorDType(rawValue: ds) else {
            throw CheckpointError(path, .badDType, "tensor '\(name)': unsupported dtype '\(ds)'")
        }
        guard let rawShape = e["shape"] as? [Any] else { throw bad("missing shape") }
        var shape: [Int] = []
        for d in rawShape {
            guard let n = jsonInt(d), n >= 0 else { throw bad("shape \(rawShape) has a dimension that is not a non-negative integer") }
            shape.append(n)
        }
        guard let offs = e["data_offsets"] as? [Any], offs.count == 2,
              let begin = jsonInt(offs[0]), let end = jsonInt(offs[1]), begin >= 0, end >= begin else {
            throw bad("data_offsets must be [begin, end] with 0 <= begin <= end")
        }
        var bytes = dtype.byteSize
        for d in shape {
            let (p, o) = bytes.multipliedReportingOverflow(by: d)
            guard !o, p <= dataBytes else {
                throw bad("shape \(describe(shape)) of \(ds) needs more bytes than the file's data area (\(dataBytes))")
            }
            bytes = p
        }
        guard end - begin == bytes else {
            throw bad("shape \(describe(shape)) of \(ds) needs \(bytes) bytes but data_offsets span \(end - begin)")
        }
        guard end <= dataBytes else {
            throw CheckpointError(path, .truncated, "tensor '\(name)': data_offsets [\(begin), \(end)] run past the end of the data area (\(dataBytes) bytes)")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }
}

/// A JSON number that is an exact non-huge integer.
func jsonInt(_ v: Any) -> Int? {
    if jsonBool(v) != nil { return nil }   // true is not 1
    if let i = v as? Int { return i }
    if let d = v as? Double, d == d.rounded(), abs(d) < 9e15 { return Int(d) }
    return nil
}
