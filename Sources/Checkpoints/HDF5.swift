// Reading HDF5 files through libhdf5: open read-only, walk the group tree (hard links only,
// cycle- and depth-guarded), list every numeric dataset, read one as Float or Int32.
// HDF5's own error printing is silenced; failures become CheckpointErrors.

import CHDF5
import Foundation

/// One dataset: full path without the leading "/", shape and element type.
public struct HDF5DatasetInfo: Sendable, Equatable {
    public let path: String
    public let shape: [Int]
    public let dtype: TensorDType
    public var count: Int { shape.reduce(1, *) }
}

/// libhdf5 is not guaranteed thread-safe; every call goes through this lock.
private let hdf5Lock = NSLock()

/// A read-only HDF5 file and the numeric datasets in it.
public final class HDF5File {
    /// Deepest group nesting walked.
    public static let maxDepth = 64
    /// Most elements one dataset may declare: 2³¹ (8 GiB as Float; GPT-2 XL's largest holds 8·10⁷).
    public static let maxElements = 1 << 31
    /// How much larger than its stored bytes a filtered (compressed) dataset may be: deflate's
    /// ceiling is about 1032:1.
    public static let maxCompression = 1100

    public let path: String
    /// Numeric datasets, sorted by path.
    public let datasets: [HDF5DatasetInfo]
    /// The root group's integer attributes that name a model size (HDF5Attributes.swift).
    let rootSizes: [String: Int]
    private let byPath: [String: HDF5DatasetInfo]
    private let file: hid_t

    public init(path: String) throws {
        _ = try regularFileSize(path)
        self.path = path
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        gl_h5_silence_errors()
        guard H5Fis_hdf5(path) > 0 else {
            throw CheckpointError(path, .unreadable, "not an HDF5 file (or unreadable)")
        }
        let f = H5Fopen(path, gl_h5f_acc_rdonly(), gl_h5p_default())
        guard f >= 0 else { throw CheckpointError(path, .hdf5, "libhdf5 cannot open the file") }
        var found: [HDF5DatasetInfo] = []
        var visited: Set<UInt64> = []
        do {
            try Self.walk(group: f, prefix: "", depth: 0, visited: &visited, out: &found, path: path)
            rootSizes = try Self.rootIntegers(f, keys: statedSizeKeys, path: path)
        } catch {
            H5Fclose(f); throw error
        }
        file = f
        datasets = found.sorted { $0.path < $1.path }
        byPath = Dictionary(found.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
    }

    deinit {
        hdf5Lock.lock(); H5Fclose(file); hdf5Lock.unlock()
    }

    public func info(_ name: String) -> HDF5DatasetInfo? { byPath[name] }

    /// The dataset's values converted by libhdf5 to native Float (f16/f32/f64 and integers).
    public func floats(_ name: String) throws -> [Float] {
        let i = try entry(name)
        var out = [Float](repeating: 0, count: i.count)
        try read(name, memType: gl_h5t_native_float(), into: &out)
        return out
    }

    /// An integer dataset's values as Int32; values outside Int32 are an error.
    public func int32s(_ name: String) throws -> [Int32] {
        let i = try entry(name)
        guard i.dtype.isInteger else {
            throw CheckpointError(path, .badDType, "dataset '\(name)' is \(i.dtype.rawValue), expected integers")
        }
        var wide = [Int64](repeating: 0, count: i.count)
        try read(name, memType: gl_h5t_native_int64(), into: &wide)
        return try narrowToInt32(wide, file: path, what: "dataset '\(name)'")
    }

    private func entry(_ name: String) throws -> HDF5DatasetInfo {
        guard let i = byPath[name] else {
            throw CheckpointError(path, .missingTensors, "no dataset named '\(name)'")
        }
        return i
    }

    private func read<T>(_ name: String, memType: hid_t, into buffer: inout [T]) throws {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        gl_h5_silence_errors()
        let d = H5Dopen2(file, name, gl_h5p_default())
        guard d >= 0 else { throw CheckpointError(path, .hdf5, "cannot open dataset '\(name)'") }
        defer { H5Dclose(d) }
        let status = buffer.withUnsafeMutableBytes {
            H5Dread(d, memType, gl_h5s_all(), gl_h5s_all(), gl_h5p_default(), $0.baseAddress)
        }
        guard status >= 0 else {
            let missing = unavailableFilters(d)
            throw CheckpointError(path, .hdf5, "cannot read dataset '\(name)'" + (missing.isEmpty ? ""
                : ": it is compressed with \(missing.joined(separator: ", ")), which this libhdf5 does not have (h5py's own filters; "
                  + "re-save it uncompressed or with gzip)"))
        }
    }

    /// The names of the dataset's filters this libhdf5 cannot apply (h5py's lzf, blosc, …: "filter 32000 (lzf)").
    private func unavailableFilters(_ d: hid_t) -> [String] {
        let plist = H5Dget_create_plist(d)
        guard plist >= 0 else { return [] }
        defer { H5Pclose(plist) }
        var out: [String] = []
        for i in 0..<max(0, H5Pget_nfilters(plist)) {
            var flags: UInt32 = 0, nValues = 0
            var name = [CChar](repeating: 0, count: 64)
            var config: UInt32 = 0
            let id = H5Pget_filter2(plist, UInt32(i), &flags, &nValues, nil, name.count, &name, &config)
            guard id >= 0, H5Zfilter_avail(id) <= 0 else { continue }
            let named = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            out.append("filter \(id)" + (named.isEmpty ? "" : " (\(named))"))
        }
        return out
    }

    // MARK: walking

    private static func walk(group: hid_t, prefix: String, depth: Int, visited: inout Set<UInt64>,
                             out: inout [HDF5DatasetInfo], path: String) throws {
        guard depth <= maxDepth else {
            throw CheckpointError(path, .hdf5, "groups nested deeper than \(maxDepth) at '\(prefix)'")
        }
        var ginfo = H5G_info_t()
        guard H5Gget_info(group, &ginfo) >= 0 else {
            throw CheckpointError(path, .hdf5, "cannot list group '/\(prefix)'")
        }
        var buf = [CChar](repeating: 0, count: 256)
        for i in 0..<ginfo.nlinks {
            var len = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, buf.count, gl_h5p_default())
            if len >= buf.count {                                           // a long name: ask again
                buf = [CChar](repeating: 0, count: Int(len) + 1)
                len = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, buf.count, gl_h5p_default())
            }
            guard len >= 0 else { throw CheckpointError(path, .hdf5, "cannot read a link name in '/\(prefix)'") }
            let name = String(decoding: buf.prefix(Int(len)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let full = prefix.isEmpty ? name : prefix + "/" + name
            var identity: UInt64 = 0, kind: Int32 = 0
            let obj = gl_h5_open_hard(group, buf, &identity, &kind)
            guard obj >= 0 else { continue }                                // soft/external links
            defer { H5Oclose(obj) }
            switch kind {
            case 0:
                guard visited.insert(identity).inserted else { continue }   // a cycle or a second hard link
                try walk(group: obj, prefix: full, depth: depth + 1, visited: &visited, out: &out, path: path)
            case 1:
                if let info = try datasetInfo(obj, full: full, path: path) { out.append(info) }
            default:
                continue                                                    // named types
            }
        }
    }

    private static func datasetInfo(_ d: hid_t, full: String, path: String) throws -> HDF5DatasetInfo? {
        let space = H5Dget_space(d), type = H5Dget_type(d)
        defer { H5Sclose(space); H5Tclose(type) }
        let ndims = H5Sget_simple_extent_ndims(space)
        guard ndims >= 0 else { throw CheckpointError(path, .hdf5, "cannot read the shape of '/\(full)'") }
        var dims = [hsize_t](repeating: 0, count: Int(ndims))
        if ndims > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
        let size = H5Tget_size(type)
        let dtype: TensorDType?
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            dtype = [2: .F16, 4: .F32, 8: .F64][size]
            if dtype != nil, let layout = nonIEEEFloatLayout(type) {
                throw CheckpointError(path, .hdf5, "dataset '/\(full)' is a \(size * 8)-bit float that is not IEEE binary\(size * 8) (\(layout)); "
                                      + "libhdf5 would convert it to different numbers")
            }
        case H5T_INTEGER:
            let unsigned = H5Tget_sign(type) == H5T_SGN_NONE
            dtype = unsigned ? [1: .U8, 2: .U16, 4: .U32, 8: .U64][size] : [1: .I8, 2: .I16, 4: .I32, 8: .I64][size]
        default: dtype = nil
        }
        guard let dtype else { return nil }
        var shape: [Int] = [], count = 1
        for d in dims {
            guard d <= UInt64(Int32.max) else { throw CheckpointError(path, .hdf5, "dataset '/\(full)' has a huge dimension \(d)") }
            shape.append(Int(d))
            let (p, o) = count.multipliedReportingOverflow(by: Int(d))
            guard !o, p <= maxElements else {
                throw CheckpointError(path, .hdf5, "dataset '/\(full)' shape \(dims) declares more than \(maxElements) elements")
            }
            count = p
        }
        // The shape must be backed by stored bytes: unfiltered data stores every byte, filtered
        // data at most `maxCompression` times fewer. A never-written dataset stores none.
        let needed = count * dtype.byteSize, stored = Int(clamping: H5Dget_storage_size(d))
        guard needed > stored else { return HDF5DatasetInfo(path: full, shape: shape, dtype: dtype) }
        let plist = H5Dget_create_plist(d)                                  // only a short one needs this
        let filters = plist >= 0 ? H5Pget_nfilters(plist) : 0
        if plist >= 0 { H5Pclose(plist) }
        let ceiling = filters > 0 ? stored.multipliedReportingOverflow(by: maxCompression).partialValue : stored
        guard needed <= ceiling else {
            throw CheckpointError(path, .truncated,
                                  "dataset '/\(full)' shape \(describe(shape)) of \(dtype.rawValue) needs \(needed) bytes but the file stores \(stored) for it")
        }
        return HDF5DatasetInfo(path: full, shape: shape, dtype: dtype)
    }
}

/// What is not IEEE binary16/32/64 about an HDF5 float type (its bit fields, exponent bias, normalisation,
/// padding or precision), or nil when it is one. A damaged file whose type says, for example, an exponent bias
/// of 0 was read with libhdf5 converting every value accordingly: a loss of 10.29 instead of 5.23, exit 0.
func nonIEEEFloatLayout(_ type: hid_t) -> String? {
    let size = H5Tget_size(type)
    // (sign position, exponent position, exponent bits, mantissa position, mantissa bits, exponent bias)
    let standard: [Int: (Int, Int, Int, Int, Int, Int)] = [2: (15, 10, 5, 0, 10, 15), 4: (31, 23, 8, 0, 23, 127), 8: (63, 52, 11, 0, 52, 1023)]
    guard let want = standard[size] else { return "size \(size)" }
    var spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0
    guard H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) >= 0 else { return "unreadable bit fields" }
    let got = (spos, epos, esize, mpos, msize, Int(H5Tget_ebias(type)))
    if got != want { return "sign bit \(got.0), exponent at \(got.1) of \(got.2) bits, mantissa at \(got.3) of \(got.4) bits, bias \(got.5)" }
    if H5Tget_norm(type) != H5T_NORM_IMPLIED { return "mantissa normalisation \(H5Tget_norm(type).rawValue)" }
    if H5Tget_offset(type) != 0 || H5Tget_precision(type) != size * 8 { return "offset \(H5Tget_offset(type)), precision \(H5Tget_precision(type))" }
    return nil
}
