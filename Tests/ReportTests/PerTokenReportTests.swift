import Analysis
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import TestFixtures
import XCTest
@testable import Report

/// The report's per-token section (manifest `per_token`): its numbers against PyTorch
/// (tests/reference/compare_reference.py, the fixture `compare` is tested with), the cap, the
/// manifest errors, and the HTML escaping of decoded text.
final class PerTokenReportTests: XCTestCase {
    static let root = ReportTests.root
    static let fixtures = URL(fileURLWithPath: root).deletingLastPathComponent().appendingPathComponent("shared/fixtures").path
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "gpt2lab-pertoken-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// A manifest over `runs` of `folder`/runs on `testSet`, with `top` added to its top part.
    func manifest(_ runs: [String], folder: String = root + "/examples", testSet: String? = nil, top: String) throws -> String {
        var s = "title = \"per-token\"\ntest_set = \"\(testSet ?? folder + "/test-persuasion.bin")\"\nbaseline = \"\(runs[0])\"\n\(top)\n\n"
        for r in runs { s += "[[run]]\nname = \"\(r)\"\ncheckpoint = \"\(folder)/runs/\(r)/model.safetensors\"\n\n" }
        let path = dir + "/m.toml"
        try s.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func options() -> ReportOptions { testReportOptions(cache: dir + "/cache", bootstrap: 200) }

    struct Reference: Decodable {
        let loss_a: Double, loss_b: Double, kl_mean: Double, top1_agreement: Double, tokens_scored: Int
        let loss_by_position: [String: [Double]]
        let position_counts: [Int]
    }

    /// Uncapped, the section is `compare` baseline → stacked on the whole test set: PyTorch's numbers.
    func testPerTokenNumbersMatchPyTorch() throws {
        guard FileManager.default.fileExists(atPath: Self.fixtures + "/runs/stacked/model.safetensors") else {
            throw missingFixtures("../shared/fixtures not found at \(Self.fixtures)")
        }
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: Self.root
            + "/Tests/AnalysisTests/Fixtures/compare-baseline-stacked.json")))
        // "Training data" for the frequency buckets: the test set's first 50,000 tokens as nanoGPT's .bin (manifest `frequencies`).
        let train = dir + "/train.bin"
        try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/data/test-persuasion.bin")).prefix(100_000).write(to: URL(fileURLWithPath: train))
        let path = try manifest(["baseline", "stacked"], folder: Self.fixtures, testSet: Self.fixtures + "/data/test-persuasion.bin",
                                top: "per_token = [\"stacked\"]\nper_token_max_tokens = 1000000\nfrequencies = \"\(train)\"")
        let (r, _) = try compareRuns(try loadManifest(path: path), options: options())
        let p = try XCTUnwrap(r.perToken?.first)
        XCTAssertEqual(r.perToken?.count, 1)
        XCTAssertEqual(p.run, "stacked"); XCTAssertEqual(p.baseline, "baseline"); XCTAssertEqual(p.maxTokens, 1_000_000)
        let c = p.comparison
        XCTAssertEqual(c.tokensScored, ref.tokens_scored)
        XCTAssertEqual(c.windows, r.settings.windows, "the report's windows")
        XCTAssertEqual(c.positionCounts, ref.position_counts)
        XCTAssertEqual(c.lossA, ref.loss_a, accuracy: 1e-6); XCTAssertEqual(c.lossB, ref.loss_b, accuracy: 1e-6)
        XCTAssertEqual(c.delta, ref.loss_b - ref.loss_a, accuracy: 1e-6)
        XCTAssertEqual(c.klMean, ref.kl_mean, accuracy: 1e-6)
        XCTAssertEqual(c.top1Agreement, ref.top1_agreement, accuracy: 2e-4)
        // The chart's bins against PyTorch's per-position means, binned here by their counts.
        XCTAssertEqual(p.positionBins.count, perTokenPositionBins)
        var worst = 0.0
        for bin in p.positionBins {
            let ps = bin.from...bin.to, n = ps.reduce(0) { $0 + ref.position_counts[$1] }
            XCTAssertEqual(bin.tokens, n)
            for (side, got) in [("a", bin.a), ("b", bin.b)] {
                let want = ps.reduce(0.0) { $0 + ref.loss_by_position[side]![$1] * Double(ref.position_counts[$1]) } / Double(n)
                worst = max(worst, abs(got - want))
            }
        }
        XCTAssertLessThan(worst, 1e-5)
        // The report's own loss for both runs is the same mean over the same tokens.
        XCTAssertEqual(try XCTUnwrap(r.run("baseline")).loss, c.lossA, accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(r.run("stacked")).loss, c.lossB, accuracy: 1e-6)
        // Δ by frequency (counted from the `frequencies` file) and calibration: numpy's values
        // (tests/reference/frequency_calibration_reference.py), at the tolerances of AnalysisTests.
        let numpy = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.root
            + "/Tests/AnalysisTests/Fixtures/frequency-calibration-baseline-stacked.json"))) as? [String: Any])
        let buckets = try XCTUnwrap(numpy["frequencies_train_prefix"] as? [[String: Any]])
        XCTAssertEqual(c.frequency.countedFrom, "training data"); XCTAssertEqual(c.frequency.source, train)
        XCTAssertEqual(c.frequency.tokensCounted, 50_000)
        XCTAssertEqual(c.frequency.buckets.map(\.tokens), buckets.compactMap { $0["tokens"] as? Int })
        XCTAssertEqual(c.frequency.buckets.map(\.types), buckets.compactMap { $0["types"] as? Int })
        XCTAssertEqual(c.frequency.buckets.last?.label, "unseen")
        for (g, want) in zip(c.frequency.buckets, buckets) where g.tokens > 0 {
            XCTAssertEqual(try XCTUnwrap(g.delta).estimate, try XCTUnwrap(want["delta"] as? Double), accuracy: 1e-5)
            XCTAssertEqual(try XCTUnwrap(g.delta).lo, try XCTUnwrap(want["delta_lo"] as? Double), accuracy: 1e-4)
            XCTAssertEqual(try XCTUnwrap(g.delta).hi, try XCTUnwrap(want["delta_hi"] as? Double), accuracy: 1e-4)
        }
        let cal = try XCTUnwrap(numpy["calibration"] as? [String: [String: Any]])
        XCTAssertEqual(c.calibration.a.ece, try XCTUnwrap(cal["a"]?["ece"] as? Double), accuracy: 1e-4)
        XCTAssertEqual(c.calibration.b.ece, try XCTUnwrap(cal["b"]?["ece"] as? Double), accuracy: 1e-4)
        print("report per-token vs PyTorch: loss \(abs(c.lossA - ref.loss_a)), \(abs(c.lossB - ref.loss_b)); KL \(abs(c.klMean - ref.kl_mean)); "
              + "top-1 \(abs(c.top1Agreement - ref.top1_agreement)); bins \(worst)")
    }

    /// `per_token = true` compares every run but the baseline, on the report's first windows up to the cap;
    /// the page escapes every decoded token and stays well-formed.
    func testCapAllRunsAndEscaping() throws {
        let path = try manifest(["baseline", "wd-0.01", "stacked"], top: "max_tokens = 2049\nper_token = true\nper_token_max_tokens = 768")
        let m = try loadManifest(path: path)
        XCTAssertEqual(m.perToken, ["wd-0.01", "stacked"]); XCTAssertEqual(m.perTokenMaxTokens, 768)
        let (results, extras) = try compareRuns(m, options: options())
        var r = results
        let ps = try XCTUnwrap(r.perToken)
        XCTAssertEqual(ps.map(\.run), ["wd-0.01", "stacked"])
        for p in ps {
            XCTAssertEqual(p.comparison.tokensScored, 768); XCTAssertEqual(p.comparison.windows, 3)
            XCTAssertEqual(p.comparison.gains.count, perTokenSegments.count)
        }
        XCTAssertEqual(ps[0].comparison.lossA, ps[1].comparison.lossA, "one baseline, the same windows")

        // Decoded text with markup in it: rendered as text, never as HTML.
        r.perToken![1].comparison.gains[0].tokens[0].text = "<script>alert('x')</script>"
        r.perToken![1].comparison.gains[0].tokens[1].text = " AT&T \"quoted\""
        r.perToken![1].comparison.losses[0].tokens[0].text = "a\nb"
        let out = dir + "/report"
        try writeReport(r, extras: extras, to: out, template: try loadReportTemplate().text)
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        XCTAssertFalse(html.contains("<script"), "markup in a segment reached the page")
        XCTAssertTrue(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
        XCTAssertTrue(html.contains(" AT&amp;T &quot;quoted&quot;"))
        XCTAssertTrue(html.contains(">a↵b</span>"), "newline shown as ↵")
        XCTAssertTrue(html.contains("Per-token comparison with baseline"))
        final class Images: NSObject, XMLParserDelegate {
            var sources: [String] = []
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String]) { if name == "img", let s = attributes["src"] { sources.append(s) } }
        }
        let parser = try XCTUnwrap(XMLParser(contentsOf: URL(fileURLWithPath: out + "/index.html")))
        let images = Images()
        parser.delegate = images
        XCTAssertTrue(parser.parse(), "index.html is not well-formed: \(String(describing: parser.parserError))")
        let perTokenImages = images.sources.filter { $0.hasPrefix("per-token-") }
        XCTAssertEqual(Set(perTokenImages), ["per-token-1-wd-0.01-position.png", "per-token-1-wd-0.01-delta.png",
                                             "per-token-1-wd-0.01-calibration.png", "per-token-2-stacked-position.png",
                                             "per-token-2-stacked-delta.png", "per-token-2-stacked-calibration.png"])
        XCTAssertTrue(html.contains("Where the loss moved, by how frequent the next token is"))
        XCTAssertTrue(html.contains("Types ranked by their count in the test set (2,049 tokens)"), "frequencies from every token scored")
        for s in perTokenImages { XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + s), "missing \(s)") }
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/results.json"))) as? [String: Any])
        XCTAssertEqual((json["per_token"] as? [[String: Any]])?.count, 2)
    }

    func testTokenColours() {
        XCTAssertEqual(tokenStyle(-3), "background: rgba(26, 127, 55, 0.70)")
        XCTAssertEqual(tokenStyle(1.5), "background: rgba(207, 34, 46, 0.35)")
        XCTAssertEqual(tokenStyle(9), "background: rgba(207, 34, 46, 0.70)")
        XCTAssertEqual(tokenStyle(.nan), "")
        XCTAssertEqual(perTokenChartFiles(0, run: "a/b <c>").position, "per-token-1-a_b__c_-position.png")
    }

    // MARK: manifest errors

    func assertManifestError(_ top: String, contains needle: String, line: Int, file: StaticString = #filePath, lineNo: UInt = #line) throws {
        let path = try manifest(["baseline", "stacked"], top: top)
        XCTAssertThrowsError(try loadManifest(path: path), file: file, line: lineNo) { error in
            let message = (error as? LocalizedError)?.errorDescription ?? ""
            XCTAssertTrue(message.hasPrefix(path + ":"), "names the manifest: \(message)", file: file, line: lineNo)
            XCTAssertTrue(message.contains(needle), "'\(needle)' in: \(message)", file: file, line: lineNo)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: lineNo)
            XCTAssertEqual((error as? ManifestError)?.line, line, message, file: file, line: lineNo)
        }
    }

    func testPerTokenKeysAreChecked() throws {
        try assertManifestError("per_token = [\"nosuchrun\"]", contains: "per_token names no run 'nosuchrun' (runs are: baseline, stacked)", line: 4)
        try assertManifestError("per_token = [\"baseline\"]", contains: "per_token names the baseline 'baseline'", line: 4)
        try assertManifestError("per_token = \"stacked\"", contains: "key 'per_token' must be true, false or an array of run names", line: 4)
        try assertManifestError("per_token = true\nper_token_max_tokens = 0", contains: "key 'per_token_max_tokens' must be at least 1", line: 5)
        try assertManifestError("per_token_max_tokens = 100", contains: "per_token_max_tokens without per_token", line: 4)
        // Through the CLI: one stderr line naming the manifest, a non-zero exit, no report written.
        let bin = Self.root + "/.build/release/gpt2lab"
        guard FileManager.default.isExecutableFile(atPath: bin) else { return }
        let path = try manifest(["baseline", "stacked"], top: "per_token = [\"nosuchrun\"]")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = ["report", path, "--out", dir + "/out", "--cache", dir + "/cache"]
        let err = Pipe()
        p.standardError = err; p.standardOutput = Pipe()
        try p.run(); p.waitUntilExit()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertNotEqual(p.terminationStatus, 0)
        XCTAssertEqual(text.split(separator: "\n").count, 1, text)
        XCTAssertTrue(text.contains(path + ":4: per_token names no run 'nosuchrun'"), text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"))
    }
}
