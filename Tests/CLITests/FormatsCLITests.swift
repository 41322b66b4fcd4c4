import Foundation
import XCTest

/// End to end on ../shared/fixtures/formats: scoring a nanoGPT ckpt.pt, inspecting it, and
/// refusing evil.pt with one line and a non-zero exit.
extension CLITests {
    var cli: CLITests { self }

    func formatsExpected() throws -> [String: [String: Any]] {
        let text = try String(contentsOfFile: try cli.fixture("formats/expected.json"), encoding: .utf8)
        return try XCTUnwrap(try cli.json(text) as? [String: [String: Any]])
    }

    func testScoreNanoGPTCheckpointSaysWhichVocabRows() throws {
        let e = try XCTUnwrap(try formatsExpected()["tiny-ckpt.pt"])
        let ckpt = try cli.fixture("formats/tiny-ckpt.pt"), bin = try cli.fixture("data/test-persuasion.bin")
        let r = try cli.gpt2lab(["score", ckpt, "--test-set", bin, "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let j = try cli.json(r.out)
        XCTAssertEqual(try XCTUnwrap(j["loss"] as? Double), try XCTUnwrap(e["loss"] as? Double), accuracy: 2e-4)
        XCTAssertEqual(j["softmax_rows"] as? Int, 50257)
        XCTAssertEqual(j["vocab_stored"] as? Int, 50304)
        let full = try cli.gpt2lab(["score", ckpt, "--test-set", bin, "--full-vocab"])
        XCTAssertEqual(full.status, 0, full.err)
        XCTAssertTrue(full.out.contains("softmax over all 50304 rows"), full.out)
        let lossLine = full.out.split(separator: "\n").first(where: { $0.hasPrefix("loss") }) ?? ""
        let fields = lossLine.split(separator: " ")
        let loss = try XCTUnwrap(fields.count > 1 ? Double(fields[1]) : nil, full.out)
        XCTAssertEqual(loss, try XCTUnwrap(e["loss_full_vocab"] as? Double), accuracy: 2e-4)
    }

    func testInspectTorchCheckpointShowsTrainingMetadata() throws {
        let e = try XCTUnwrap(try formatsExpected()["tiny-ckpt.pt"])
        let r = try cli.gpt2lab(["inspect", try cli.fixture("formats/tiny-ckpt.pt"), "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let j = try cli.json(r.out)
        XCTAssertEqual(j["format"] as? String, "torch-zip")
        XCTAssertEqual(j["shape_source"] as? String, "model_args in the checkpoint")
        XCTAssertEqual(j["qkv_bias"] as? Bool, try XCTUnwrap(e["bias"] as? Bool))   // nanoGPT's bias=False
        XCTAssertEqual(j["mlp_bias"] as? Bool, try XCTUnwrap(e["bias"] as? Bool))
        let t = try XCTUnwrap(j["training"] as? [String: Any])
        XCTAssertEqual(t["iter_num"] as? Int, e["iter_num"] as? Int)
        XCTAssertEqual(t["learning_rate"] as? Double, e["learning_rate"] as? Double)
        XCTAssertEqual(t["weight_decay"] as? Double, e["weight_decay"] as? Double)
        let elr = try XCTUnwrap(e["avg_adam_elr"] as? Double)
        XCTAssertEqual(try XCTUnwrap(t["avg_effective_lr"] as? Double), elr, accuracy: 1e-6 * elr)
        let text = try cli.gpt2lab(["inspect", try cli.fixture("formats/tinyb-llmc.bin")])
        XCTAssertTrue(text.out.contains("format       llm.c"), text.out)
        XCTAssertTrue(text.out.contains("scored over the first 50257"), text.out)
    }

    func testEvilPickleIsRefusedWithOneLine() throws {
        let marker = "/tmp/gpt2lab-fixture-pwned"
        try? FileManager.default.removeItem(atPath: marker)
        let evil = try cli.fixture("formats/evil.pt")
        for command in ["inspect", "norms"] {
            let r = try cli.gpt2lab([command, evil])
            XCTAssertEqual(r.status, 1)
            XCTAssertEqual(r.err, "gpt2lab: \(evil): refusing to load: the pickle calls posix.system, which is not an allowed torch global\n")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }
}
