import Analysis
import Foundation
import XCTest
@testable import Report

/// The manifest's key table: docs/report.md shows exactly it, every kind of value is checked with its
/// one message and line, and good values land in the right fields.
final class ManifestKeyTests: XCTestCase {
    static let root = ReportTests.root
    static let begin = "<!-- manifest keys: made by manifestKeyTable() from Sources/Report/ManifestKeys.swift; ManifestKeyTests checks it is current -->"
    static let end = "<!-- end of manifest keys -->"
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "gpt2lab-manifest-keys-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/runs/a", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/runs/a/model.safetensors", contents: Data([0]))
        FileManager.default.createFile(atPath: dir + "/t.bin", contents: Data([0, 1]))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testDocsTableIsTheKeyTable() throws {
        let page = try String(contentsOfFile: Self.root + "/docs/report.md", encoding: .utf8)
        let a = try XCTUnwrap(page.range(of: Self.begin), "docs/report.md lacks the key table's opening marker")
        let b = try XCTUnwrap(page.range(of: Self.end), "docs/report.md lacks the key table's closing marker")
        let shown = String(page[a.upperBound..<b.lowerBound]).trimmingCharacters(in: .newlines) + "\n"
        XCTAssertEqual(shown, manifestKeyTable(), "docs/report.md's key table is stale; put this between the markers:\n\(manifestKeyTable())")
        // Each key once per place, and the page names each.
        let rows = shown.split(separator: "\n").dropFirst(2)
        XCTAssertEqual(rows.count, manifestKeys.count)
        XCTAssertEqual(Set(manifestKeys.map { "\($0.scope.rawValue) \($0.name)" }).count, manifestKeys.count)
        for k in manifestKeys { XCTAssertTrue(shown.contains("| `\(k.name)` | \(k.scope.rawValue) |"), k.name) }
    }

    /// The keys as the reading code knows them, written out here independently of the table.
    func testUnknownKeyListsExactlyTheKnownKeys() throws {
        let top = "baseline, ci, ci_min_windows, ci_seed, context, description, eval_limit, frequencies, frequencies_dataset, "
            + "full_vocab, hellaswag, hellaswag_recipe, interpolate, interpolate_max_tokens, interpolate_points, lambada, loss_across_steps, max_tokens, per_token, per_token_max_tokens, reference, reference_note, run, skip, "
            + "spectra, stride, test_set, title"
        let run = "batch_size, checkpoint, description, heads, lr, name, schedule, scores, seed_group, stack_of, step_checkpoints, "
            + "steps, tokens, weight_decay"
        try assertError(top: "colour = 1", "unknown key 'colour' (known: \(top))", line: 4)
        try assertError(run: "colour = 1", "unknown key 'colour' in [[run]] #1 (known: \(run))", line: 8)
    }

    func testEachKindRefusesWithItsMessageAndLine() throws {
        try assertError(top: "context = \"long\"", "key 'context' must be an integer", line: 4)
        try assertError(top: "context = 0", "key 'context' must be at least 1, got 0", line: 4)
        try assertError(top: "context = 64\nstride = 128", "stride 128 is longer than context 64", line: 5)
        try assertError(run: "lr = \"fast\"", "key 'lr' must be a number", line: 8)
        try assertError(run: "weight_decay = -0.1", "key 'weight_decay' must be a non-negative number, got -0.1", line: 8)
        try assertError(run: "schedule = 3", "key 'schedule' must be a string", line: 8)
        try assertError(top: "full_vocab = 1", "key 'full_vocab' must be true or false", line: 4)
        try assertError(run: "stack_of = \"x\"", "key 'stack_of' must be an array of run names", line: 8)
        try assertError(run: "step_checkpoints = [\"model.safetensors\"]\n", "step checkpoint 'model.safetensors' has no step in its name", line: 8)
        try assertError(top: "ci = 0.01", nil, line: nil)
        try assertError(top: "hellaswag_recipe = \"llmc\"", "hellaswag_recipe without hellaswag = \"FILE.jsonl\"", line: 4)
        try assertError(top: "ci_min_windows = 15", "ci_min_windows without ci = HALF_WIDTH", line: 4)
        try assertError(top: "loss_across_steps = false", nil, line: nil)
        try assertError(top: "per_token = false\nper_token_max_tokens = 10", nil, line: nil)
        try assertError(run: "name = \"\"", "[[run]] #1 has an empty name", line: 6, replacingName: true)
        try assertError(text: "test_set = \"t.bin\"\nbaseline = \"a\"\n", "no [[run]] entries", line: nil)
        try assertError(text: "test_set = \"t.bin\"\nbaseline = \"a\"\nrun = 3\n", "'run' must be an array of tables ([[run]])", line: nil)
        try assertError(text: "test_set = \"t.bin\"\nbaseline = \"a\"\n\n[[run]]\nname = \"a\"\n", "missing key 'checkpoint' in [[run]] #1", line: 4)
        try assertError(text: "baseline = \"a\"\n", "missing key 'test_set'", line: nil)
    }

    /// Every key given a good value lands in its field; meta.json fills only the gaps, its name joining the source.
    func testGoodValuesLandInTheirFields() throws {
        try FileManager.default.createDirectory(atPath: dir + "/runs/b", withIntermediateDirectories: true)
        for f in ["runs/b/model.safetensors", "runs/a/step-000010.safetensors", "h.jsonl", "s.json"] {
            XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/" + f, contents: Data([0, 1])))
        }
        try #"{"train": {"lr": 0.5, "weight_decay": 0.25, "batch_size": 8}, "steps": 40}"#
            .write(toFile: dir + "/runs/a/meta.json", atomically: true, encoding: .utf8)
        let text = """
        description = "d"
        test_set = "t.bin"
        context = 128
        stride = 64
        skip = 3
        max_tokens = 1000
        baseline = "a"
        reference = "b"
        reference_note = "n"
        full_vocab = true
        hellaswag = "h.jsonl"
        hellaswag_recipe = "lm-eval"
        eval_limit = 7
        ci = 0.02
        ci_seed = 5
        ci_min_windows = 12
        loss_across_steps = true
        per_token = true
        per_token_max_tokens = 99

        [[run]]
        name = "a"
        checkpoint = "runs/a/model.safetensors"
        lr = 1
        schedule = "cosine"
        step_checkpoints = ["runs/a/step-000010.safetensors"]

        [[run]]
        name = "b"
        checkpoint = "runs/b"
        description = "wider"
        seed_group = "a"
        stack_of = ["a"]
        scores = "s.json"
        heads = 4
        tokens = 123
        """
        let path = dir + "/all.toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let m = try loadManifest(path: path)
        XCTAssertEqual(m.title, "all")
        XCTAssertEqual(m.description, "d")
        XCTAssertEqual(m.testSet, dir + "/t.bin")
        XCTAssertEqual([m.context, m.stride, m.skip, m.maxTokens], [128, 64, 3, 1000])
        XCTAssertEqual([m.baseline, m.reference, m.referenceNote], ["a", "b", "n"])
        XCTAssertTrue(m.fullVocab)
        XCTAssertEqual(m.evals.hellaswag, dir + "/h.jsonl")
        XCTAssertEqual(m.evals.hellaswagRecipe.rawValue, "lm-eval")
        XCTAssertEqual(m.evals.limit, 7)
        XCTAssertEqual(m.sequential?.halfWidth, 0.02)
        XCTAssertEqual(m.sequential?.seed, 5)
        XCTAssertEqual(m.sequential?.minWindows, 12)
        XCTAssertTrue(m.lossAcrossSteps)
        XCTAssertEqual(m.perToken, ["b"])
        XCTAssertEqual(m.perTokenMaxTokens, 99)
        let (a, b) = (m.runs[0], m.runs[1])
        XCTAssertEqual(a.line, 21)
        XCTAssertEqual(a.hyper.lr, 1, "the manifest's value wins over meta.json's 0.5")
        XCTAssertEqual(a.hyper.weightDecay, 0.25)
        XCTAssertEqual(a.hyper.batchSize, 8)
        XCTAssertEqual(a.hyper.steps, 40)
        XCTAssertEqual(a.hyper.schedule, "cosine")
        XCTAssertEqual(a.hyper.source, "manifest+meta.json")
        XCTAssertEqual(a.stepCheckpoints, [dir + "/runs/a/step-000010.safetensors"])
        XCTAssertEqual(b.checkpoint, dir + "/runs/b", "a checkpoint may be a folder")
        XCTAssertEqual(b.description, "wider")
        XCTAssertEqual(b.seedGroup, "a")
        XCTAssertEqual(b.stackOf, ["a"])
        XCTAssertEqual(b.scores, dir + "/s.json")
        XCTAssertEqual(b.heads, 4)
        XCTAssertEqual(b.hyper.tokens, 123)
        XCTAssertEqual(b.hyper.source, "manifest")
        XCTAssertNil(b.stepCheckpoints)
    }

    func testHyperparameterGapsFillOnce() {
        var given = Hyperparameters()
        given.lr = 1e-3
        given.source = "manifest"
        var other = Hyperparameters()
        other.lr = 5e-4; other.steps = 10; other.schedule = "cosine"
        let h = given.fillingGaps(from: other, source: "train.json")
        XCTAssertEqual(h.lr, 1e-3)
        XCTAssertEqual(h.steps, 10)
        XCTAssertEqual(h.schedule, "cosine")
        XCTAssertEqual(h.source, "manifest+train.json")
        // Nothing taken: the source is unchanged.
        XCTAssertEqual(h.fillingGaps(from: other, source: "checkpoint").source, "manifest+train.json")
        XCTAssertEqual(Hyperparameters().fillingGaps(from: other, source: "meta.json").source, "meta.json")
        XCTAssertNil(Hyperparameters().fillingGaps(from: Hyperparameters(), source: "meta.json").source)
    }

    // MARK: helpers

    /// A manifest in `dir` with one run (a = runs/a/model.safetensors): lines 1–3 are the top keys,
    /// `top` starts at line 4, the run's header follows a blank line, `run` starts on its third line.
    func text(top: String = "", run: String = "", replacingName: Bool = false) -> String {
        let head = "title = \"t\"\ntest_set = \"t.bin\"\nbaseline = \"a\"\n" + (top.isEmpty ? "" : top + "\n")
        let runLines = replacingName ? [run, "checkpoint = \"runs/a/model.safetensors\""] : ["name = \"a\"", "checkpoint = \"runs/a/model.safetensors\"", run]
        return head + "\n[[run]]\n" + runLines.joined(separator: "\n") + "\n"
    }

    /// Loads a manifest and checks the error: naming the file, one line, holding `needle` at `line`;
    /// a nil needle means the manifest is accepted.
    func assertError(top: String = "", run: String = "", text given: String? = nil, _ needle: String?, line: Int?,
                     replacingName: Bool = false, file: StaticString = #filePath, lineNo: UInt = #line) throws {
        let path = dir + "/m.toml"
        let body = given ?? text(top: top, run: run, replacingName: replacingName)
        try body.write(toFile: path, atomically: true, encoding: .utf8)
        guard let needle else { XCTAssertNoThrow(try loadManifest(path: path), file: file, line: lineNo); return }
        XCTAssertThrowsError(try loadManifest(path: path), file: file, line: lineNo) { error in
            let message = (error as? LocalizedError)?.errorDescription ?? ""
            XCTAssertTrue(message.hasPrefix(path + (line.map { ":\($0)" } ?? "") + ": "), "names the manifest and line: \(message)", file: file, line: lineNo)
            XCTAssertTrue(message.contains(needle), "'\(needle)' in: \(message)", file: file, line: lineNo)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: lineNo)
            XCTAssertEqual((error as? ManifestError)?.line, line, message, file: file, line: lineNo)
        }
    }
}
