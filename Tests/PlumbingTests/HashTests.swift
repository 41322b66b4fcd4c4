import Foundation
import Plumbing
import XCTest

/// The two content hashes against independent references (Python's `xxhash` and `hashlib`).
final class HashTests: XCTestCase {
    func testXXH64KnownValues() {
        // Reference values from the Python `xxhash` package (xxhash.xxh64(b).hexdigest()).
        func h(_ b: [UInt8]) -> String { String(b.withUnsafeBytes { xxh64($0) }, radix: 16) }
        XCTAssertEqual(h([]), "ef46db3751d8e999")
        XCTAssertEqual(h(Array("abc".utf8)), "44bc2cf5ad770999")
        XCTAssertEqual(h(Array(repeating: UInt8(ascii: "a"), count: 31)), "fe47067cda802916")
        XCTAssertEqual(h(Array(String(repeating: "gpt2lab", count: 17).utf8)), "84422ea9642a4830")
        XCTAssertEqual(h(Array((0..<3).flatMap { _ in (0..<256).map { UInt8($0) } }) + Array("xyz".utf8)), "e921a1b45bd779f8")
        let bin = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/fixtures/data/test-persuasion.bin").path
        if FileManager.default.fileExists(atPath: bin) { XCTAssertEqual(try fileContentHash(path: bin), "c978af36bf64c914") }
    }

    /// Files are hashed in 8 MiB pieces: across the piece boundaries the hash is still Python xxhash's of the whole
    /// file, and the streamed form equals the one-shot one wherever the pieces are cut.
    func testFileHashAcrossPiecesMatchesPythonXXHash() throws {
        let dir = NSTemporaryDirectory() + "gpt2lab-hash-pieces-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func content(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(($0 * 31 + 7) % 251) } }
        // xxhash.xxh64(bytes(((i*31+7) % 251) for i in range(n))).hexdigest(), xxhash 4.1.0
        let want = [100: "f0b29a915621716d", 8 << 20: "dd20d79d047d6398", (8 << 20) + 45: "a77b69f8841c7107",
                    (16 << 20) + 31: "8f00c62ed06cd555", (64 << 20) + 45: "e77c447fb8c8f921"]
        for (n, hex) in want {
            let path = dir + "/f\(n)"
            try Data(content(n)).write(to: URL(fileURLWithPath: path))
            XCTAssertEqual(try fileContentHash(path: path), hex, "\(n) bytes")
        }
        // a FIFO is refused before it is opened (opening it would wait for a writer; no input that is hashed is one)
        let fifo = dir + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try fileContentHash(path: fifo)) {
            XCTAssertEqual(($0 as? LocalizedError)?.errorDescription, "\(fifo): is not a regular file (a FIFO)")
        }
        let bytes = content(1000)
        let whole = bytes.withUnsafeBytes { xxh64($0) }
        for cut in [0, 32, 64, 992] {
            var s = XXH64Stream()
            bytes.withUnsafeBytes { b in
                s.stripes(UnsafeRawBufferPointer(rebasing: b[0..<cut]))
                XCTAssertEqual(s.finish(UnsafeRawBufferPointer(rebasing: b[cut...])), whole, "cut at \(cut)")
            }
        }
    }

    /// CRC-32 against Python's zlib.crc32 (the check value of "123456789" is 0xCBF43926), whole and in two pieces.
    func testCRC32KnownValues() {
        func c(_ b: [UInt8]) -> UInt32 { b.withUnsafeBytes { crc32($0) } }
        XCTAssertEqual(c([]), 0)
        XCTAssertEqual(c(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(c(Array(repeating: UInt8(ascii: "a"), count: 1000)), 0x9A38_DA03)
        let long = Array((0..<3).flatMap { _ in (0..<256).map { UInt8($0) } }) + Array("xyz".utf8)
        XCTAssertEqual(c(long), 0x4390_6281)
        for cut in [0, 1, 7, 8, 9, 500, long.count] {
            let first = Array(long[..<cut]).withUnsafeBytes { crc32($0) }
            XCTAssertEqual(Array(long[cut...]).withUnsafeBytes { crc32($0, continuing: first) }, 0x4390_6281, "cut at \(cut)")
        }
    }

    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256.hexDigest([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hexDigest(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hexDigest(Array(repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testContentHash() throws {
        let dir = NSTemporaryDirectory() + "gpt2lab-hash-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a", b = dir + "/b"
        try Data("hello world, twelve+".utf8).write(to: URL(fileURLWithPath: a))
        try Data("hello world, twelve-".utf8).write(to: URL(fileURLWithPath: b))
        XCTAssertNotEqual(try fileContentHash(path: a), try fileContentHash(path: b))
        XCTAssertEqual(try fileContentHash(path: a).count, 16)
        XCTAssertNotEqual(contentHash64(""), contentHash64("\0"))
    }

    /// A folder is not a file to hash (a checkpoint folder hashes through Checkpoints' checkpointContentHash);
    /// a list of files hashes by name and content.
    func testFolderIsRefusedAndFileListsHash() throws {
        let dir = NSTemporaryDirectory() + "gpt2lab-hash-folder-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertThrowsError(try fileContentHash(path: dir))
        try Data("a".utf8).write(to: URL(fileURLWithPath: dir + "/x"))
        try Data("b".utf8).write(to: URL(fileURLWithPath: dir + "/y"))
        let both = try filesContentHash(folder: dir, names: ["y", "x"])
        XCTAssertEqual(both, try filesContentHash(folder: dir, names: ["x", "y", "x"]), "order and repeats do not matter")
        XCTAssertNotEqual(both, try filesContentHash(folder: dir, names: ["x"]))
        try Data("c".utf8).write(to: URL(fileURLWithPath: dir + "/y"))
        XCTAssertNotEqual(both, try filesContentHash(folder: dir, names: ["x", "y"]))
    }
}
