import CCUDAEmulator
import Checkpoints
import Engine
import Foundation
import TestSets
import XCTest
@testable import Analysis

/// The GPU scorer's forward (Sources/CCUDA/forward.c: buffers, offsets, strides, transposes, head chunks)
/// run on the emulated device (Tests/CCUDAEmulator) against the CPU engine and HF transformers' per-window
/// losses (../shared/fixtures/expected). The emulator stands in for the whole process's CUDA, so every
/// test here uses it; the real libraries are tested through the binary (CLITests/CUDACLITests).
final class EmulatedGPUTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/fixtures").standardized

    override class func setUp() {
        startEmulatedGPU()
    }

    func fixture(_ path: String) throws -> String {
        let p = Self.fixtures.appendingPathComponent(path).path
        guard FileManager.default.fileExists(atPath: p) else { throw XCTSkip("../shared/fixtures not found at \(Self.fixtures.path)") }
        return p
    }

    /// HF's per-window losses (stride = context) of a fixture run.
    func hfWindowLosses(_ run: String) throws -> [Double] {
        let data = try Data(contentsOf: URL(fileURLWithPath: try fixture("expected/\(run).json")))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let tests = try XCTUnwrap((root["tests"] as? [String: Any])?["test-persuasion"] as? [String: Any])
        return try XCTUnwrap(tests["per_window_loss"] as? [Double])
    }

    /// Tied head, QKV bias, 6 layers: 900 tokens make windows of 256, 256, 256 and 131 (a second shape),
    /// two per forward. Every window within 1e-4 of the CPU engine and 2e-4 of HF.
    func testF32MatchesCPUEngineAndHF() throws {
        let bin = try fixture("data/test-persuasion.bin")
        let toks = try loadTokenIDs(path: bin)
        let ck = try loadCheckpoint(path: try fixture("runs/reference/model.safetensors"))
        let launches = gl_cuda_emulated_launches()
        let (gpu, gs, _) = try scoreCheckpoint(ck, tokens: toks, testSetPath: bin, maxTokens: 900, batch: 2, device: .cuda(0))
        let (cpu, cs, _) = try scoreCheckpoint(ck, tokens: toks, testSetPath: bin, maxTokens: 900, batch: 2, threads: 2)
        XCTAssertGreaterThan(gl_cuda_emulated_launches(), launches, "the forward ran on the emulated device")
        XCTAssertEqual(gpu.device, "cuda:0")
        XCTAssertEqual(gpu.gpu?.name, "emulated device")
        XCTAssertEqual(gpu.gpu?.computeCapability, "9.0")
        XCTAssertGreaterThan(gpu.gpu?.peakBytes ?? 0, ck.parameters.parameterCount * 4)
        XCTAssertNil(cpu.device, "a CPU score reads as before the GPU path")
        XCTAssertEqual(gs.counts, cs.counts)
        XCTAssertEqual(gs.counts, [256, 256, 256, 131])
        let hf = try hfWindowLosses("reference")
        for (k, (g, c)) in zip(gs.windowLosses, cs.windowLosses).enumerated() {
            XCTAssertEqual(g, c, accuracy: 1e-4, "window \(k): GPU forward against the CPU engine")
            if k < 3 { XCTAssertEqual(g, hf[k], accuracy: 2e-4, "window \(k): GPU forward against HF transformers") }
        }
        print("emulated f32: loss \(gpu.loss), CPU \(cpu.loss), HF windows \(hf.prefix(3))")
    }

    /// The three f32 maths on the emulated device (whose TF32 products truncate their operands to TF32, the
    /// harsher conversion): the split's three TF32 products give errors of f32's order (within 2e-5 of the
    /// CPU engine per window, as cuBLAS's FP32), while one TF32 product is visibly coarser; the split
    /// and TF32 run their products as TF32, FP32 none.
    func testGPUMathsAgainstCPUEngine() throws {
        let bin = try fixture("data/test-persuasion.bin")
        let toks = try loadTokenIDs(path: bin)
        let ck = try loadCheckpoint(path: try fixture("runs/reference/model.safetensors"))
        let (_, cs, _) = try scoreCheckpoint(ck, tokens: toks, testSetPath: bin, maxTokens: 520, batch: 2, threads: 2)
        var worst: [GPUMath: Double] = [:]
        for math in GPUMath.allCases {
            let before = gl_cuda_emulated_tf32_gemms()
            let (report, gs, _) = try scoreCheckpoint(ck, tokens: toks, testSetPath: bin, maxTokens: 520, batch: 2,
                                                      device: .cuda(0), math: math)
            let tf32 = gl_cuda_emulated_tf32_gemms() - before
            XCTAssertEqual(report.gpu?.math, math.rawValue)
            if math == .f32 { XCTAssertEqual(tf32, 0, "FP32 runs no TF32 product") } else { XCTAssertGreaterThan(tf32, 0) }
            worst[math] = zip(gs.windowLosses, cs.windowLosses).map { abs($0 - $1) }.max() ?? .nan
        }
        print("emulated maths, largest |window loss - CPU|: \(worst)")
        XCTAssertLessThan(worst[.f32]!, 2e-5)
        XCTAssertLessThan(worst[.split]!, 2e-5)
        XCTAssertGreaterThan(worst[.tf32]!, 5 * worst[.split]!, "one TF32 product is coarser than the split")
    }

    /// bf16 products (bf16 weights and inputs, f32 sums), untied head. The GPU also runs attention's two
    /// products on bf16 operands (q, k, v and the probabilities rounded), where the CPU's bf16 path keeps
    /// them f32: within 5e-4 of the CPU's bf16 path window by window, within 1e-3 of HF's f32.
    func testBF16MatchesCPUEngine() throws {
        let bin = try fixture("data/test-persuasion.bin")
        let toks = try loadTokenIDs(path: bin)
        let ck = try loadCheckpoint(path: try fixture("runs/baseline/model.safetensors"), precision: .bf16)
        let (gpu, gs, _) = try scoreCheckpoint(ck, tokens: toks, testSetPath: bin, maxTokens: 600, device: .cuda(0))
        let (_, cs, _) = try scoreCheckpoint(ck, tokens: toks, testSetPath: bin, maxTokens: 600, threads: 2)
        XCTAssertEqual(gpu.precision, "bf16")
        XCTAssertNil(gpu.gpu?.math, "bf16 products have no f32 math")
        let hf = try hfWindowLosses("baseline")
        for (k, (g, c)) in zip(gs.windowLosses, cs.windowLosses).enumerated() {
            print("bf16 window \(k): GPU \(g) CPU bf16 \(c) HF f32 \(k < hf.count ? hf[k] : .nan)")
            XCTAssertEqual(g, c, accuracy: 5e-4, "window \(k): bf16 GPU forward against the CPU's bf16 path")
            if k < 2 { XCTAssertEqual(g, hf[k], accuracy: 1e-3, "window \(k): bf16 against HF's f32") }
        }
    }

    /// GPT2LAB_CUDA_CHECK's comparison: every stage agrees on a correct forward.
    func testStageCheckAgrees() throws {
        let bin = try fixture("data/test-persuasion.bin")
        let ck = try loadCheckpoint(path: try fixture("runs/baseline/model.safetensors"))
        let lines = try checkCUDAScoring(ck, tokens: try loadTokenIDs(path: bin), testSetPath: bin, context: 64, threads: 2, device: .cuda(0))
        print(lines.joined(separator: "\n"))
        XCTAssertEqual(lines.count, 1 + 8 + 4 + 2 + 2)  // header, block 0's stages, 4 block outputs, ln_f, nll, mean, verdict
        XCTAssertEqual(lines.last, "check all stages agree within 0.001 of their scale")
    }

    /// A device that is not there is one clear error.
    func testMissingDeviceIsAnError() throws {
        let bin = try fixture("data/test-persuasion.bin")
        let ck = try loadCheckpoint(path: try fixture("runs/baseline/model.safetensors"))
        XCTAssertThrowsError(try scoreCheckpoint(ck, tokens: try loadTokenIDs(path: bin), testSetPath: bin, maxTokens: 300, device: .cuda(3))) {
            XCTAssertEqual(String(describing: $0), "cuda:3: no CUDA device 3 (this machine has 1)")
        }
    }
}
