import Foundation
import XCTest

/// `compare`'s Δ by token frequency and calibration through the binary: --frequencies, --json, --plot,
/// and a frequency file it must refuse. The values are checked against numpy in AnalysisTests.
extension CLITests {
    func testCompareCountsFrequenciesFromTheGivenFileAndDrawsTheReliabilityDiagram() throws {
        let bin = try fixture("data/test-persuasion.bin")
        let a = try fixture("runs/baseline/model.safetensors"), b = try fixture("runs/stacked/model.safetensors")
        let dir = try scratchFolder("frequencies")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = dir + "/train.bin", plot = dir + "/reliability.png"
        // "Training data": the test set's first 20,000 tokens, so some later targets are unseen.
        try Data(contentsOf: URL(fileURLWithPath: bin)).prefix(40_000).write(to: URL(fileURLWithPath: train))
        let args = ["compare", a, b, "--test-set", bin, "--max-tokens", "4096", "--segments", "0"]
        let j = try gpt2lab(args + ["--frequencies", train, "--json", "--plot", plot])
        XCTAssertEqual(j.status, 0, j.err)
        let o = try json(j.out)
        let f = try XCTUnwrap(o["frequency_buckets"] as? [String: Any])
        XCTAssertEqual(f["counted_from"] as? String, "training data")
        XCTAssertEqual(f["source"] as? String, train)
        XCTAssertEqual(f["tokens_counted"] as? Int, 20_000)
        let buckets = try XCTUnwrap(f["buckets"] as? [[String: Any]])
        XCTAssertEqual(buckets.map { $0["label"] as? String }, ["ranks 1–10", "ranks 11–100", "ranks 101–1,000", "ranks 1,001–10,000", "ranks > 10,000", "unseen"])
        XCTAssertEqual(buckets.compactMap { $0["tokens"] as? Int }.reduce(0, +), o["tokens_scored"] as? Int, "every token in one bucket")
        XCTAssertGreaterThan(buckets[0]["tokens"] as? Int ?? 0, 0)
        // every key in every bucket, a missing value as null (as docs/commands.md says), never left out
        let keys: Set = ["label", "rank_from", "rank_to", "types", "count_min", "count_max", "tokens", "loss_a", "loss_b",
                         "delta", "p_value", "windows"]
        for bucket in buckets { XCTAssertEqual(Set(bucket.keys), keys, "\(bucket)") }
        let empty = try XCTUnwrap(buckets.first { $0["types"] as? Int == 0 }, "a 20,000-token count leaves ranks > 10,000 empty")
        for key in ["loss_a", "loss_b", "delta", "p_value", "windows", "rank_to", "count_min", "count_max"] { XCTAssertTrue(empty[key] is NSNull, "\(key): \(empty)") }
        let cal = try XCTUnwrap(o["calibration"] as? [String: [String: Any]])
        for side in ["a", "b"] {
            let c = try XCTUnwrap(cal[side])
            XCTAssertEqual((c["bins"] as? [Any])?.count, 15)
            XCTAssertEqual(c["tokens"] as? Int, o["tokens_scored"] as? Int)
            let ece = try XCTUnwrap(c["ece"] as? Double)
            XCTAssertTrue(ece > 0 && ece < 0.2, "\(ece)")
        }
        XCTAssertTrue(j.err.contains("wrote \(plot)"), j.err)
        let png = try Data(contentsOf: URL(fileURLWithPath: plot))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        XCTAssertNotNil(png.range(of: Data("Software\0gpt2lab".utf8)), "the chart carries gpt2lab's mark")

        let t = try gpt2lab(args)
        XCTAssertEqual(t.status, 0, t.err)
        XCTAssertTrue(t.out.contains("loss by target-token frequency (types ranked by count in the 4,096 test-set tokens compared;"), t.out)
        XCTAssertFalse(t.out.contains("unseen"), "counted from the test set, no target is unseen")
        XCTAssertTrue(t.out.contains("calibration A  ECE 0.0"), t.out)
        XCTAssertTrue(t.out.contains("calibration B  ECE 0.0"), t.out)
    }

    func testCompareRefusesAFrequencyFileOutsideTheVocabulary() throws {
        let bin = try fixture("data/test-persuasion.bin")
        let a = try fixture("runs/baseline/model.safetensors"), b = try fixture("runs/stacked/model.safetensors")
        let dir = try scratchFolder("bad-frequencies")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bad = dir + "/train.bin"
        try Data([0x10, 0x00, 0xFF, 0xFF]).write(to: URL(fileURLWithPath: bad))   // ids 16, 65535
        let r = try gpt2lab(["compare", a, b, "--test-set", bin, "--max-tokens", "512", "--frequencies", bad])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
        XCTAssertTrue(r.err.contains("\(bad): token id 65535 at position 1 is outside the vocabulary (0..<50257)"), r.err)
        XCTAssertEqual(r.out, "")
        let missing = try gpt2lab(["compare", a, b, "--test-set", bin, "--frequencies", dir + "/nope.bin"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.err.contains(dir + "/nope.bin"), missing.err)
        let svg = try gpt2lab(["compare", a, b, "--test-set", bin, "--plot", dir + "/r.svg"])
        XCTAssertNotEqual(svg.status, 0)
        XCTAssertTrue(svg.err.contains("--plot needs a .png file name"), svg.err)
    }
}
