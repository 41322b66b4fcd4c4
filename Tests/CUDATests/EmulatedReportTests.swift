import CCUDAEmulator
import Checkpoints
import TestSets
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
        startEmulatedGPU()
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

    /// `report --device auto` with a GPU that is there but refuses the work stops with the line the other
    /// commands give (it gave only the bare cuda:0 failure).
    func testAutoWithAnUnusableGPUStopsWithTheAutoLine() throws {
        let m = try manifest()
        gl_cuda_emulated_fail_allocs(1)   // every allocation fails until it is turned off
        defer { gl_cuda_emulated_fail_allocs(0) }
        XCTAssertThrowsError(try compareRuns(m, options: options(.auto, .default))) { e in
            XCTAssertTrue("\(e)".hasPrefix("--device auto: GPU 0 is there but cannot be used: "), "\(e)")
            XCTAssertTrue("\(e)".hasSuffix("; --device cpu runs on the CPU"), "\(e)")
        }
    }
}

/// The report's per-token section on the emulated device: both models there, the positions computed by
/// compare.c, within the CPU report's KL and losses.
final class EmulatedPerTokenReportTests: XCTestCase {
    override class func setUp() {
        startEmulatedGPU()
    }

    func testPerTokenOnTheGPUMatchesTheCPU() throws {
        let root = EmulatedReportTests.fixtures
        guard FileManager.default.fileExists(atPath: root + "/runs/baseline/model.safetensors") else {
            throw XCTSkip("../shared/fixtures not found at \(root)")
        }
        var m = ReportManifest(path: "gpu.toml", title: "gpu", testSet: root + "/data/test-persuasion.bin", maxTokens: 600,
                               baseline: "baseline",
                               runs: [RunSpec(name: "baseline", checkpoint: root + "/runs/baseline/model.safetensors"),
                                      RunSpec(name: "stacked", checkpoint: root + "/runs/stacked/model.safetensors")])
        m.perToken = ["stacked"]; m.perTokenMaxTokens = 300
        func run(_ device: ComputeDevice) throws -> TokenComparison {
            var o = ReportOptions()
            o.bootstrap = 20; o.completionPrompt = nil; o.threads = 2; o.device = device; o.gpuMath = .f32
            return try XCTUnwrap(try compareRuns(m, options: o).0.perToken?.first?.comparison)
        }
        let g = try run(.cuda(0)), c = try run(.cpu)
        XCTAssertEqual(g.device, "cuda:0")
        XCTAssertNil(c.device)
        XCTAssertEqual(g.tokensScored, c.tokensScored)
        XCTAssertEqual(g.klMean, c.klMean, accuracy: 1e-4 * c.klMean)
        XCTAssertEqual(g.delta, c.delta, accuracy: 1e-5)
    }
}

/// `interpolate --device cuda` on the emulated device: every point within 1e-4 of the CPU engine's loss
/// (whose endpoints InterpolationTests and the report's tests check against HF transformers), on the GPU.
final class EmulatedInterpolationTests: XCTestCase {
    override class func setUp() {
        startEmulatedGPU()
    }

    func testPointsOnTheGPUMatchTheCPU() throws {
        let fx = EmulatedReportTests.fixtures
        guard FileManager.default.fileExists(atPath: fx + "/runs/stacked/model.safetensors") else { throw XCTSkip("../shared/fixtures not found") }
        let bin = fx + "/data/test-persuasion.bin"
        let toks = try loadTokenIDs(path: bin)
        let a = try loadCheckpoint(path: fx + "/runs/baseline/model.safetensors")
        let b = try loadCheckpoint(path: fx + "/runs/stacked/model.safetensors")
        let ts = [0, 0.5, 1.0]
        let cpu = try interpolate(a, b, ts: ts, tokens: toks, testSetPath: bin, maxTokens: 600, threads: 2, resamples: 50)
        let launches = gl_cuda_emulated_launches()
        let gpu = try interpolate(a, b, ts: ts, tokens: toks, testSetPath: bin, maxTokens: 600, threads: 2, device: .cuda(0),
                                  math: .f32, resamples: 50)
        XCTAssertGreaterThan(gl_cuda_emulated_launches(), launches, "the points ran on the emulated device")
        XCTAssertNil(cpu.device)
        XCTAssertEqual(gpu.device, "cuda emulated device sm_9.0")
        XCTAssertEqual(gpu.tokensScored, cpu.tokensScored)
        for (g, c) in zip(gpu.points, cpu.points) { XCTAssertEqual(g.loss, c.loss, accuracy: 1e-4, "t = \(c.t)") }
        XCTAssertEqual(try XCTUnwrap(gpu.barrier).excess, try XCTUnwrap(cpu.barrier).excess, accuracy: 2e-4)
    }
}
