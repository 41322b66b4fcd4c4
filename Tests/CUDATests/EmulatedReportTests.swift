import CCUDAEmulator
import Engine
import Foundation
import XCTest
@testable import Analysis

/// `report --device cuda --gpu-math M` on the emulated device (Tests/CCUDAEmulator): the runs' full scores
/// run there with that math, results.json's settings name the GPU with it, and the losses stay within the
/// math's tolerance of the CPU engine's (whose scores the ReportTests check against HF transformers).
final class EmulatedReportTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/fixtures").standardized.path

    override class func setUp() {
        setenv("XDG_CACHE_HOME", NSTemporaryDirectory() + "gpt2lab-emulated-cache-\(getpid())", 1)
        gl_cuda_emulate()
    }

    func manifest() throws -> ReportManifest {
        guard FileManager.default.fileExists(atPath: Self.fixtures + "/runs/reference/model.safetensors") else {
            throw XCTSkip("../shared/fixtures not found at \(Self.fixtures)")
        }
        return ReportManifest(path: "gpu.toml", title: "gpu", testSet: Self.fixtures + "/data/test-persuasion.bin", maxTokens: 900,
                              baseline: "reference",
                              runs: [RunSpec(name: "reference", checkpoint: Self.fixtures + "/runs/reference/model.safetensors")])
    }

    func options(_ device: ComputeDevice, _ math: GPUMath) -> ReportOptions {
        var o = ReportOptions()
        o.bootstrap = 50; o.completionPrompt = nil; o.threads = 2
        o.device = device; o.gpuMath = math
        return o
    }

    func testGPUMathReachesTheScoresAndTheSettings() throws {
        let m = try manifest()
        let (cpu, _) = try compareRuns(m, options: options(.cpu, .default))
        XCTAssertNil(cpu.settings.device)
        for (math, tolerance) in [(GPUMath.f32, 2e-5), (.tf32, 2e-2)] {
            let launches = gl_cuda_emulated_launches()
            let (gpu, _) = try compareRuns(m, options: options(.cuda(0), math))
            XCTAssertGreaterThan(gl_cuda_emulated_launches(), launches, "\(math): scored on the emulated device")
            let device = try XCTUnwrap(gpu.settings.device)
            XCTAssertTrue(device.hasPrefix("cuda emulated device"), device)
            XCTAssertEqual(device.hasSuffix(" tf32"), math == .tf32, device)
            XCTAssertEqual(gpu.runs[0].loss, cpu.runs[0].loss, accuracy: tolerance, "\(math)")
        }
    }
}
