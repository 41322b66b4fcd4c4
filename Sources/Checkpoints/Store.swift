// One view over every container format: the stored tensors by their own names, and a reader.
// The format is told by content, not by the file name (see `detectFormat`).

import Foundation
import Plumbing

/// The container a checkpoint is in.
public enum CheckpointFormat: String, Sendable, CaseIterable {
    case safetensors
    case shardedSafetensors = "safetensors-sharded"
    case hdf5
    case torch = "torch-zip"
    case llmc = "llm.c"

    /// What writes it, for `inspect` and the table in docs/formats.md.
    public var writtenBy: String {
        switch self {
        case .safetensors: return "safetensors.torch.save_file / save_model, HF save_pretrained"
        case .shardedSafetensors: return "HF save_pretrained(max_shard_size=…): model.safetensors.index.json + shards"
        case .hdf5: return "Keras / KerasHub model.weights.h5, HF TensorFlow tf_model.h5, h5py"
        case .torch: return "torch.save (torch ≥ 1.6): nanoGPT ckpt.pt, model.pth state dicts, HF pytorch_model.bin"
        case .llmc: return "llm.c train_gpt2.py write_model: model.bin (version 3 fp32, 5 bf16)"
        }
    }
}

/// A tensor as the checkpoint stores it, by its own name.
public struct SourceTensor: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let dtype: String
}

/// What `detectFormat` says of a file that no reader recognises.
let notACheckpoint = "not a checkpoint gpt2lab can read (safetensors, torch zip, llm.c, HDF5, or a folder of these)"

/// The format of `path`, from its first bytes; a folder's is its checkpoint file's (`checkpointInFolder`).
/// A format-specific complaint comes only from the reader whose signature matched.
public func detectFormat(path: String) throws -> CheckpointFormat {
    if isDirectory(path) { return try detectFormat(path: try checkpointInFolder(path)) }
    let size = try regularFileSize(path)
    guard size > 0 else { throw CheckpointError(path, .notACheckpoint, "is empty") }
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw CheckpointError(path, .unreadable, "cannot open: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var head = [UInt8](repeating: 0, count: 32)   // a legacy torch pickle's magic ends at byte 23 (protocol ≥ 4)
    let got = pread(fd, &head, 32, 0)
    let bytes = head.prefix(max(0, got))
    let format: CheckpointFormat? = bytes.withUnsafeBytes { b in
        if ZipDirectory.hasMagic(b) || TorchFile.isLegacy(b) { return .torch }
        // llm.c: the magic, then a non-zero version (a safetensors header length is < 2^32).
        if LlmCFile.hasMagic(b), b.count >= 8, b.loadUnaligned(fromByteOffset: 4, as: UInt32.self) != 0 { return .llmc }
        if b.first == UInt8(ascii: "{") || path.hasSuffix(".index.json") { return .shardedSafetensors }
        if hasHDF5Signature(fd) { return .hdf5 }
        return hasSafetensorsSignature(b, fileSize: size) ? .safetensors : nil
    }
    guard let format else {
        if let n = bytes.withUnsafeBytes({ safetensorsHeaderPastEnd($0, fileSize: size) }) {
            throw CheckpointError(path, .truncated, "starts as safetensors, but its header of \(n) bytes runs past the end of the "
                                  + "file (\(size) bytes): cut short (an interrupted copy or save?)")
        }
        throw CheckpointError(path, .notACheckpoint, notACheckpoint)
    }
    return format
}

/// The header length of a file that starts as safetensors does ('{' after a length a safetensors header may have,
/// ≤ `SafetensorsFile.maxHeaderBytes`) but whose header does not fit in it: a file cut short. nil otherwise (a text
/// file with '{' at byte 8 reads as a length of ~10^18).
func safetensorsHeaderPastEnd(_ b: UnsafeRawBufferPointer, fileSize: Int) -> UInt64? {
    guard let n = safetensorsHeaderLength(b), n <= UInt64(SafetensorsFile.maxHeaderBytes), n > UInt64(max(0, fileSize - 8)) else { return nil }
    return n
}

/// The little-endian header length of bytes that go on with the JSON header's '{'; nil for fewer than 9 bytes or no '{'.
private func safetensorsHeaderLength(_ b: UnsafeRawBufferPointer) -> UInt64? {
    guard b.count >= 9, b[8] == UInt8(ascii: "{") else { return nil }
    return UInt64(littleEndian: b.loadUnaligned(as: UInt64.self))
}

/// safetensors' signature: a little-endian header length that fits in the file, then the JSON header's '{'.
func hasSafetensorsSignature(_ b: UnsafeRawBufferPointer, fileSize: Int) -> Bool {
    guard let n = safetensorsHeaderLength(b) else { return false }
    return n >= 2 && n <= UInt64(max(0, fileSize - 8))
}

/// Whether the file at `path` starts as safetensors does (`hasSafetensorsSignature`); false when it cannot be read.
public func startsLikeSafetensors(_ path: String) -> Bool {
    guard let size = try? regularFileSize(path) else { return false }
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var head = [UInt8](repeating: 0, count: 9)
    guard pread(fd, &head, 9, 0) == 9 else { return false }
    return head.withUnsafeBytes { hasSafetensorsSignature($0, fileSize: size) }
}

func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// The checkpoint file of a folder as HF `save_pretrained` writes it: `model.safetensors`,
/// `model.safetensors.index.json` (sharded), `pytorch_model.bin`, `tf_model.h5` (first found, the order of
/// transformers' `from_pretrained`: a folder holding a single file and a stale index loads the single file
/// there too), else the one `*.safetensors.index.json`. Its `config.json` is read beside it.
func checkpointInFolder(_ dir: String) throws -> String {
    let fm = FileManager.default
    for name in ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "tf_model.h5"] where fm.fileExists(atPath: dir + "/" + name) {
        return dir + "/" + name
    }
    let listing = (try? fm.contentsOfDirectory(atPath: dir)) ?? []
    let indexes = listing.filter { $0.hasSuffix(".safetensors.index.json") }.sorted()
    if indexes.count == 1 { return dir + "/" + indexes[0] }
    if indexes.count > 1 {
        throw CheckpointError(dir, .isDirectory, "is a folder with several index files (\(indexes.joined(separator: ", "))); name one")
    }
    if listing.contains("pytorch_model.bin.index.json") {
        throw CheckpointError(dir, .isDirectory, "holds a sharded pytorch_model.bin, which is not read; save it with save_pretrained(safe_serialization=True)")
    }
    throw CheckpointError(dir, .isDirectory,
                          "is a folder without model.safetensors, pytorch_model.bin, tf_model.h5 or a model.safetensors.index.json")
}

/// A checkpoint's identity in score keys, the score cache and shard parts: the XXH64 of every file its loader
/// reads. A file hashes as its bytes. A folder (or an `*.index.json`, which stands for its folder) hashes as
/// the names and hashes of its `.safetensors` and `.json` files (shards, index, config.json) and of the file
/// `checkpointInFolder` picks (a `pytorch_model.bin` or `tf_model.h5` too), so no weight the loader reads is
/// left out of it.
public func checkpointContentHash(path: String) throws -> String {
    guard let (dir, names) = try contentHashFiles(path: path) else { return try fileContentHash(path: path) }
    return try filesContentHash(folder: dir, names: names)
}

/// The files `checkpointContentHash` reads: nil for a single file (the file itself), else the folder and the
/// names in it.
func contentHashFiles(path: String) throws -> (folder: String, names: [String])? {
    var dir = path
    if path.hasSuffix(".index.json") {
        dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
    } else if !isDirectory(path) {
        return nil
    }
    let listing: [String]
    do { listing = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
        throw CheckpointError(dir, .unreadable, "cannot list: \(ioReason(error))")
    }
    var names = listing.filter { $0.hasSuffix(".safetensors") || $0.hasSuffix(".json") }
    if !path.hasSuffix(".index.json") { names.append(URL(fileURLWithPath: try checkpointInFolder(dir)).lastPathComponent) }
    return (dir, Array(Set(names)).sorted())
}

/// HDF5's signature at offset 0 (files with a user block put it at 512, 1024, …).
private func hasHDF5Signature(_ fd: Int32) -> Bool {
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

/// What a file states outright (rather than through its shapes).
struct FileConfig {
    var stated: StatedConfig
    /// GPT-2 tokenizer rows when the stored vocabulary is padded past them (llm.c's V).
    var vocab: Int?
}

/// An opened checkpoint of any format.
struct TensorStore {
    let path: String
    let format: CheckpointFormat
    /// Stored tensors (aliases not repeated), in file order.
    let tensors: [SourceTensor]
    /// Alias name → stored name.
    let aliases: [String: String]
    let fileConfig: FileConfig?
    /// The folder beside-files (config.json, meta.json) are looked for in: the checkpoint file's.
    let directory: String
    private let reader: Reader

    private enum Reader {
        case safetensors(SafetensorsFile), sharded(ShardedSafetensors), hdf5(HDF5File), torch(TorchFile), llmc(LlmCFile)
    }

    init(path: String) throws {
        self.path = path
        let file = isDirectory(path) ? try checkpointInFolder(path) : path
        format = try detectFormat(path: file)
        var aliases: [String: String] = [:], config: FileConfig? = nil
        let dir = (file as NSString).deletingLastPathComponent
        switch format {
        case .hdf5:
            let h = try HDF5File(path: file)
            reader = .hdf5(h)
            if !h.rootSizes.isEmpty { config = FileConfig(stated: try statedConfig(source: .hdf5Attributes, file: file) { h.rootSizes[$0] }) }
            tensors = h.datasets.map { SourceTensor(name: $0.path, shape: $0.shape, dtype: $0.dtype.rawValue) }
        case .safetensors:
            let s = try SafetensorsFile(path: file)
            reader = .safetensors(s); aliases = s.aliases
            tensors = s.tensorNames.compactMap { n in s.info(n).map { SourceTensor(name: n, shape: $0.shape, dtype: $0.dtype.rawValue) } }
        case .shardedSafetensors:
            let s = try ShardedSafetensors(path: file)
            reader = .sharded(s); aliases = s.aliases; tensors = s.tensors
        case .torch:
            let t = try TorchFile(path: file)
            reader = .torch(t); tensors = t.tensors
            if let a = t.modelArgs { config = FileConfig(stated: a.stated(file: file)) }
        case .llmc:
            let l = try LlmCFile(path: file)
            reader = .llmc(l); tensors = l.tensors
            config = FileConfig(stated: StatedConfig(source: .llmcHeader, file: file, sizes: [.heads: ("num_heads", l.heads)]), vocab: l.vocab)
        }
        self.aliases = aliases; fileConfig = config; directory = dir
    }

    /// Checks what the container records about its own bytes before the weights are used (a torch.save
    /// archive's CRC-32s); the other containers record nothing of the kind.
    func checkIntegrity() throws {
        if case let .torch(t) = reader { try t.checkWeights() }
    }

    /// The run's training metadata (torch training checkpoints only).
    func trainingInfo(withOptimizer: Bool) -> TrainingInfo? {
        if case let .torch(t) = reader { return t.trainingInfo(withOptimizer: withOptimizer) }
        return nil
    }

    /// A stored tensor (or alias) as Float.
    func floats(_ name: String) throws -> [Float] {
        switch reader {
        case let .safetensors(s): return try s.floats(name)
        case let .sharded(s): return try s.shard(name).floats(name)
        case let .hdf5(h): return try h.floats(name)
        case let .torch(t): return try t.floats(name)
        case let .llmc(l): return try l.floats(name)
        }
    }

    /// Decodes a stored tensor (or alias) straight into `out`, which holds `count` floats.
    func decode(_ name: String, into out: UnsafeMutablePointer<Float>, count: Int) throws {
        func check(_ n: Int) throws {
            guard n == count else { throw CheckpointError(path, .wrongShape, "tensor '\(name)': size mismatch") }
        }
        switch reader {
        case let .safetensors(s): try check(s.elementCount(name)); try s.decode(name, into: out)
        case let .sharded(s): let f = try s.shard(name); try check(f.elementCount(name)); try f.decode(name, into: out)
        case let .torch(t): try check(t.elementCount(name)); try t.decode(name, into: out)
        case let .llmc(l): try check(l.elementCount(name)); try l.decode(name, into: out)
        case .hdf5:
            let v = try floats(name)
            try check(v.count)
            v.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: count) }
        }
    }

    /// Whether two stored tensors hold bitwise-equal values.
    func sameValues(_ a: String, _ b: String) throws -> Bool {
        if a == b { return true }
        switch reader {
        case let .safetensors(s): if try s.sameBytes(a, b) { return true }
        case let .torch(t): if try t.sameView(a, b) { return true }
        default: break
        }
        let x = try floats(a), y = try floats(b)
        return x.elementsEqual(y) { $0.bitPattern == $1.bitPattern }
    }
}
