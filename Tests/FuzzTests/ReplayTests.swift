import Foundation
import FuzzTargets
import XCTest

/// The CI smoke pass of the fuzz targets, without libFuzzer or sanitizers: every committed
/// seed (fuzz/corpus/TARGET) and generated seed, then mutants of them (bit flips, byte
/// inserts and deletes, truncations, splices, interesting values) from a fixed seed, run
/// through the same entry points `make fuzz` uses. A crash fails the run; so does a broken
/// invariant. GPT2LAB_FUZZ_MUTANTS sets the mutants per target (default 1500).
final class ReplayTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let mutants = Int(ProcessInfo.processInfo.environment["GPT2LAB_FUZZ_MUTANTS"] ?? "") ?? 1500

    override class func tearDown() { removeFuzzScratch() }

    func seeds(_ target: String) -> [[UInt8]] {
        let dir = Self.root.appendingPathComponent("fuzz/corpus/" + target).path
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        return files.filter { !$0.hasPrefix("gen-") }.compactMap { FileManager.default.contents(atPath: dir + "/" + $0).map { [UInt8]($0) } } + generatedSeeds(target)
    }

    func replay(_ target: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let body = try XCTUnwrap(fuzzTargets[target])
        let corpus = seeds(target)
        XCTAssertFalse(corpus.isEmpty, "no seeds for \(target)", file: file, line: line)
        func run(_ input: [UInt8], _ what: String) {
            if let broken = input.withUnsafeBytes({ body($0) }) {
                XCTFail("\(target) \(what): \(broken); input \(input.prefix(64).map { String($0) }.joined(separator: ","))", file: file, line: line)
            }
        }
        for (i, s) in corpus.enumerated() { run(s, "seed \(i)") }
        var rng = XorShift(seed: 0x9E37_79B9 &+ UInt64(target.utf8.count))
        for k in 0..<Self.mutants {
            let base = corpus[Int(rng.next() % UInt64(corpus.count))]
            run(mutate(base, other: corpus[Int(rng.next() % UInt64(corpus.count))], &rng), "mutant \(k)")
        }
    }

    /// GPT2LAB_WRITE_SEEDS=1 writes the generated seeds to fuzz/corpus/TARGET/gen-N (committed).
    func testWriteSeeds() throws {
        guard ProcessInfo.processInfo.environment["GPT2LAB_WRITE_SEEDS"] != nil else { throw XCTSkip("GPT2LAB_WRITE_SEEDS not set") }
        for target in fuzzTargets.keys {
            let dir = Self.root.appendingPathComponent("fuzz/corpus/" + target).path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (i, s) in generatedSeeds(target).enumerated() { try Data(s).write(to: URL(fileURLWithPath: dir + "/gen-\(i)")) }
        }
    }

    func testSafetensors() throws { try replay("safetensors") }
    func testHDF5Recipes() throws { try replay("hdf5") }
    func testTestSets() throws { try replay("testsets") }
    func testTokenizer() throws { try replay("tokenizer") }
    func testManifest() throws { try replay("manifest") }
    func testTorch() throws { try replay("torch") }
    func testEvalTasks() throws { try replay("evals") }
}

struct XorShift {
    var s: UInt64
    init(seed: UInt64) { s = seed | 1 }
    mutating func next() -> UInt64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s }
    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
}

/// One to four libFuzzer-like mutations of `input`.
func mutate(_ input: [UInt8], other: [UInt8], _ rng: inout XorShift) -> [UInt8] {
    var b = input
    for _ in 0...rng.below(4) {
        switch rng.below(7) {
        case 0 where !b.isEmpty: b[rng.below(b.count)] ^= UInt8(1 << rng.below(8))
        case 1: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(b.count + 1))
        case 2 where !b.isEmpty: b.remove(at: rng.below(b.count))
        case 3: b = Array(b.prefix(rng.below(b.count + 1)))
        case 4 where !other.isEmpty:
            let cut = rng.below(b.count + 1), from = rng.below(other.count)
            b = Array(b.prefix(cut)) + other[from...]
        case 5 where !b.isEmpty:
            let interesting: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "\""), UInt8(ascii: "[")]
            b[rng.below(b.count)] = interesting[rng.below(interesting.count)]
        default:
            if b.count >= 2 { let i = rng.below(b.count), j = rng.below(b.count); b.swapAt(i, j) }
        }
    }
    return b
}
