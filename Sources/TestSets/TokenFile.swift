// Test sets as token ids: nanoGPT's uint16 `.bin`, a safetensors file with one integer
// `tokens` tensor (gpjt), an HDF5 dataset of ids, or text (.txt, .jsonl) run through GPT-2's tokenizer.

import Checkpoints
import Foundation
import Plumbing
import Tokenizer

/// Problems with a test set; messages are one line naming the file.
public enum TestSetError: Error, LocalizedError, Sendable, Equatable {
    case unreadable(path: String, reason: String)
    case badFormat(path: String, reason: String)
    case tooShort(path: String, count: Int)
    case badTokenID(path: String, position: Int, id: Int32, vocabSize: Int)
    case badWindows(String)

    public var errorDescription: String? {
        switch self {
        case let .unreadable(p, r): return "\(p): \(r)"
        case let .badFormat(p, r): return "\(p): \(r)"
        case let .tooShort(p, n): return "\(p): \(n) token(s); a test set needs at least 2"
        case let .badTokenID(p, i, id, v): return "\(p): token id \(id) at position \(i) is outside the vocabulary (0..<\(v))"
        case let .badWindows(r): return "windows: \(r)"
        }
    }
}

/// Token ids read from a test-set file.
public struct TokenFile: Sendable {
    public var ids: [Int32]
    /// UTF-8 size of the text the ids came from, when known (text inputs).
    public var utf8Bytes: Int?
    /// "bin", "safetensors", "hdf5", "txt", "jsonl".
    public var format: String
    public init(ids: [Int32], utf8Bytes: Int?, format: String) {
        self.ids = ids; self.utf8Bytes = utf8Bytes; self.format = format
    }
}

/// Reads token ids from `path`; `dataset` names the HDF5 dataset or safetensors tensor
/// (default "tokens", or the only integer tensor/dataset).
///
/// Text is tokenized with GPT-2's BPE (`encodeTextFile`): `.txt` is UTF-8 where each literal
/// `<|endoftext|>` becomes 50256; `.jsonl` holds one `{"text": …}` per line, each document followed by
/// 50256. Text sets fill `utf8Bytes` (markers excluded), the denominator of bits per byte.
public func loadTokenIDs(path: String, dataset: String? = nil) throws -> TokenFile {
    try checkTokenFilePath(path)
    let ext = (path as NSString).pathExtension.lowercased()
    let file: TokenFile
    switch ext {
    case "txt", "jsonl":
        let encoded = try encodeTextFile(path: path, tokenizer: try GPT2Tokenizer.load())
        file = TokenFile(ids: encoded.ids, utf8Bytes: encoded.utf8Bytes, format: ext)
    case "json":
        throw TestSetError.badFormat(path: path, reason: "JSON text sets must be JSON Lines: name the file .jsonl, one {\"text\": …} per line")
    case "bin": file = TokenFile(ids: try readUInt16Bin(path), utf8Bytes: nil, format: "bin")
    case "h5", "hdf5": file = TokenFile(ids: try readHDF5IDs(path, dataset: dataset), utf8Bytes: nil, format: "hdf5")
    default:
        // Another name is read as safetensors only by content (a text file named .md is told to be named
        // .txt); an unreadable file goes to the reader, which names the problem.
        let unreadable = !FileManager.default.isReadableFile(atPath: path)
        guard ext == "safetensors" || unreadable || startsLikeSafetensors(path) else {
            throw TestSetError.badFormat(path: path, reason: "is not a test set gpt2lab reads: name text .txt (or .jsonl, one {\"text\": …} per line); "
                                         + "token ids are .bin (uint16), .safetensors or .h5")
        }
        file = TokenFile(ids: try readSafetensorsIDs(path, tensor: dataset), utf8Bytes: nil, format: "safetensors")
    }
    guard file.ids.count >= 2 else { throw TestSetError.tooShort(path: path, count: file.ids.count) }
    return file
}

/// A token file must exist and be a file.
func checkTokenFilePath(_ path: String) throws {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
        throw TestSetError.unreadable(path: path, reason: "no such file")
    }
    if isDir.boolValue { throw TestSetError.unreadable(path: path, reason: "is a directory, expected a file") }
}

/// Checks every id is in 0..<vocabSize; names the first bad one and its position.
public func validateTokenIDs(_ ids: [Int32], vocabSize: Int, path: String) throws {
    if let i = ids.firstIndex(where: { $0 < 0 || Int($0) >= vocabSize }) {
        throw TestSetError.badTokenID(path: path, position: i, id: ids[i], vocabSize: vocabSize)
    }
}

/// nanoGPT's format: little-endian uint16, no header.
func readUInt16Bin(_ path: String) throws -> [Int32] {
    try mappedUInt16Bin(path).withUnsafeBytes { raw in
        (0..<(raw.count / 2)).map { Int32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
    }
}

/// A nanoGPT .bin mapped into memory (not read), its size checked to be whole uint16 tokens.
func mappedUInt16Bin(_ path: String) throws -> Data {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
        throw TestSetError.unreadable(path: path, reason: "cannot read: \(ioReason(error))")
    }
    guard data.count % 2 == 0 else {
        throw TestSetError.badFormat(path: path, reason: "size \(data.count) bytes is not a multiple of 2 (uint16 tokens)")
    }
    return data
}

/// Occurrences of each id in 0..<vocabSize among `ids` (ids outside it are not counted).
public func tokenCounts(_ ids: [Int32], vocabSize: Int) -> [Int] {
    var counts = [Int](repeating: 0, count: vocabSize)
    for id in ids where id >= 0 && Int(id) < vocabSize { counts[Int(id)] += 1 }
    return counts
}

func readSafetensorsIDs(_ path: String, tensor: String?) throws -> [Int32] {
    do {
        let f = try SafetensorsFile(path: path)
        let ints = f.tensorNames.filter { f.info($0).map { $0.dtype.isInteger } ?? false }
        let name = tensor ?? (f.info("tokens") != nil ? "tokens" : (ints.count == 1 ? ints[0] : nil))
        guard let name, f.info(name) != nil else {
            throw TestSetError.badFormat(path: path, reason: "no token tensor '\(tensor ?? "tokens")' (tensors: \(f.tensorNames.prefix(8).joined(separator: ", ")))")
        }
        return try f.int32s(name)
    } catch let e as CheckpointError {
        throw TestSetError.unreadable(path: path, reason: e.problem)
    }
}

func readHDF5IDs(_ path: String, dataset: String?) throws -> [Int32] {
    do {
        let f = try HDF5File(path: path)
        let ints = f.datasets.filter { $0.dtype.isInteger }.map(\.path)
        let name = dataset.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? (ints.count == 1 ? ints[0] : nil)
        guard let name, f.info(name) != nil else {
            throw TestSetError.badFormat(path: path, reason: dataset == nil
                ? "pass dataset: one of \(ints.prefix(8).joined(separator: ", "))"
                : "no dataset '\(dataset ?? "")'")
        }
        return try f.int32s(name)
    } catch let e as CheckpointError {
        throw TestSetError.unreadable(path: path, reason: e.problem)
    }
}

extension TokenFile {
    /// The test set's identity: XXH64 of its token ids (Int32, little-endian), as 16 hex digits. The
    /// same text as .txt, .bin or safetensors has one identity; a tokenizer change gives a new one.
    /// Score caches, shard parts and reports all key test sets by it.
    public var contentHash: String { ids.withUnsafeBytes { hex64(xxh64($0)) } }
}
