import Checkpoints
import Foundation
import TestSets
import TestFixtures
import XCTest

func fixtures() throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let dir = root.deletingLastPathComponent().appendingPathComponent("shared/fixtures").path
    guard FileManager.default.fileExists(atPath: dir) else { throw missingFixtures("../shared/fixtures not found") }
    return dir
}

func assertFails(_ file: String, containing words: [String] = [], line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error for \(file)", line: line)
    } catch {
        let message = (error as? LocalizedError)?.errorDescription ?? "\(error)"
        XCTAssertTrue(message.contains(file), "message does not name the file: \(message)", line: line)
        for w in words { XCTAssertTrue(message.contains(w), "message lacks '\(w)': \(message)", line: line) }
    }
}

final class TokenFileTests: XCTestCase {
    func testBinAndSafetensorsAgree() throws {
        let fx = try fixtures()
        let bin = try loadTokenIDs(path: fx + "/data/test-persuasion.bin", dataset: nil)
        let st = try loadTokenIDs(path: fx + "/data/test-persuasion.safetensors", dataset: nil)
        XCTAssertEqual(bin.ids.count, 115_031)
        XCTAssertEqual(bin.ids, st.ids)
        XCTAssertEqual(bin.format, "bin"); XCTAssertEqual(st.format, "safetensors")
        XCTAssertEqual(bin.ids.last, 50256)
        XCTAssertEqual(bin.ids.filter { $0 == 50256 }.count, 25)              // one per chapter document
        XCTAssertNoThrow(try validateTokenIDs(bin.ids, vocabSize: 50257, path: "x"))
    }

    /// Counting a .bin through its memory map gives what counting the ids of the same tokens in the
    /// fixture's safetensors copy gives (the other reader); a bad id names its position.
    func testCountsOfBinMatchTheSafetensorsCopy() throws {
        let fx = try fixtures()
        let bin = try countTokenIDs(path: fx + "/data/test-persuasion.bin", vocabSize: 50257)
        let st = try countTokenIDs(path: fx + "/data/test-persuasion.safetensors", vocabSize: 50257)
        XCTAssertEqual(bin, st)
        XCTAssertEqual(bin.count, 50257); XCTAssertEqual(bin.reduce(0, +), 115_031); XCTAssertEqual(bin[50256], 25)
        let dir = NSTemporaryDirectory() + "gpt2lab-counts-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bad = dir + "/bad.bin"
        try Data([1, 0, 2, 0, 0x60, 0xC4, 3, 0]).write(to: URL(fileURLWithPath: bad))   // 1, 2, 50272, 3
        assertFails(bad, containing: ["token id 50272 at position 2 is outside the vocabulary (0..<50257)"]) {
            _ = try countTokenIDs(path: bad, vocabSize: 50257)
        }
        assertFails(dir + "/none.bin", containing: ["no such file"]) { _ = try countTokenIDs(path: dir + "/none.bin", vocabSize: 50257) }
        try Data([1, 0, 2]).write(to: URL(fileURLWithPath: bad))
        assertFails(bad, containing: ["not a multiple of 2"]) { _ = try countTokenIDs(path: bad, vocabSize: 50257) }
    }

    /// The text and the tiktoken-encoded .bin are the same test set: same ids, plus the UTF-8 size.
    func testTextMatchesBin() throws {
        let fx = try fixtures()
        let txt = try loadTokenIDs(path: fx + "/data/test-persuasion.txt", dataset: nil)
        let bin = try loadTokenIDs(path: fx + "/data/test-persuasion.bin", dataset: nil)
        XCTAssertEqual(txt.format, "txt")
        XCTAssertEqual(txt.ids, bin.ids)
        XCTAssertEqual(txt.utf8Bytes, 466_756)     // expected/baseline.json utf8_bytes
        XCTAssertNil(bin.utf8Bytes)
    }

    func testJSONLines() throws {
        let dir = NSTemporaryDirectory() + "gpt2lab-ts-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/docs.jsonl"
        try Data("{\"text\": \"Every effort moves you\"}\n{\"text\": \"é\"}\n".utf8).write(to: URL(fileURLWithPath: path))
        let f = try loadTokenIDs(path: path, dataset: nil)
        XCTAssertEqual(f.format, "jsonl")
        XCTAssertEqual(Array(f.ids.prefix(5)), [6109, 3626, 6100, 345, 50256])
        XCTAssertEqual(f.ids.last, 50256)
        XCTAssertEqual(f.utf8Bytes, 22 + 2)
    }

    func testBadFiles() throws {
        let dir = NSTemporaryDirectory() + "gpt2lab-ts-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let odd = dir + "/odd.bin", empty = dir + "/empty.bin", one = dir + "/one.bin"
        try Data([1, 0, 2]).write(to: URL(fileURLWithPath: odd))
        try Data().write(to: URL(fileURLWithPath: empty))
        try Data([5, 0]).write(to: URL(fileURLWithPath: one))
        assertFails(odd, containing: ["multiple of 2"]) { _ = try loadTokenIDs(path: odd, dataset: nil) }
        assertFails(empty, containing: ["at least 2"]) { _ = try loadTokenIDs(path: empty, dataset: nil) }
        assertFails(one, containing: ["at least 2"]) { _ = try loadTokenIDs(path: one, dataset: nil) }
        assertFails(dir, containing: ["directory"]) { _ = try loadTokenIDs(path: dir, dataset: nil) }
        assertFails(dir + "/none.bin", containing: ["no such file"]) { _ = try loadTokenIDs(path: dir + "/none.bin", dataset: nil) }
        let txt = dir + "/t.txt"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: txt))
        assertFails(txt, containing: ["at least 2"]) { _ = try loadTokenIDs(path: txt, dataset: nil) }   // one token
        let latin1 = dir + "/latin1.txt"
        try Data([0x63, 0x61, 0x66, 0xE9, 0x20, 0x6F, 0x6B]).write(to: URL(fileURLWithPath: latin1))
        assertFails(latin1, containing: ["UTF-8"]) { _ = try loadTokenIDs(path: latin1, dataset: nil) }
        let json = dir + "/docs.json"
        try Data("[]".utf8).write(to: URL(fileURLWithPath: json))
        assertFails(json, containing: [".jsonl"]) { _ = try loadTokenIDs(path: json, dataset: nil) }
        // Text of another name is not read as a safetensors header ("header length 7526676540175443304").
        for name in ["notes.md", "plain.text", "ids"] {
            let path = dir + "/" + name
            try Data("hello there world".utf8).write(to: URL(fileURLWithPath: path))
            assertFails(path, containing: ["not a test set", ".txt", ".bin (uint16)"]) { _ = try loadTokenIDs(path: path, dataset: nil) }
        }
        let renamed = dir + "/tokens.data"   // safetensors by content, whatever the name
        try FileManager.default.copyItem(atPath: try fixtures() + "/data/test-persuasion.safetensors", toPath: renamed)
        XCTAssertEqual(try loadTokenIDs(path: renamed, dataset: nil).ids.count, 115_031)
        let floats = dir + "/f.safetensors"
        try writeSafetensors(path: floats, tensors: [TensorToWrite(name: "tokens", shape: [3], values: [1, 2, 3])])
        assertFails(floats, containing: ["integer"]) { _ = try loadTokenIDs(path: floats, dataset: nil) }
        // A BOOL tensor is not token ids (it read as a test set of 1s).
        let bools = dir + "/b.safetensors"
        let header = Array(#"{"tokens":{"dtype":"BOOL","shape":[4],"data_offsets":[0,4]}}"#.utf8)
        try Data(withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header + [1, 1, 0, 1]).write(to: URL(fileURLWithPath: bools))
        assertFails(bools, containing: ["BOOL", "integer"]) { _ = try loadTokenIDs(path: bools, dataset: nil) }
        let bad = dir + "/bad.safetensors"
        try Data([1, 2, 3, 4, 5, 6, 7, 8, 9]).write(to: URL(fileURLWithPath: bad))
        assertFails(bad) { _ = try loadTokenIDs(path: bad, dataset: nil) }
        let h5 = dir + "/x.h5"
        try Data([1, 2, 3, 4, 5, 6, 7, 8, 9]).write(to: URL(fileURLWithPath: h5))
        assertFails(h5, containing: ["HDF5"]) { _ = try loadTokenIDs(path: h5, dataset: "ids") }
    }

    func testValidateNamesFirstBadID() {
        assertFails("ids.bin", containing: ["50257", "position 2"]) {
            try validateTokenIDs([1, 2, 50257, 60000], vocabSize: 50257, path: "ids.bin")
        }
    }
}

final class WindowPlanTests: XCTestCase {
    /// Every target in the range scored exactly once, windows within bounds.
    func checkCoverage(_ p: WindowPlan, line: UInt = #line) {
        var scored = [Int](repeating: 0, count: p.tokenRange.upperBound)
        for w in p.windows {
            XCTAssertLessThanOrEqual(w.length, p.context, line: line)
            XCTAssertGreaterThanOrEqual(w.start, p.tokenRange.lowerBound, line: line)
            XCTAssertLessThan(w.start + w.length, p.tokenRange.upperBound, line: line)      // last target inside
            for t in (w.start + w.scoredFrom + 1)...(w.start + w.length) { scored[t] += 1 }
        }
        XCTAssertEqual(Array(scored[(p.tokenRange.lowerBound + 1)...]), [Int](repeating: 1, count: p.tokenRange.count - 1), line: line)
        XCTAssertEqual(p.tokensScored, p.tokenRange.count - 1, line: line)
    }

    func testFixtureCounts() throws {
        let fx = try fixtures()
        let data = try Data(contentsOf: URL(fileURLWithPath: fx + "/expected/baseline.json"))
        let e = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let tests = try XCTUnwrap((e["tests"] as? [String: Any])?["test-persuasion"] as? [String: Any])
        let perWindow = try XCTUnwrap(tests["per_window_loss"] as? [Double])
        let n = 115_031
        let s256 = try WindowPlan(tokenCount: n, context: 256, stride: 256)
        let s128 = try WindowPlan(tokenCount: n, context: 256, stride: 128)
        XCTAssertEqual(s256.tokensScored, (tests["stride_256"] as? [String: Any])?["tokens_scored"] as? Int)
        XCTAssertEqual(s128.tokensScored, (tests["stride_128"] as? [String: Any])?["tokens_scored"] as? Int)
        XCTAssertEqual(s256.tokensScored, 115_030)
        XCTAssertEqual(s256.windows.count, perWindow.count)
        XCTAssertTrue(s256.windows.allSatisfy { $0.scoredFrom == 0 })
        XCTAssertTrue(s128.windows.dropFirst().allSatisfy { $0.scoredFrom == 128 || $0.length < 256 })
        checkCoverage(s256); checkCoverage(s128)
    }

    func testSmallPlansAndNarrowing() throws {
        for n in [2, 3, 10, 17, 64] {
            for T in [1, 4, 7] {
                for S in 1...T {
                    checkCoverage(try WindowPlan(tokenCount: n, context: T, stride: S))
                    let p = try WindowPlan(tokenCount: n + 20, context: T, stride: S, skip: 5, maxTokens: n)
                    XCTAssertEqual(p.tokenRange, 5..<(5 + n))
                    checkCoverage(p)
                }
            }
        }
        let p = try WindowPlan(tokenCount: 10, context: 4, stride: 2)
        XCTAssertEqual(p.windows.map(\.start), [0, 2, 4, 6])
        XCTAssertEqual(p.windows.map(\.scoredFrom), [0, 2, 2, 2])
        XCTAssertEqual(p.windows.last?.length, 3)
    }

    func testInvalidPlans() {
        XCTAssertThrowsError(try WindowPlan(tokenCount: 100, context: 8, stride: 0))
        XCTAssertThrowsError(try WindowPlan(tokenCount: 100, context: 8, stride: 9))
        XCTAssertThrowsError(try WindowPlan(tokenCount: 100, context: 8, stride: 8, skip: 99))
        XCTAssertThrowsError(try WindowPlan(tokenCount: 100, context: 8, stride: 8, maxTokens: 1))
        XCTAssertThrowsError(try WindowPlan(tokenCount: 1, context: 8, stride: 8))
    }
}
