import Analysis
import Checkpoints
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Plumbing
import TestSets
import TestFixtures
import XCTest
@testable import Report

/// `gpt2lab report` end to end on the example runs (a short slice of the test set, so it is quick):
/// manifest errors, numbers against `scoreCheckpoint`, the cache, the written folder, the template.
final class ReportTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "gpt2lab-report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// A manifest in `dir` over the example runs (absolute paths), on the first 2049 tokens (8 windows).
    func manifest(_ runs: [String], extraTop: String = "", extraRun: [String: String] = [:], name: String = "m.toml") throws -> String {
        var s = """
        title = "test"
        test_set = "\(Self.root)/examples/test-persuasion.bin"
        max_tokens = 2049
        baseline = "\(runs[0])"
        \(extraTop)

        """
        for r in runs {
            let folder = r.hasSuffix("-copy") ? String(r.dropLast(5)) : r
            s += "[[run]]\nname = \"\(r)\"\ncheckpoint = \"\(Self.root)/examples/runs/\(folder)/model.safetensors\"\n\(extraRun[r] ?? "")\n"
        }
        let path = dir + "/" + name
        try s.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func options() -> ReportOptions { testReportOptions(cache: dir + "/cache", bootstrap: 500, completions: true) }

    /// Runs `compareRuns` and returns its results and the score events by run.
    func compare(_ path: String, _ o: ReportOptions) throws -> (ComparisonResults, ComparisonExtras, [String: String]) {
        final class Log: @unchecked Sendable { var events: [String: String] = [:] }
        let log = Log()
        let (r, e) = try compareRuns(try loadManifest(path: path), options: o) { ev in
            if case let .score(run, source) = ev { log.events[run] = source }
        }
        return (r, e, log.events)
    }

    // MARK: manifest errors

    func assertManifestError(_ text: String, contains needle: String, line: Int? = nil, file: StaticString = #filePath,
                             lineNo: UInt = #line) throws {
        let path = dir + "/bad.toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try loadManifest(path: path), file: file, line: lineNo) { error in
            let message = (error as? LocalizedError)?.errorDescription ?? ""
            XCTAssertTrue(message.hasPrefix(path), "names the manifest: \(message)", file: file, line: lineNo)
            XCTAssertTrue(message.contains(needle), "'\(needle)' in: \(message)", file: file, line: lineNo)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: lineNo)
            if let line { XCTAssertEqual((error as? ManifestError)?.line, line, message, file: file, line: lineNo) }
        }
    }

    var good: String {
        """
        title = "t"
        test_set = "\(Self.root)/examples/test-persuasion.bin"
        baseline = "baseline"

        [[run]]
        name = "baseline"
        checkpoint = "\(Self.root)/examples/runs/baseline/model.safetensors"
        """
    }

    func testGoodManifestParsesAndReadsMeta() throws {
        let path = dir + "/good.toml"
        try good.write(toFile: path, atomically: true, encoding: .utf8)
        let m = try loadManifest(path: path)
        XCTAssertEqual(m.runs.map(\.name), ["baseline"])
        XCTAssertEqual(m.runs[0].hyper.lr, 4e-4)
        XCTAssertEqual(m.runs[0].hyper.weightDecay, 0.1)
        XCTAssertEqual(m.runs[0].hyper.steps, 2286)
        XCTAssertEqual(m.runs[0].hyper.source, "meta.json")
        XCTAssertFalse(m.runs[0].lossCurve.isEmpty)
    }

    func testUnknownKey() throws {
        try assertManifestError(good + "\nlearning_rate = 1e-3\n", contains: "unknown key 'learning_rate'", line: 8)
        try assertManifestError(good.replacingOccurrences(of: "title", with: "titel"), contains: "unknown key 'titel'", line: 1)
    }

    func testMissingFile() throws {
        try assertManifestError(good.replacingOccurrences(of: "runs/baseline/model", with: "runs/nope/model"),
                                contains: "no such file", line: 7)
        try assertManifestError(good.replacingOccurrences(of: "test-persuasion.bin", with: "missing.bin"),
                                contains: "missing.bin': no such file", line: 2)
    }

    func testDuplicateName() throws {
        let dup = good + "\n\n[[run]]\nname = \"baseline\"\ncheckpoint = \"\(Self.root)/examples/runs/wd-0.01/model.safetensors\"\n"
        try assertManifestError(dup, contains: "duplicate run name 'baseline'", line: 10)
    }

    func testBadBaselineReferenceStackAndSeedGroup() throws {
        try assertManifestError(good.replacingOccurrences(of: "baseline = \"baseline\"", with: "baseline = \"base\""),
                                contains: "baseline 'base' names no run", line: 3)
        try assertManifestError(good + "\nstack_of = [\"wd\"]\n", contains: "names no run 'wd'")
        try assertManifestError(good + "\nseed_group = \"x\"\n", contains: "seed_group 'x'")
        try assertManifestError(good.replacingOccurrences(of: "baseline = \"baseline\"", with: "baseline = \"baseline\"\nreference = \"gpt2\""),
                                contains: "reference 'gpt2' names no run")
    }

    func testTOMLSyntaxErrorNamesLine() throws {
        try assertManifestError(good + "\nname = \n", contains: "TOML syntax", line: 8)
    }

    /// Found by fuzzing (fuzz-manifest): a line "[" with no key made toml++ assert, aborting gpt2lab.
    func testTableHeaderWithoutKeyIsAnErrorNotAnAbort() throws {
        try assertManifestError(good + "\n[\n", contains: "TOML syntax", line: 8)
        try assertManifestError(good + "\n[[ =\n", contains: "does not start with a key", line: 8)
        try assertManifestError("[[[run]]]\n", contains: "TOML syntax", line: 1)
        try assertManifestError("[\u{5A5}]]\n", contains: "TOML syntax", line: 1)          // "[" + a combining mark
        try assertManifestError("\n\r\n[[ }q]]]\n", contains: "TOML syntax", line: 3)       // after "\r\n", one Character
        try assertManifestError("a = \"x'''y\" # \"\"\"\n[ \n", contains: "TOML syntax", line: 2)   // quotes inside strings and comments
        try assertManifestError("max_tokens = [}", contains: "where a value should be", line: 1)          // toml++ asserted in parse_value
        try assertManifestError("a = [1,\n # c\n ,2]", contains: "where a value should be", line: 1)
        // A multi-line string may hold such lines.
        let path = dir + "/ok.toml"
        try (good.replacingOccurrences(of: "title = \"t\"", with: "title = \"t\"\ndescription = \"\"\"\n[\n[[ =\n\"\"\"")).write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try loadManifest(path: path).description, "[\n[[ =\n")
    }

    /// Found reviewing for the manifest fuzz target: a meta.json count of 1e300 trapped in Int(Double).
    func testHugeMetaCountIsAnError() throws {
        let runDir = dir + "/run"
        try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(Self.root)/examples/runs/baseline/model.safetensors", toPath: runDir + "/model.safetensors")
        try #"{"train": {"steps": 1e300, "batch_size": 8}}"#.write(toFile: runDir + "/meta.json", atomically: true, encoding: .utf8)
        try assertManifestError(good.replacingOccurrences(of: "\(Self.root)/examples/runs/baseline/model.safetensors", with: runDir + "/model.safetensors"),
                                contains: "'steps' is 1e+300, expected a whole number")
    }

    /// A meta.json value must be what the manifest's key would take: `true` read as a weight decay of 1 gave τ 2,500
    /// steps (1.1× run) with exit 0, a string rate was dropped silently, and steps of 0 gave "inf× run".
    func testMetaValuesOfTheWrongKindAreErrors() throws {
        let runDir = dir + "/run"
        try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(Self.root)/examples/runs/baseline/model.safetensors", toPath: runDir + "/model.safetensors")
        let manifest = good.replacingOccurrences(of: "\(Self.root)/examples/runs/baseline/model.safetensors", with: runDir + "/model.safetensors")
        for (meta, needle) in [(#"{"train": {"lr": 4e-4, "weight_decay": true}}"#, "'weight_decay' is true, expected a number ≥ 0"),
                               (#"{"train": {"lr": "0.0004"}}"#, "'lr' is the string \"0.0004\", expected a number ≥ 0"),
                               (#"{"steps": 2.5}"#, "'steps' is 2.5, expected a whole number ≥ 0"),
                               (#"{"train": {"batch_size": -5}}"#, "'batch_size' is -5, expected a whole number ≥ 0")] {
            try meta.write(toFile: runDir + "/meta.json", atomically: true, encoding: .utf8)
            try assertManifestError(manifest, contains: needle)
        }
        // The manifest's value wins without the meta.json's being read; a step-0 checkpoint's 0 steps say nothing
        // of τ's fraction; a schedule written as an object is shown as its JSON.
        try #"{"steps": 0, "train": {"lr": "0.0004", "schedule": {"name": "cosine"}}}"#.write(toFile: runDir + "/meta.json", atomically: true, encoding: .utf8)
        let path = dir + "/lr.toml"
        try (manifest + "\nlr = 4e-4\n").write(toFile: path, atomically: true, encoding: .utf8)
        let hyper = try loadManifest(path: path).runs[0].hyper
        XCTAssertEqual(hyper.lr, 4e-4)
        XCTAssertNil(hyper.steps)
        XCTAssertEqual(hyper.schedule, #"{"name":"cosine"}"#)
    }

    /// The reference is another run than the baseline; a seed group is one run and those naming it, and one per manifest.
    func testReferenceAndSeedGroupsThatCannotMeanAnything() throws {
        try assertManifestError(good.replacingOccurrences(of: "baseline = \"baseline\"", with: "baseline = \"baseline\"\nreference = \"baseline\""),
                                contains: "reference 'baseline' is the baseline")
        try assertManifestError(good + "\nseed_group = \"baseline\"\n", contains: "run 'baseline' names itself as its seed_group")
        let run = { (name: String, extra: String) in
            "\n[[run]]\nname = \"\(name)\"\ncheckpoint = \"\(Self.root)/examples/runs/wd-0.01/model.safetensors\"\n\(extra)\n"
        }
        try assertManifestError(good + run("a", "seed_group = \"baseline\"") + run("b", "seed_group = \"a\""),
                                contains: "seed_group 'a' of 'b' has a seed_group of its own")
        try assertManifestError(good + run("a", "seed_group = \"baseline\"") + run("b", "") + run("c", "seed_group = \"b\""),
                                contains: "runs form 2 seed groups (b, baseline)")
    }

    func testContextLongerThanARunIsRejected() throws {
        let path = try manifest(["baseline"], extraTop: "context = 512")
        XCTAssertThrowsError(try compare(path, options())) { error in
            XCTAssertTrue(((error as? LocalizedError)?.errorDescription ?? "").contains("shorter than the report's 512"), "\(error)")
        }
    }

    // MARK: numbers and cache

    func testNumbersEqualScoreCheckpointAndCacheScoresOnlyNewRuns() throws {
        let two = try manifest(["baseline", "baseline-seed67"], extraRun: ["baseline-seed67": "seed_group = \"baseline\""])
        let (r1, _, ev1) = try compare(two, options())
        XCTAssertEqual(ev1, ["baseline": "scoring", "baseline-seed67": "scoring"])

        let three = try manifest(["baseline", "baseline-seed67", "wd-0.01"], extraRun: ["baseline-seed67": "seed_group = \"baseline\""])
        let (r2, _, ev2) = try compare(three, options())
        XCTAssertEqual(ev2, ["baseline": "cached", "baseline-seed67": "cached", "wd-0.01": "scoring"])
        XCTAssertEqual(r1.run("baseline")!.loss, r2.run("baseline")!.loss)
        XCTAssertEqual(r1.run("baseline-seed67")!.lossCI, r2.run("baseline-seed67")!.lossCI, "same seed, same windows, same CI")

        // Independent path: load and score each checkpoint directly.
        let tokens = try loadTokenIDs(path: Self.root + "/examples/test-persuasion.bin")
        var base = 0.0
        for run in r2.runs {
            let ck = try loadCheckpoint(path: run.checkpoint)
            let (s, _, _) = try scoreCheckpoint(ck, tokens: tokens, testSetPath: "t", maxTokens: 2049)
            XCTAssertEqual(run.loss, s.loss, accuracy: 1e-12, run.name)
            XCTAssertEqual(s.tokensScored, r2.settings.tokensScored)
            if run.name == "baseline" { base = s.loss }
            XCTAssertTrue(run.lossCI[0] <= run.loss && run.loss <= run.lossCI[1], run.name)
        }
        for run in r2.runs where run.name != "baseline" {
            XCTAssertEqual(run.deltaVsBaseline!, run.loss - base, accuracy: 1e-12)
        }
        // Seed noise from the two baselines.
        let noise = try XCTUnwrap(r2.seedNoise)
        XCTAssertEqual(noise.halfWidth, abs(r2.run("baseline")!.loss - r2.run("baseline-seed67")!.loss), accuracy: 1e-12)
        XCTAssertEqual(r2.run("baseline-seed67")!.inNoise, true)
        XCTAssertEqual(r2.run("wd-0.01")!.tauSteps!, 1 / (4e-4 * 0.01), accuracy: 1e-6)

        // --no-cache scores again.
        var o = options()
        o.rescore = true
        let (_, _, ev3) = try compare(three, o)
        XCTAssertEqual(Set(ev3.values), ["scoring"])
    }

    /// A cache entry changed after it was written (a window's sum, or windows dropped) is not trusted: the run is
    /// scored again, with a note, and gets the same loss as before; the entry is replaced.
    func testChangedCacheEntryIsScoredAgain() throws {
        let one = try manifest(["baseline"])
        let (r1, _, ev1) = try compare(one, options())
        XCTAssertEqual(ev1, ["baseline": "scoring"])
        let cache = dir + "/cache"
        let entry = cache + "/" + (try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: cache).first { $0.hasSuffix(".json") }))
        let original = try String(contentsOfFile: entry, encoding: .utf8)
        let edits: [(String, (String) -> String)] = [
            ("a sum", { $0.replacingOccurrences(of: #""window_nll_sums":\[([0-9.]+)"#, with: #""window_nll_sums":[1$1"#, options: .regularExpression) }),
            ("windows dropped", { $0.replacingOccurrences(of: #""window_nll_sums":\[[0-9.e+-]+,"#, with: #""window_nll_sums":["#, options: .regularExpression)
                                    .replacingOccurrences(of: #""window_counts":\[[0-9]+,"#, with: #""window_counts":["#, options: .regularExpression) }),
        ]
        for (what, edit) in edits {
            let changed = edit(original)
            XCTAssertNotEqual(changed, original, what)
            try changed.write(toFile: entry, atomically: true, encoding: .utf8)
            final class Log: @unchecked Sendable { var notes: [String] = []; var source = "" }
            let log = Log()
            let (r2, _) = try compareRuns(try loadManifest(path: one), options: options()) { ev in
                if case let .info(text) = ev { log.notes.append(text) }
                if case let .score(_, source) = ev { log.source = source }
            }
            XCTAssertEqual(log.source, "scoring", what)
            XCTAssertTrue(log.notes.contains { $0.hasPrefix("baseline: score cache entry not used: \(entry)") }, "\(what): \(log.notes)")
            XCTAssertEqual(r2.run("baseline")!.loss, r1.run("baseline")!.loss, what)
            let (_, _, ev3) = try compare(one, options())
            XCTAssertEqual(ev3, ["baseline": "cached"], "\(what): the entry was replaced")
        }
    }

    /// A run killed while writing a cache entry that another run then wrote leaves a hidden temporary; the next hit
    /// on that entry clears it (no store follows a hit), and leaves another machine's alone.
    func testCacheHitClearsAKilledWritersTemporary() throws {
        let one = try manifest(["baseline"])
        _ = try compare(one, options())
        let cache = dir + "/cache"
        let name = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: cache).first { $0.hasSuffix(".json") })
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run(); dead.waitUntilExit()
        let space = URL(fileURLWithPath: temporaryName(for: cache + "/" + name)).lastPathComponent
            .dropFirst(name.count + 6).split(separator: "-")[1]
        let stale = cache + "/.\(name).tmp-\(dead.processIdentifier)-\(space)-7"
        let elsewhere = cache + "/.\(name).tmp-\(dead.processIdentifier)-\(space == "00000000" ? "00000001" : "00000000")-7"
        for f in [stale, elsewhere] { try Data("{\"half".utf8).write(to: URL(fileURLWithPath: f)) }
        let (_, _, ev) = try compare(one, options())
        XCTAssertEqual(ev, ["baseline": "cached"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
        XCTAssertTrue(FileManager.default.fileExists(atPath: elsewhere))
    }

    func testIdenticalCheckpointsAndStack() throws {
        let path = try manifest(["baseline", "baseline-copy", "wd-0.01", "stacked"],
                                extraRun: ["stacked": "stack_of = [\"wd-0.01\", \"baseline-copy\"]"])
        let (r, _, ev) = try compare(path, options())
        XCTAssertEqual(ev["baseline-copy"], "cached", "same content, same cache entry")
        let copy = try XCTUnwrap(r.run("baseline-copy"))
        XCTAssertEqual(copy.identicalTo, ["baseline"])
        XCTAssertEqual(r.run("baseline")!.identicalTo, ["baseline-copy"])
        XCTAssertEqual(copy.deltaCI, [0, 0])
        XCTAssertEqual(copy.pValue, 1)
        XCTAssertEqual(r.run("stacked")!.expectedIfAdditive!, r.run("wd-0.01")!.deltaVsBaseline!, accuracy: 1e-12)
    }

    // MARK: the written folder

    func testReportFolderIsWellFormedAndComplete() throws {
        let path = try manifest(["baseline", "baseline-seed67", "wd-0.01", "reference"],
                                extraTop: "reference = \"reference\"\nreference_note = \"stands in for GPT-2 small <weights> & co\"",
                                extraRun: ["baseline-seed67": "seed_group = \"baseline\""])
        let (r, extras, _) = try compare(path, options())
        let out = dir + "/out/report"
        try writeReport(r, extras: extras, to: out, template: try loadReportTemplate().text)
        try writeReport(r, extras: extras, to: out, template: try loadReportTemplate().text)  // replaces the old one
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir + "/out")
        XCTAssertEqual(leftovers, ["report"], "no temp or old folders left")

        // index.html parses as XML; every image it references exists.
        final class Images: NSObject, XMLParserDelegate {
            var sources: [String] = [], cells = 0
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String]) {
                if name == "img", let s = attributes["src"] { sources.append(s) }
                if name == "td" { cells += 1 }
            }
        }
        let parser = try XCTUnwrap(XMLParser(contentsOf: URL(fileURLWithPath: out + "/index.html")))
        let images = Images()
        parser.delegate = images
        XCTAssertTrue(parser.parse(), "index.html is not well-formed: \(String(describing: parser.parserError))")
        XCTAssertGreaterThanOrEqual(images.sources.count, 4)
        for s in images.sources {
            XCTAssertFalse(s.contains("://"), "no network: \(s)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + s), "missing image \(s)")
        }
        XCTAssertGreaterThanOrEqual(images.cells, 4 * 9)
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        XCTAssertTrue(html.contains("stands in for GPT-2 small &lt;weights&gt; &amp; co"))
        XCTAssertFalse(html.contains("<script"))

        // results.json has every column for every run, and the settings.
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/results.json"))) as? [String: Any])
        let runs = try XCTUnwrap(json["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 4)
        for key in ["name", "loss", "loss_ci", "delta_vs_baseline", "delta_ci", "p_value", "delta_vs_reference", "gap_closed",
                    "total_sum_sq", "identical_to", "tau_steps", "completion", "hessian_trace"] {
            for run in runs { XCTAssertTrue(run.keys.contains(key), "\(key) missing") }
        }
        XCTAssertNotNil(json["settings"]); XCTAssertNotNil(json["seed_noise"]); XCTAssertNotNil(json["test_set"])
        XCTAssertEqual((runs.first { $0["name"] as? String == "reference" }?["gap_closed"] as? Double) ?? 0, 100, accuracy: 1e-9)

        let csv = try String(contentsOfFile: out + "/results.csv", encoding: .utf8)
        // Records = newlines outside quoted fields (completions may hold newlines, quoted).
        var inQuotes = false, records = 0
        for ch in csv { if ch == "\"" { inQuotes.toggle() } else if ch == "\n" && !inQuotes { records += 1 } }
        XCTAssertEqual(records, 5, "header + 4 runs")
    }

    // MARK: benchmarks

    static var evalFixtures: String { root + "/examples/evals" }
    static var evalExpected: String { root + "/Tests/AnalysisTests/Fixtures/evals/expected.json" }

    func testBenchmarkKeysAreChecked() throws {
        let hs = Self.evalFixtures + "/hellaswag.jsonl"
        try assertManifestError(good.replacingOccurrences(of: "baseline = \"baseline\"", with: "baseline = \"baseline\"\nhellaswag = \"/nonexistent/h.jsonl\""),
                                contains: "hellaswag '/nonexistent/h.jsonl': no such file", line: 4)
        try assertManifestError(good.replacingOccurrences(of: "baseline = \"baseline\"", with: "baseline = \"baseline\"\nhellaswag = \"\(hs)\"\nhellaswag_recipe = \"nanogpt\""),
                                contains: "hellaswag_recipe 'nanogpt' is not a recipe (llmc, lm-eval)", line: 5)
        try assertManifestError(good.replacingOccurrences(of: "baseline = \"baseline\"", with: "baseline = \"baseline\"\neval_limit = 5"),
                                contains: "eval_limit without hellaswag or lambada", line: 4)
        try assertManifestError(good.replacingOccurrences(of: "baseline = \"baseline\"", with: "baseline = \"baseline\"\neval_limit = 0\nlambada = \"\(hs)\""),
                                contains: "key 'eval_limit' must be at least 1", line: 4)
        // A malformed benchmark file is refused before anything is scored, naming the file and line.
        let bad = dir + "/bad.jsonl"
        try "{\"text\": \"fine\"}\n{\"txt\": 1}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let path = try manifest(["baseline"], extraTop: "lambada = \"\(bad)\"")
        XCTAssertThrowsError(try compare(path, options())) { e in
            XCTAssertEqual((e as? LocalizedError)?.errorDescription, "\(path): lambada: \(bad):2: missing \"text\"")
        }
    }

    /// The benchmark section equals what HF transformers' reference gives on the same first 12 examples
    /// (Fixtures/evals/expected.json): each run's outcomes, so its accuracy, and the pairing against the baseline.
    func testBenchmarkSectionMatchesTheReference() throws {
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.evalExpected))) as? [String: Any])
        let path = try manifest(["baseline", "reference"], extraTop: """
            hellaswag = "\(Self.evalFixtures)/hellaswag.jsonl"
            hellaswag_recipe = "lm-eval"
            lambada = "\(Self.evalFixtures)/lambada.jsonl"
            eval_limit = 12
            """)
        let (r, extras, _) = try compare(path, options())
        let evals = try XCTUnwrap(r.evals)
        XCTAssertEqual(evals.map(\.task), [.hellaswag, .lambada])
        XCTAssertEqual(evals.map(\.recipe), ["lm-eval", "lm-eval"])
        XCTAssertEqual(evals.map(\.examples), [12, 12])
        func outcomes(_ run: String, _ task: EvalTask) throws -> [Bool] {
            let x = try XCTUnwrap((expected["runs"] as? [String: Any])?[run] as? [String: Any])
            let t = try XCTUnwrap(task == .lambada ? x["lambada"] as? [String: Any] : (x["hellaswag"] as? [String: Any])?["lm-eval"] as? [String: Any])
            let preds = try XCTUnwrap(t["predictions"] as? [[String: Any]]).prefix(12)
            return preds.map { task == .lambada ? ($0["hit"] as? Bool ?? false) : ($0["pred_norm"] as? Int == $0["label"] as? Int) }
        }
        for e in evals {
            let base = try outcomes("baseline", e.task), ref = try outcomes("reference", e.task)
            let rows = Dictionary(uniqueKeysWithValues: e.runs.map { ($0.name, $0) })
            XCTAssertEqual(rows["baseline"]?.value.estimate, Double(base.filter { $0 }.count) / 12, "\(e.task)")
            XCTAssertEqual(rows["reference"]?.value.estimate, Double(ref.filter { $0 }.count) / 12, "\(e.task)")
            XCTAssertNil(rows["baseline"]?.vsBaseline)
            let paired = try XCTUnwrap(rows["reference"]?.vsBaseline)
            XCTAssertEqual(paired.aOnly, zip(ref, base).filter { $0 && !$1 }.count)
            XCTAssertEqual(paired.bOnly, zip(ref, base).filter { !$0 && $1 }.count)
            XCTAssertEqual(rows["reference"]?.loss, r.run("reference")?.loss)
        }
        let out = dir + "/out"
        try writeReport(r, extras: extras, to: out, template: try loadReportTemplate().text)
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<h2>HellaSwag (lm-eval recipe, 12 examples of hellaswag.jsonl)</h2>"), html)
        XCTAssertTrue(html.contains("<h2>LAMBADA (lm-eval recipe, 12 examples of lambada.jsonl)</h2>"))
        XCTAssertTrue(try XCTUnwrap(XMLParser(contentsOf: URL(fileURLWithPath: out + "/index.html"))).parse(), "index.html is well-formed")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/results.json"))) as? [String: Any])
        XCTAssertEqual((json["evals"] as? [[String: Any]])?.count, 2)
    }

    func testTemplateIsTheModuleResource() throws {
        let t = try loadReportTemplate()
        XCTAssertTrue(t.source.hasSuffix("gpt2lab_Report.resources/report.html.mustache"), t.source)
        let file = try String(contentsOfFile: Self.root + "/Sources/Report/Resources/report.html.mustache", encoding: .utf8)
        XCTAssertEqual(t.text, file, "the resource the module ships is the template file")
    }


    // MARK: the demo against HF transformers

    func testDemoLossesMatchHFFixtures() throws {
        let expected = Self.root + "/../shared/fixtures/expected"
        guard FileManager.default.fileExists(atPath: expected) else { throw missingFixtures("../shared/fixtures not found") }
        let demo = try RenderedDemo.folder.get() + "/results.json"
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: demo))) as? [String: Any])
        let settings = try XCTUnwrap(json["settings"] as? [String: Any])
        XCTAssertEqual(settings["stride"] as? Int, settings["context"] as? Int)
        for run in try XCTUnwrap(json["runs"] as? [[String: Any]]) {
            let name = try XCTUnwrap(run["name"] as? String)
            let fx = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(expected)/\(name).json"))) as? [String: Any])
            let tests = try XCTUnwrap(fx["tests"] as? [String: Any])
            let t = try XCTUnwrap((tests["test-persuasion"] as? [String: Any])?["stride_256"] as? [String: Any])
            XCTAssertEqual(try XCTUnwrap(run["loss"] as? Double), try XCTUnwrap(t["loss"] as? Double), accuracy: 2e-4, name)
        }
    }
}
