// PyTorch checkpoints as torch.save writes them (torch ≥ 1.6): a zip archive holding
// `<name>/data.pkl` — the pickled object — and one `<name>/data/<key>` entry per storage.
// Tensors are pickled as `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`
// whose storage is a persistent id ('storage', torch.<Type>Storage, key, location, numel).
// Only the globals below are allowed (Pickle.swift refuses the rest by name); a tensor is a
// view (offset, shape, strides) of a storage entry, mapped, never copied, and several tensors
// may share one storage (tied wte / lm_head). Pre-1.6 files (a bare pickle starting with
// torch's magic number) are refused with what to do.

import Foundation

/// A storage entry of the archive.
struct TorchStorage {
    let key: String
    let dtype: TensorDType
    let numel: Int
    /// Bytes of `data/<key>` inside the file.
    let range: Range<Int>
    /// The zip entry holding it (its whole range and recorded CRC-32, checked by TorchFile.checkWeights).
    let entry: ZipEntry
}

/// A tensor: a strided view of one storage, in elements.
struct TorchTensor: Equatable {
    let storage: Int
    let offset: Int
    let shape: [Int]
    let stride: [Int]
    var count: Int { shape.reduce(1, *) }
    var isContiguous: Bool {
        var expect = 1
        for (d, s) in zip(shape, stride).reversed() where d != 1 {
            if s != expect { return false }
            expect *= d
        }
        return true
    }
}

/// What torch.save's pickles may name, and what they build.
struct TorchPickleHost: PickleHost {
    static let storageTypes: [String: TensorDType] = [
        "torch.FloatStorage": .F32, "torch.DoubleStorage": .F64, "torch.HalfStorage": .F16,
        "torch.BFloat16Storage": .BF16, "torch.LongStorage": .I64, "torch.IntStorage": .I32,
        "torch.ShortStorage": .I16, "torch.CharStorage": .I8, "torch.ByteStorage": .U8, "torch.BoolStorage": .BOOL,
    ]
    static let callables: Set<String> = [
        "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state", "collections.OrderedDict", "torch.Size",
    ]
    /// Most elements one tensor may declare (2⁴⁰: far beyond any GPT-2, far below overflow).
    static let maxElements = 1 << 40

    let path: String
    let prefix: String
    let zip: ZipDirectory
    var storages: [TorchStorage] = []
    var storageIndex: [String: Int] = [:]
    var tensors: [TorchTensor] = []
    /// Host objects: (isTensor, index into tensors or storages).
    var objects: [(tensor: Bool, index: Int)] = []

    func checkGlobal(_ global: String) throws {
        guard Self.storageTypes[global] != nil || Self.callables.contains(global) else {
            throw CheckpointError(path, .refused, "refusing to load: the pickle calls \(global), which is not an allowed torch global")
        }
    }

    private func bad(_ what: String) -> CheckpointError { CheckpointError(path, .badHeader, "pickle: \(what)") }

    mutating func persistentLoad(_ pid: PValue, arena: inout PickleArena) throws -> PValue {
        guard let t = arena.tuple(pid), t.count == 5, t[0] == .string("storage"),
              case let .global(type) = t[1], case let .string(key) = t[2], case let .int(numel) = t[4] else {
            throw bad("persistent id is not ('storage', type, key, location, numel)")
        }
        guard let dtype = Self.storageTypes[type] else { throw bad("persistent id names \(type), not a storage type") }
        if let i = storageIndex[key] {
            guard storages[i].dtype == dtype else { throw bad("storage \(key) is read as two dtypes") }
            return try hostObject(tensor: false, i, &arena)
        }
        let name = prefix + "/data/" + key
        guard let entry = zip.entries[name] else { throw CheckpointError(path, .missingTensors, "storage entry '\(name)' is missing from the archive") }
        let (bytes, o) = max(numel, 0).multipliedReportingOverflow(by: dtype.byteSize)
        guard numel >= 0, !o, bytes <= entry.range.count else {
            throw CheckpointError(path, .truncated, "storage '\(name)' declares \(numel) \(dtype.rawValue) elements but holds \(entry.range.count) bytes")
        }
        storages.append(TorchStorage(key: key, dtype: dtype, numel: numel, range: entry.range.lowerBound..<(entry.range.lowerBound + bytes),
                                     entry: entry))
        storageIndex[key] = storages.count - 1
        return try hostObject(tensor: false, storages.count - 1, &arena)
    }

    mutating func call(_ global: String, _ args: [PValue], arena: inout PickleArena) throws -> PValue {
        switch global {
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            guard args.count >= 4 else { throw bad("\(global) takes (storage, offset, size, stride, …)") }
            return try rebuildTensor(args, &arena)
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let first = args.first, let h = arena.host(first), objects[h].tensor else { throw bad("\(global) of something that is not a tensor") }
            return first
        case "collections.OrderedDict":
            let d = PDict()
            if let items = args.first {
                guard let list = arena.tuple(items) else { throw bad("OrderedDict(…) of something that is not a list of pairs") }
                for kv in list {
                    guard let pair = arena.tuple(kv), pair.count == 2 else { throw bad("OrderedDict item is not a (key, value) pair") }
                    d.set(pair[0], pair[1])
                }
            }
            guard arena.objects.count < PickleLimits.maxObjects else { throw bad("more than \(PickleLimits.maxObjects) objects") }
            return arena.add(.dict(d))
        case "torch.Size":
            guard let first = args.first, let t = arena.tuple(first) else { return arena.add(.tuple([])) }
            return arena.add(.tuple(t))
        default:
            throw CheckpointError(path, .refused, "refusing to load: the pickle calls \(global), which cannot be called")
        }
    }

    private mutating func hostObject(tensor: Bool, _ index: Int, _ arena: inout PickleArena) throws -> PValue {
        guard arena.objects.count < PickleLimits.maxObjects else { throw bad("more than \(PickleLimits.maxObjects) objects") }
        objects.append((tensor, index))
        return arena.add(.host(objects.count - 1))
    }

    private func ints(_ v: PValue, _ arena: PickleArena, _ what: String) throws -> [Int] {
        guard let t = arena.tuple(v) else { throw bad("tensor \(what) is not a tuple") }
        return try t.map {
            guard case let .int(i) = $0, i >= 0 else { throw bad("tensor \(what) \(t) holds a value that is not a non-negative integer") }
            return i
        }
    }

    private mutating func rebuildTensor(_ args: [PValue], _ arena: inout PickleArena) throws -> PValue {
        guard let h = arena.host(args[0]), !objects[h].tensor else { throw bad("tensor built from something that is not a storage") }
        let s = storages[objects[h].index]
        guard case let .int(offset) = args[1], offset >= 0 else { throw bad("tensor storage offset is not a non-negative integer") }
        let shape = try ints(args[2], arena, "size"), stride = try ints(args[3], arena, "stride")
        guard shape.count == stride.count, shape.count <= 64 else { throw bad("tensor size \(shape) and stride \(stride) differ in rank") }
        var count = 1, last = offset
        for (d, st) in Swift.zip(shape, stride) {
            let (c, o1) = count.multipliedReportingOverflow(by: d)
            guard !o1, c <= Self.maxElements else { throw bad("tensor of size \(shape) has more than 2^40 elements") }
            count = c
            if d > 0 {
                let (step, o2) = (d - 1).multipliedReportingOverflow(by: st)
                let (l, o3) = last.addingReportingOverflow(step)
                guard !o2, !o3 else { throw bad("tensor stride \(stride) overflows") }
                last = l
            }
        }
        if count > 0 {
            guard last < s.numel else {
                throw CheckpointError(path, .truncated, "a tensor of size \(describe(shape)) at offset \(offset) needs storage '\(s.key)' to hold \(last + 1) elements; it holds \(s.numel)")
            }
        }
        tensors.append(TorchTensor(storage: objects[h].index, offset: offset, shape: shape, stride: stride))
        return try hostObject(tensor: true, tensors.count - 1, &arena)
    }
}

/// A torch.save zip archive: its state dict's tensors by name, and the rest of the pickle.
final class TorchFile {
    let path: String
    /// The state dict's tensors, in pickle order.
    let tensors: [SourceTensor]
    let arena: PickleArena
    let root: PValue
    private let file: MappedFile
    private let host: TorchPickleHost
    private let byName: [String: TorchTensor]

    /// torch ≥ 1.6: a zip whose first entry is "<name>/data.pkl"…
    static func isLegacy(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // …before that, a bare pickle whose first value is torch's magic number 0x1950a86a20f9469cfc6c: PROTO n,
        // (protocol ≥ 4: a FRAME opcode and its 8-byte length,) then LONG1 of 10 bytes.
        let magic: [UInt8] = [0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
        guard bytes.count >= 2, bytes[0] == 0x80, (2...5).contains(bytes[1]) else { return false }
        let start = bytes[1] >= 4 && bytes.count > 2 && bytes[2] == 0x95 ? 11 : 2
        return bytes.count >= start + magic.count && zip(bytes[start..<start + magic.count], magic).allSatisfy { $0 == $1 }
    }

    init(path: String) throws {
        let file = try MappedFile(path: path)
        self.path = path; self.file = file
        if Self.isLegacy(file.bytes) {
            throw CheckpointError(path, .unreadable,
                                  "a legacy (torch < 1.6) torch.save file, which is not read; re-save it with torch ≥ 1.6: torch.save(torch.load(f), f)")
        }
        let zip = try ZipDirectory(file.bytes, path: path)
        guard let pkl = zip.names.first(where: { $0.hasSuffix("/data.pkl") && !$0.dropLast(9).contains("/") }) else {
            throw CheckpointError(path, .badHeader, "a zip archive without a <name>/data.pkl entry: not a torch.save file")
        }
        let prefix = String(pkl.dropLast(9))
        if let order = zip.entries[prefix + "/byteorder"],
           String(decoding: UnsafeRawBufferPointer(rebasing: file.bytes[order.range]), as: UTF8.self) != "little" {
            throw CheckpointError(path, .unreadable, "tensors are stored big-endian, which is not read")
        }
        var host = TorchPickleHost(path: path, prefix: prefix, zip: zip)
        try zip.entries[pkl]!.checkCRC(in: file, path: path)
        let bytes = UnsafeRawBufferPointer(rebasing: file.bytes[zip.entries[pkl]!.range])
        (arena, root) = try unpickle(bytes, host: &host, path: path)
        self.host = host
        let dict = try Self.stateDict(arena, root, host, path: path)
        var named: [String: TorchTensor] = [:], list: [SourceTensor] = []
        for (k, v) in Swift.zip(dict.keys, dict.values) {
            guard case let .string(name) = k, let t = Self.tensor(v, arena, host) else { continue }
            named[name] = t
            list.append(SourceTensor(name: name, shape: t.shape, dtype: host.storages[t.storage].dtype.rawValue))
        }
        tensors = list; byName = named
    }

    /// Checks the CRC-32 of every storage the state dict's tensors use (not the optimizer's, which a damaged byte
    /// would not make a wrong weight): loading calls it, a peek at the shapes does not.
    func checkWeights() throws {
        var seen = Set<Int>()
        for t in byName.values where seen.insert(t.storage).inserted {
            try host.storages[t.storage].entry.checkCRC(in: file, path: path)
        }
    }

    /// The tensor a value is, if it is one.
    private static func tensor(_ v: PValue, _ arena: PickleArena, _ host: TorchPickleHost) -> TorchTensor? {
        guard let h = arena.host(v), host.objects[h].tensor else { return nil }
        return host.tensors[host.objects[h].index]
    }
    func tensor(_ v: PValue) -> TorchTensor? { Self.tensor(v, arena, host) }

    /// The model's state dict: the pickled dict itself when it holds only tensors, else the one
    /// under `model` (nanoGPT), `state_dict`, `model_state_dict` or `module`.
    private static func stateDict(_ arena: PickleArena, _ root: PValue, _ host: TorchPickleHost, path: String) throws -> PDict {
        guard let top = arena.dict(root) else { throw CheckpointError(path, .unknownLayout, "the pickle holds no dict of tensors") }
        func isTensors(_ d: PDict) -> Bool { d.count > 0 && d.values.allSatisfy { tensor($0, arena, host) != nil } }
        if isTensors(top) { return top }
        for key in ["model", "state_dict", "model_state_dict", "module"] {
            if let v = top[key], let d = arena.dict(v), isTensors(d) { return d }
        }
        let keys = top.keys.compactMap { if case let .string(s) = $0 { return s }; return nil }
        throw CheckpointError(path, .unknownLayout, "no state dict of tensors in the pickle (top-level keys: \(listSome(keys)))")
    }

    private func entry(_ name: String) throws -> (TorchTensor, TorchStorage) {
        guard let t = byName[name] else { throw CheckpointError(path, .missingTensors, "no tensor named '\(name)'") }
        return (t, host.storages[t.storage])
    }

    func elementCount(_ name: String) throws -> Int { try entry(name).0.count }

    /// Decodes a tensor (any strides) into `out`, which holds its element count.
    func decode(_ t: TorchTensor, into out: UnsafeMutablePointer<Float>) {
        let s = host.storages[t.storage], size = s.dtype.byteSize
        guard t.count > 0, let base = file.bytes.baseAddress else { return }
        if t.isContiguous {
            decodeReleasing(file, at: s.range.lowerBound + t.offset * size, count: t.count, dtype: s.dtype, into: out)
            return
        }
        var index = [Int](repeating: 0, count: t.shape.count), at = t.offset
        for k in 0..<t.count {
            decodeFloats(base + s.range.lowerBound + at * size, count: 1, dtype: s.dtype, into: out + k)
            // Odometer over the dimensions, last fastest. Wrapping: stepping a size-1 dimension of
            // any stride and stepping back must not trap (every element visited was bounds-checked).
            var d = t.shape.count - 1
            while d >= 0 {
                index[d] += 1; at = at &+ t.stride[d]
                if index[d] < t.shape[d] { break }
                at = at &- t.stride[d] &* index[d]; index[d] = 0; d -= 1
            }
        }
    }

    func decode(_ name: String, into out: UnsafeMutablePointer<Float>) throws { decode(try entry(name).0, into: out) }

    func floats(_ t: TorchTensor) -> [Float] {
        guard t.count > 0 else { return [] }
        return [Float](unsafeUninitializedCapacity: t.count) { buf, n in
            if let p = buf.baseAddress { decode(t, into: p) }
            n = t.count
        }
    }
    func floats(_ name: String) throws -> [Float] { floats(try entry(name).0) }

    /// Whether two tensors are the same view of the same storage (tied weights saved once).
    func sameView(_ a: String, _ b: String) throws -> Bool { try entry(a).0 == entry(b).0 }
}
