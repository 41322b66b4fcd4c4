import Foundation
import TestFixtures
import XCTest
@testable import Tokenizer

/// Checks against independent references: tiktoken's ids for tricky strings (Fixtures/tiktoken_gpt2.json,
/// made by Fixtures/make_fixture.py), tiktoken's ids for Persuasion (shared fixtures), HF's prompt ids.
final class TokenizerTests: XCTestCase {
    /// Loaded once for the suite; loading is cheap (~20 ms) but there is no reason to repeat it per test.
    static let shared = Result { try GPT2Tokenizer.load() }

    func tokenizer() throws -> GPT2Tokenizer { try Self.shared.get() }

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A file under ../shared/fixtures, or a skip when the shared fixtures are not checked out beside the package.
    func sharedFixture(_ relative: String) throws -> URL {
        let url = Self.packageRoot.appendingPathComponent("../shared/fixtures").appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw missingFixtures("shared fixture \(relative) not found at \(url.path)")
        }
        return url
    }

    func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2lab-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    // MARK: Against independent references

    func testGreedyPromptIdsFromHF() throws {
        XCTAssertEqual(try tokenizer().encode("Every effort moves you"), [6109, 3626, 6100, 345])
    }

    func testTiktokenFixture() throws {
        struct Case: Decodable { let text: String; let ids: [Int32]; let ordinary_ids: [Int32] }
        struct Fixture: Decodable { let generator: String; let cases: [Case] }
        let url = Self.packageRoot.appendingPathComponent("Tests/TokenizerTests/Fixtures/tiktoken_gpt2.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 195)
        let t = try tokenizer()
        for c in fixture.cases {
            XCTAssertEqual(t.encode(c.text), c.ids, "encode \(c.text.debugDescription)")
            XCTAssertEqual(t.encode(c.text, allowEndOfText: false), c.ordinary_ids, "ordinary \(c.text.debugDescription)")
            XCTAssertEqual(t.decodeText(c.ids), c.text, "decode \(c.text.debugDescription)")
        }
    }

    func testPersuasionMatchesNanoGPTBin() throws {
        let txt = try sharedFixture("data/test-persuasion.txt")
        let bin = try Data(contentsOf: sharedFixture("data/test-persuasion.bin"))
        let expected: [Int32] = stride(from: 0, to: bin.count, by: 2).map { Int32(UInt16(bin[$0]) | UInt16(bin[$0 + 1]) << 8) }
        XCTAssertEqual(expected.count, 115_031)
        let encoded = try encodeTextFile(path: txt.path, tokenizer: tokenizer())
        XCTAssertEqual(encoded.ids.count, expected.count)
        if let first = zip(encoded.ids, expected).enumerated().first(where: { $0.element.0 != $0.element.1 }) {
            XCTFail("first mismatch at token \(first.offset): got \(first.element.0), expected \(first.element.1)")
        }
        XCTAssertEqual(encoded.ids, expected)
    }

    func testPersuasionUTF8BytesMatchBaseline() throws {
        let txt = try sharedFixture("data/test-persuasion.txt")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: sharedFixture("expected/baseline.json")))
        let tests = (json as? [String: Any])?["tests"] as? [String: Any]
        let expected = try XCTUnwrap((tests?["test-persuasion"] as? [String: Any])?["utf8_bytes"] as? Int)
        XCTAssertEqual(try encodeTextFile(path: txt.path, tokenizer: tokenizer()).utf8Bytes, expected)
    }

    // MARK: Round trips

    func testRoundTripPersuasion() throws {
        let bytes = [UInt8](try Data(contentsOf: sharedFixture("data/test-persuasion.txt")))
        let t = try tokenizer()
        XCTAssertEqual(t.decode(t.encode(bytes: bytes)), bytes)
        XCTAssertEqual(t.decode(t.encode(bytes: bytes, allowEndOfText: false)), bytes)
    }

    func testRoundTripTrickyStrings() throws {
        let t = try tokenizer()
        let strings = [
            "IT'S it's 'S 's 'Re 're", "0123 ٣٤ ⅧⅨ", "a \t\t b\n\n\nc \r\n", "   ", "\t", "中文 日本語 한국어",
            "👨‍👩‍👧‍👦 👍🏽 🇯🇵", "e\u{301}\u{302}\u{303} n\u{303}", "x<|endoftext|>y", "<|endoftext|><|endoftext|>",
            "\u{0}\u{1}\u{7f}", String(repeating: " ", count: 1000), String(repeating: "ab", count: 500),
        ]
        for s in strings {
            XCTAssertEqual(t.decodeText(t.encode(s)), s, s.debugDescription)
            XCTAssertEqual(t.decodeText(t.encode(s, allowEndOfText: false)), s, s.debugDescription)
        }
    }

    func testInvalidUTF8BytesRoundTrip() throws {
        let t = try tokenizer()
        let bytes: [UInt8] = [0x61, 0xFF, 0x20, 0xC3, 0x28, 0xE2, 0x82, 0x20, 0xF0, 0x9F, 0x98, 0x80, 0xED, 0xA0, 0x80]
        XCTAssertEqual(t.decode(t.encode(bytes: bytes)), bytes)
    }

    func testDecodeTextShowsPartialUTF8AsReplacement() throws {
        let t = try tokenizer()
        let ids = t.encode("😀")
        XCTAssertGreaterThan(ids.count, 1, "the emoji should need several byte tokens")
        XCTAssertEqual(t.decodeText(Array(ids.dropLast())), "\u{FFFD}")
        XCTAssertEqual(t.decodeText([GPT2Tokenizer.endOfText]), "<|endoftext|>")
        XCTAssertEqual(t.decodeText([-1, 50257]), "\u{FFFD}\u{FFFD}")
    }

    func testASCIIClassesMatchUnicodeTables() {
        for b in UInt8(0)..<0x80 {
            XCTAssertEqual(PreTokenizer.asciiClass(b), PreTokenizer.classify(Unicode.Scalar(b)), "byte \(b)")
        }
    }

    /// The heap merge (long pieces) must make exactly the quadratic scan's choices, ties included.
    func testHeapMergeMatchesQuadraticMerge() throws {
        let t = try tokenizer()
        var rng = SplitMix64(seed: 7)
        let alphabets: [[UInt8]] = [Array(" ".utf8), Array("ab".utf8), Array("ae ".utf8), Array("-=".utf8),
                                    Array("the ".utf8), (0..<256).map { UInt8($0) }, Array("😀é".utf8)]
        for trial in 0..<300 {
            let alphabet = alphabets[trial % alphabets.count]
            let n = 2 + Int(rng.next() % 400)
            let piece = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            var quadratic: [Int32] = [], heap: [Int32] = []
            piece.withUnsafeBufferPointer { p in
                t.ranks.withLookup { lookup in
                    bytePairMergeQuadratic(p.baseAddress!, n, lookup: lookup, into: &quadratic)
                    bytePairMergeHeap(p.baseAddress!, n, lookup: lookup, into: &heap)
                }
            }
            XCTAssertEqual(heap, quadratic, "trial \(trial), \(n) bytes")
            XCTAssertEqual(t.decode(heap), piece)
        }
    }

    func testBMPClassTableMatchesUnicodeTables() {
        for value in UInt32(0)..<0x10000 {
            guard let scalar = Unicode.Scalar(value) else { continue }
            XCTAssertEqual(PreTokenizer.bmpClass[Int(value)], PreTokenizer.classify(scalar), "U+\(String(value, radix: 16))")
        }
    }

    // MARK: Files and errors

    func testInvalidUTF8ErrorNamesOffset() throws {
        let path = try temporaryFile("bad.txt", Array("hello wörld".utf8) + [0xC3] + Array(" tail".utf8))
        XCTAssertThrowsError(try encodeTextFile(path: path, tokenizer: tokenizer())) { error in
            XCTAssertEqual((error as? TokenizerError)?.problem, .invalidUTF8(byteOffset: 12))
            XCTAssertEqual(error.localizedDescription, "\(path): invalid UTF-8 at byte offset 12")
        }
    }

    func testJSONLinesJoinWithEndOfTextAfterEachDocument() throws {
        let t = try tokenizer()
        let jsonl = "{\"text\": \"First doc.\"}\n\n{\"text\": \"Second <|endoftext|> doc\", \"id\": 2}\n"
        let encoded = try encodeTextFile(path: temporaryFile("set.jsonl", Array(jsonl.utf8)), tokenizer: t)
        let expected = t.encode("First doc.") + [50256] + t.encode("Second <|endoftext|> doc", allowEndOfText: false) + [50256]
        XCTAssertEqual(encoded.ids, expected)
        XCTAssertEqual(encoded.utf8Bytes, "First doc.".utf8.count + "Second <|endoftext|> doc".utf8.count)
    }

    func testBadJSONLineErrors() throws {
        let path = try temporaryFile("set.jsonl", Array("{\"text\": \"ok\"}\n{\"text\": oops}\n".utf8))
        XCTAssertThrowsError(try encodeTextFile(path: path, tokenizer: tokenizer())) { error in
            XCTAssertEqual((error as? TokenizerError)?.problem, .badJSON(line: 2, reason: "not valid JSON (Invalid value around character 9)"))
            XCTAssertTrue(error.localizedDescription.hasPrefix("\(path): bad JSON on line 2"), error.localizedDescription)
        }
        let missing = try temporaryFile("set.jsonl", Array("{\"text\": \"ok\"}\n{\"body\": \"x\"}\n".utf8))
        XCTAssertThrowsError(try encodeTextFile(path: missing, tokenizer: tokenizer())) { error in
            XCTAssertEqual((error as? TokenizerError)?.problem, .missingTextField(line: 2))
        }
        let array = try temporaryFile("set.jsonl", Array("[1, 2]\n".utf8))
        XCTAssertThrowsError(try encodeTextFile(path: array, tokenizer: tokenizer())) { error in
            XCTAssertEqual((error as? TokenizerError)?.problem, .badJSON(line: 1, reason: "not a JSON object"))
        }
        // Lines Python's json reads but Foundation refuses say why (a lone surrogate escape, an overflowing number).
        let surrogate = try temporaryFile("set.jsonl", Array(#"{"text": "x\ud800y"}"#.utf8))
        XCTAssertThrowsError(try encodeTextFile(path: surrogate, tokenizer: tokenizer())) { error in
            XCTAssertTrue(error.localizedDescription.contains("not valid JSON (") && error.localizedDescription.contains("surrogate"),
                          error.localizedDescription)
        }
        let huge = try temporaryFile("set.jsonl", Array(#"{"n": 1e999, "text": "a"}"#.utf8))
        XCTAssertThrowsError(try encodeTextFile(path: huge, tokenizer: tokenizer())) { error in
            XCTAssertEqual((error as? TokenizerError)?.problem, .badJSON(line: 1, reason: "not valid JSON (Number 1e999 is not representable)"))
        }
    }

    func testUnsupportedExtensionAndMissingFile() throws {
        let path = try temporaryFile("set.csv", Array("a,b\n".utf8))
        XCTAssertThrowsError(try encodeTextFile(path: path, tokenizer: tokenizer())) { error in
            XCTAssertEqual((error as? TokenizerError)?.problem, .unsupportedExtension("csv"))
        }
        XCTAssertThrowsError(try encodeTextFile(path: "/nonexistent/x.txt", tokenizer: tokenizer())) { error in
            XCTAssertTrue(error.localizedDescription.hasPrefix("/nonexistent/x.txt: no such file"))
        }
    }

    // MARK: Vocabulary file


    func testPinnedHashMatchesSharedSHA256SUMS() throws {
        let sums = try String(contentsOf: sharedFixture("tokenizer/SHA256SUMS"), encoding: .utf8)
        XCTAssertTrue(sums.contains("\(GPT2Tokenizer.pinnedSHA256)  gpt2.tiktoken"))
    }

    func testVocabularyShape() throws {
        let t = try tokenizer()
        XCTAssertEqual(t.vocabularySize, 50257)
        XCTAssertEqual(t.decodeText([50255]), t.decodeText(t.encode(t.decodeText([50255]))))
    }

    func testWrongVocabularyFileIsRejected() throws {
        let path = try temporaryFile("other.tiktoken", Array("IQ== 0\n".utf8))
        XCTAssertThrowsError(try GPT2Tokenizer(tiktokenFile: path)) { error in
            guard case .checksumMismatch? = (error as? TokenizerError)?.problem else {
                return XCTFail("expected a checksum mismatch, got \(error)")
            }
        }
    }

    func testMalformedRanksAreReported() {
        XCTAssertThrowsError(try RankTable(tiktoken: Array("IQ== 0\nIg==\n".utf8), path: "x.tiktoken")) { error in
            XCTAssertEqual((error as? TokenizerError)?.problem, .malformedRanks(line: 2, reason: "no space"))
        }
        XCTAssertThrowsError(try RankTable(tiktoken: Array("IQ== 0\nIg== 0\n".utf8), path: "x.tiktoken")) { error in
            guard case .malformedRanks? = (error as? TokenizerError)?.problem else { return XCTFail("\(error)") }
        }
    }

    /// A seedable generator for the randomized checks (Steele, Lea & Flood's SplitMix64).
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    // MARK: Timing (printed, not asserted)

    func testPrintLoadTimeAndThroughput() throws {
        let loadStart = Date()
        _ = try GPT2Tokenizer.load()
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let t = try tokenizer()
        let one = [UInt8](try Data(contentsOf: sharedFixture("data/test-persuasion.txt")))
        var text: [UInt8] = []
        while text.count < 5_000_000 { text += one }
        // Wall and thread CPU time: the shared build machine is often oversubscribed, CPU time is the steadier one.
        func cpuSeconds() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
        }
        var wall: [Double] = [], cpu: [Double] = []
        for _ in 0..<7 {
            let start = Date(), cpuStart = cpuSeconds()
            let ids = t.encode(bytes: text)
            cpu.append(cpuSeconds() - cpuStart)
            wall.append(Date().timeIntervalSince(start))
            XCTAssertGreaterThan(ids.count, 0)
        }
        let medianWall = wall.sorted()[wall.count / 2], medianCPU = cpu.sorted()[cpu.count / 2]
        print(String(format: "TOKBENCH load %.1f ms; encode %d bytes: median wall %.3f s = %.2f MB/s, cpu %.3f s = %.2f MB/s",
                     loadSeconds * 1000, text.count, medianWall, Double(text.count) / medianWall / 1e6,
                     medianCPU, Double(text.count) / medianCPU / 1e6))
    }
}
