import Foundation
import XCTest

/// `--device` and doctor's GPU lines through the binary and the real CUDA loader. Without a GPU
/// (CI): `--device cuda` stops with one line naming what is missing, `--device auto` scores on the
/// CPU with today's numbers bit for bit. With one: the fixtures within 2e-4 (f32) and 1e-3 (bf16) of
/// HF transformers' loss.
extension CLITests {
    /// doctor's "cuda" object: nil problem when a GPU can score here.
    func cudaProblem() throws -> String? {
        let r = try gpt2lab(["doctor", "--json"])
        let cuda = try XCTUnwrap(try json(r.out)["cuda"] as? [String: Any], r.out)
        XCTAssertNotNil(cuda["libraries"] as? [[String: Any]])
        return cuda["problem"] as? String
    }

    func testCUDADeviceWithoutGPUIsOneLineAndExit1() throws {
        guard let problem = try cudaProblem() else { throw XCTSkip("this machine has a working GPU") }
        let bin = try fixture("data/test-persuasion.bin"), ck = try fixture("runs/baseline/model.safetensors")
        let short = ["--max-tokens", "300"], hessian = ["--samples", "1", "--batch", "1", "--context", "32", "--top", "0"]
        for (args, extra) in [(["score", ck], short), (["interpolate", ck, ck], short), (["compare", ck, ck], short),
                              (["hessian", ck], hessian)] {
            let r = try gpt2lab(args + ["--test-set", bin, "--device", "cuda"] + extra)
            XCTAssertEqual(r.status, 1, args[0])
            XCTAssertEqual(r.out, "", args[0])
            let lines = r.err.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, r.err)
            XCTAssertTrue(r.err.hasPrefix("gpt2lab: cuda:0: "), r.err)
            XCTAssertTrue(r.err.contains(problem), "the error names what doctor says is missing: \(problem)")
        }
        let doctor = try gpt2lab(["doctor"])
        XCTAssertEqual(doctor.status, 0, doctor.err)
        XCTAssertTrue(doctor.out.contains("cuda         unavailable: \(problem)"), doctor.out)
    }

    func testCUDAAutoWithoutGPUGivesTheCPUNumbers() throws {
        guard try cudaProblem() != nil else { throw XCTSkip("this machine has a working GPU: auto runs there") }
        let bin = try fixture("data/test-persuasion.bin"), ck = try fixture("runs/baseline/model.safetensors")
        let common = ["score", ck, "--test-set", bin, "--max-tokens", "3000", "--threads", "2", "--json"]
        let auto = try gpt2lab(common + ["--device", "auto"]), cpu = try gpt2lab(common)
        XCTAssertEqual(auto.status, 0, auto.err)
        let a = try json(auto.out), c = try json(cpu.out)
        XCTAssertNil(a["device"], "a CPU score's JSON has the same keys as before the GPU path")
        XCTAssertNil(a["gpu"])
        XCTAssertEqual(Set(a.keys), Set(c.keys))
        XCTAssertEqual(a["window_nll_sums"] as? [Double], c["window_nll_sums"] as? [Double], "bit for bit")
        XCTAssertEqual(a["loss"] as? Double, c["loss"] as? Double)
        XCTAssertEqual(try XCTUnwrap(a["loss"] as? Double), 6.1, accuracy: 0.5)
    }

    /// On a machine with a GPU: every run fixture's loss on cuda against HF transformers' (f32 2e-4,
    /// bf16 1e-3), and the GPU named in --json.
    func testCUDAFixturesOnGPUMatchHF() throws {
        if let problem = try cudaProblem() { throw XCTSkip("no GPU here: \(problem)") }
        let bin = try fixture("data/test-persuasion.bin")
        for run in ["baseline", "reference", "stacked"] {
            let ck = try fixture("runs/\(run)/model.safetensors")
            let hf = try XCTUnwrap(((try expected(run)["tests"] as? [String: Any])?["test-persuasion"] as? [String: Any])?["stride_256"] as? [String: Any])
            let want = try XCTUnwrap(hf["loss"] as? Double)
            for (precision, tolerance) in [("f32", 2e-4), ("bf16", 1e-3)] {
                let r = try gpt2lab(["score", ck, "--test-set", bin, "--device", "cuda", "--precision", precision, "--json"])
                XCTAssertEqual(r.status, 0, r.err)
                let j = try json(r.out)
                XCTAssertEqual(j["device"] as? String, "cuda:0")
                XCTAssertNotNil((j["gpu"] as? [String: Any])?["compute_capability"])
                XCTAssertEqual(try XCTUnwrap(j["loss"] as? Double), want, accuracy: tolerance, "\(run) \(precision) on the GPU")
                XCTAssertEqual(j["tokens_scored"] as? Int, hf["tokens_scored"] as? Int)
            }
        }
    }
}
