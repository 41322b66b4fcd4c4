import Foundation
import TestSets
import XCTest

/// Test-set limits: sizes that are not whole tokens, ids outside the vocabulary or Int32,
/// window parameters at the ends of Int, and a text document that is one enormous line.
final class TestSetLimitsTests: XCTestCase {
    func temp(_ name: String, _ bytes: [UInt8]) throws -> String {
        let dir = NSTemporaryDirectory() + "gpt2lab-limits-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A safetensors file with one integer tensor "tokens".
    func tokens(_ dtype: String, shape: Int, bytes: [UInt8]) throws -> String {
        let header = Array(#"{"tokens":{"dtype":"\#(dtype)","shape":[\#(shape)],"data_offsets":[0,\#(bytes.count)]}}"#.utf8)
        return try temp("t.safetensors", withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + bytes)
    }

    func testSizeNotAMultipleOfTheDType() throws {
        let odd = try temp("odd.bin", [1, 0, 2, 0, 3])
        assertFails(odd, containing: ["not a multiple of 2"]) { _ = try loadTokenIDs(path: odd) }
        let ragged = try tokens("I32", shape: 2, bytes: [1, 0, 0, 0, 2, 0, 0])
        assertFails(ragged, containing: ["needs more bytes than the file's data area (7)"]) { _ = try loadTokenIDs(path: ragged) }
    }

    func testIDsOutsideInt32AndVocabulary() throws {
        let wide = try tokens("I64", shape: 2, bytes: [1, 0, 0, 0, 0, 0, 0, 0] + [0, 0, 0, 0, 1, 0, 0, 0])
        assertFails(wide, containing: ["does not fit in int32"]) { _ = try loadTokenIDs(path: wide) }
        let big = try temp("big.bin", [0xFF, 0xFF, 0x51, 0xC4, 0x50, 0xC4])           // 65535, 50257, 50256
        let ids = try loadTokenIDs(path: big).ids
        XCTAssertEqual(ids, [65535, 50257, 50256])
        assertFails(big, containing: ["65535", "position 0", "0..<50257"]) { try validateTokenIDs(ids, vocabSize: 50257, path: big) }
    }

    /// Found writing the fuzz targets: skip + maxTokens and start + context overflowed (a trap) near Int.max.
    func testWindowParametersAtTheEndsOfInt() throws {
        let p = try WindowPlan(tokenCount: 10, context: .max, stride: .max, skip: 0, maxTokens: .max)
        XCTAssertEqual(p.windows.map { [$0.start, $0.length, $0.scoredFrom] }, [[0, 9, 0]])
        let q = try WindowPlan(tokenCount: 10, context: 4, stride: 4, skip: 3, maxTokens: .max - 1)
        XCTAssertEqual(q.tokenRange, 3..<10)
        XCTAssertEqual(q.tokensScored, 6)
        XCTAssertThrowsError(try WindowPlan(tokenCount: 10, context: 4, stride: 2, skip: .max, maxTokens: .max))
        XCTAssertThrowsError(try WindowPlan(tokenCount: 10, context: .min, stride: 1))
        XCTAssertThrowsError(try WindowPlan(tokenCount: 10, context: 4, stride: 1, skip: .min))
    }

    /// One 4 MB JSON line (a run of spaces, then words): encoded in linear-ish time, and to
    /// the same ids as the same text in a .txt file plus the end-of-text marker.
    func testEnormousJSONLine() throws {
        let text = String(repeating: " ", count: 1 << 20) + String(repeating: "word ünï ", count: 300_000)
        let line = try JSONSerialization.data(withJSONObject: ["text": text])
        let jsonl = try temp("big.jsonl", [UInt8](line) + [10])
        let txt = try temp("big.txt", Array(text.utf8))
        let start = Date()
        let a = try loadTokenIDs(path: jsonl), b = try loadTokenIDs(path: txt)
        XCTAssertLessThan(Date().timeIntervalSince(start), 60)
        XCTAssertEqual(a.ids, b.ids + [50256])
        XCTAssertEqual(a.utf8Bytes, text.utf8.count)
    }
}
