import Foundation
import XCTest

/// Heads and shapes through the binary: a state dict with no config is refused (not scored with a
/// guessed head count) by every verb that loads a checkpoint, an HF save_pretrained folder scores
/// as HF does, and the answer says where the shape came from. Losses are HF transformers' values
/// in ../shared/fixtures/expected.
extension CLITests {
    /// A fresh folder under the temporary directory, removed by the caller's defer.
    func scratchFolder(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "gpt2lab-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Every file under `dir`, by relative path, with its bytes (to compare before and after a run).
    func snapshot(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for f in try FileManager.default.subpathsOfDirectory(atPath: dir) {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + f, isDirectory: &isDir), !isDir.boolValue {
                out[f] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + f))
            }
        }
        return out
    }

    func loss(_ r: (status: Int32, out: String, err: String)) throws -> Double {
        XCTAssertEqual(r.status, 0, r.err)
        return try XCTUnwrap(try json(r.out)["loss"] as? Double, r.out)
    }

    func testStateDictWithoutConfigIsRefusedByEveryVerb() throws {
        let pth = try fixture("formats/baseline-model.pth"), bin = try fixture("data/test-persuasion.bin")
        let evals = Self.packageRoot.appendingPathComponent("examples/evals/hellaswag.jsonl").path
        let verbs: [[String]] = [
            ["score", pth, "--test-set", bin], ["sample", pth],
            ["hessian", pth, "--test-set", bin], ["compare", pth, pth, "--test-set", bin],
            ["eval", pth, "--task", "hellaswag", "--data", evals],
        ]
        for args in verbs {
            let r = try gpt2lab(args)
            XCTAssertEqual(r.status, 1, "\(args[0]): \(r.out)")
            XCTAssertEqual(r.err, "gpt2lab: \(pth): no config states the head count (none in the file, no config.json or meta.json in its folder) and 4 layers of width 64 is not a GPT-2 size; pass --heads N\n", args[0])
            XCTAssertEqual(r.out, "", args[0])
        }
    }

    /// inspect, norms and spectra never split heads: they read such a file, inspect saying the count is not
    /// stated (n_head null in JSON), and norms' statistics are those of the same file read with --heads 4.
    func testCommandsWithoutHeadsReadAStateDictWithoutConfig() throws {
        let pth = try fixture("formats/baseline-model.pth")
        let inspect = try gpt2lab(["inspect", pth, "--json"])
        XCTAssertEqual(inspect.status, 0, inspect.err)
        let shown = try json(inspect.out)
        XCTAssertTrue((shown["config"] as? [String: Any])?["n_head"] is NSNull, inspect.out)
        XCTAssertEqual((shown["config"] as? [String: Any])?["n_embd"] as? Int, 64)
        XCTAssertTrue((shown["shape_source"] as? String)?.hasPrefix("not stated") == true, inspect.out)
        let text = try gpt2lab(["inspect", pth])
        XCTAssertTrue(text.out.contains("layers 4, heads not stated, MLP 256"), text.out)
        let norms = try gpt2lab(["norms", pth, "--json"]), withHeads = try gpt2lab(["norms", pth, "--json", "--heads", "4"])
        XCTAssertEqual(norms.status, 0, norms.err)
        XCTAssertEqual(norms.out, withHeads.out)
        let spectra = try gpt2lab(["spectra", pth, "--json"])
        XCTAssertEqual(spectra.status, 0, spectra.err)
        XCTAssertEqual(try gpt2lab(["inspect", pth, "--heads", "3"]).err,
                       "gpt2lab: \(pth): n_embd 64 is not divisible by n_head 3\n", "a count given is still checked")
    }

    func testStateDictsScoreWithHeadsAndSaySo() throws {
        let e = try formatsExpected(), bin = try fixture("data/test-persuasion.bin")
        for file in ["baseline-model.pth", "stacked-pytorch_model.bin"] {
            let r = try gpt2lab(["score", try fixture("formats/" + file), "--test-set", bin, "--heads", "4", "--json"])
            XCTAssertEqual(try loss(r), try XCTUnwrap(e[file]?["loss"] as? Double), accuracy: 2e-4, file)
            XCTAssertEqual(try json(r.out)["shape_source"] as? String, "--heads", file)
        }
        let wrong = try gpt2lab(["inspect", try fixture("runs/baseline/model.safetensors"), "--heads", "2"])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.err.contains("--heads 2 contradicts") && wrong.err.contains("meta.json's n_heads = 4"), wrong.err)
    }

    /// HF save_pretrained folders: model.safetensors + config.json, pytorch_model.bin + config.json.
    func testSavePretrainedFolderScoresAsHF() throws {
        let dir = try scratchFolder("hf-folder")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func configJSON(fromMeta run: String, layers: Int? = nil) throws -> Data {
            let meta = try json(String(contentsOfFile: try fixture("runs/\(run)/meta.json"), encoding: .utf8))
            let m = try XCTUnwrap(meta["model"] as? [String: Any])
            let c: [String: Any] = ["model_type": "gpt2", "activation_function": "gelu_new", "n_head": m["n_heads"]!,
                                    "n_layer": layers ?? m["n_layers"]!, "n_embd": m["emb_dim"]!,
                                    "n_positions": m["context_length"]!, "vocab_size": m["vocab_size"]!, "n_inner": NSNull(),
                                    "tie_word_embeddings": m["weight_tying"]!]   // as save_pretrained writes it (absent, HF ties)
            return try JSONSerialization.data(withJSONObject: c)
        }
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/st", withIntermediateDirectories: true)
        try fm.copyItem(atPath: try fixture("layouts/reference-hf.safetensors"), toPath: dir + "/st/model.safetensors")
        try configJSON(fromMeta: "reference").write(to: URL(fileURLWithPath: dir + "/st/config.json"))
        try fm.createDirectory(atPath: dir + "/pt", withIntermediateDirectories: true)
        try fm.copyItem(atPath: try fixture("formats/stacked-pytorch_model.bin"), toPath: dir + "/pt/pytorch_model.bin")
        try configJSON(fromMeta: "stacked").write(to: URL(fileURLWithPath: dir + "/pt/config.json"))
        let before = try snapshot(dir)
        let bin = try fixture("data/test-persuasion.bin")

        let layout = try json(String(contentsOfFile: try fixture("expected/layouts/reference-hf.safetensors.json"), encoding: .utf8))
        let tests = try XCTUnwrap(layout["tests"] as? [String: [String: [String: Any]]])
        let hfLoss = try XCTUnwrap(tests["test-persuasion"]?["stride_256"]?["loss"] as? Double)
        let st = try gpt2lab(["score", dir + "/st", "--test-set", bin, "--json"])
        XCTAssertEqual(try loss(st), hfLoss, accuracy: 2e-4)
        XCTAssertEqual(try json(st.out)["shape_source"] as? String, dir + "/st/config.json")
        let pt = try gpt2lab(["score", dir + "/pt", "--test-set", bin, "--json"])
        XCTAssertEqual(try loss(pt), try XCTUnwrap(try formatsExpected()["stacked-pytorch_model.bin"]?["loss"] as? Double), accuracy: 2e-4)
        let shown = try gpt2lab(["inspect", dir + "/pt"])
        XCTAssertTrue(shown.out.contains("shape from   \(dir)/pt/config.json"), shown.out)
        XCTAssertEqual(try snapshot(dir), before, "the folders are read, never written")

        // A config.json that contradicts the weights is refused, naming the key.
        try configJSON(fromMeta: "reference", layers: 5).write(to: URL(fileURLWithPath: dir + "/st/config.json"))
        let bad = try gpt2lab(["score", dir + "/st", "--test-set", bin])
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.err, "gpt2lab: \(dir)/st: \(dir)/st/config.json says n_layer = 5 but the tensors' shapes give 6\n")
        try fm.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        let empty = try gpt2lab(["inspect", dir + "/empty"])
        XCTAssertEqual(empty.err, "gpt2lab: \(dir)/empty: is a folder without model.safetensors, pytorch_model.bin, tf_model.h5 or a model.safetensors.index.json\n")
    }

    func testFileOfNoKnownFormatIsRefusedAsSuch() throws {
        let dir = try scratchFolder("not-a-checkpoint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "It was the best of times, it was the worst of times.\n".write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/empty.safetensors", contents: Data()))
        for (file, problem) in [("notes.txt", "not a checkpoint gpt2lab can read (safetensors, torch zip, llm.c, HDF5, or a folder of these)"),
                                ("empty.safetensors", "is empty")] {
            for verb in ["inspect", "norms"] {
                let r = try gpt2lab([verb, dir + "/" + file])
                XCTAssertEqual(r.status, 1)
                XCTAssertEqual(r.err, "gpt2lab: \(dir)/\(file): \(problem)\n")
            }
        }
    }

    /// The report: a state dict needs the manifest's `heads` (the refusal names that key, not --heads);
    /// results.json and the page's settings say where each run's heads came from.
    func testReportTakesHeadsFromTheManifestAndRecordsTheSource() throws {
        let dir = try scratchFolder("report-heads")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let baseline = try fixture("runs/baseline/model.safetensors"), pth = try fixture("formats/baseline-model.pth")
        func manifest(heads: String) -> String {
            """
            title = "heads"
            test_set = "\(try! fixture("data/test-persuasion.bin"))"
            max_tokens = 2049
            baseline = "baseline"
            [[run]]
            name = "baseline"
            checkpoint = "\(baseline)"
            [[run]]
            name = "book"
            checkpoint = "\(pth)"
            \(heads)
            """
        }
        try manifest(heads: "").write(toFile: dir + "/m.toml", atomically: true, encoding: .utf8)
        let refused = try gpt2lab(["report", dir + "/m.toml", "--out", dir + "/out", "--cache", dir + "/cache"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.err, "gpt2lab: \(dir)/m.toml:8: run 'book': \(pth): no config states the head count (none in the file, no config.json or meta.json in its folder) and 4 layers of width 64 is not a GPT-2 size; set heads = N in this run's [[run]] of the manifest\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"))

        try manifest(heads: "heads = 4").write(toFile: dir + "/m.toml", atomically: true, encoding: .utf8)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/m.toml"))
        let r = try gpt2lab(["report", dir + "/m.toml", "--out", dir + "/out", "--cache", dir + "/cache", "--bootstrap", "100"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/m.toml")), before)
        let results = try json(String(contentsOfFile: dir + "/out/results.json", encoding: .utf8))
        let runs = try XCTUnwrap(results["runs"] as? [[String: Any]])
        let meta = (baseline as NSString).deletingLastPathComponent + "/meta.json"
        XCTAssertEqual(runs.map { $0["shape_source"] as? String }, [meta, "heads in the manifest"])
        // The same weights as the baseline, so the same loss.
        XCTAssertEqual(try XCTUnwrap(runs[1]["loss"] as? Double), try XCTUnwrap(runs[0]["loss"] as? Double), accuracy: 1e-9)
        let page = try String(contentsOfFile: dir + "/out/index.html", encoding: .utf8)
        XCTAssertTrue(page.contains("<dt>heads from</dt><dd>baseline: \(meta); book: heads in the manifest</dd>"), page)
    }
}
