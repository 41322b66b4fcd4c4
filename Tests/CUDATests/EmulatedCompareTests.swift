import CCUDAEmulator
import Checkpoints
import Engine
import Foundation
import TestSets
import XCTest
@testable import Analysis

/// `compare` on the emulated device (Sources/CCUDA/compare.c: both forwards, the paired LM heads in vocabulary
/// chunks, pair_chunk's online maxima, argmaxes and sums) against the CPU engine's compareTokens on the same
/// windows: `runs/baseline` against `runs/stacked`, the default 3xtf32 math.
final class EmulatedCompareTests: XCTestCase {
    override class func setUp() {
        startEmulatedGPU()
    }

    func testComparisonOnTheGPUMatchesTheCPU() throws {
        let root = EmulatedGPUTests.fixtures
        let bin = root.appendingPathComponent("data/test-persuasion.bin").path
        guard FileManager.default.fileExists(atPath: bin) else { throw XCTSkip("../shared/fixtures not found at \(root.path)") }
        let tokens = try loadTokenIDs(path: bin)
        let wa = try loadCheckpoint(path: root.appendingPathComponent("runs/baseline/model.safetensors").path).weights
        let wb = try loadCheckpoint(path: root.appendingPathComponent("runs/stacked/model.safetensors").path).weights
        // windows of 256, 256 and 88 tokens (two shapes), stride 128: the later windows score their last half only
        let plan = try WindowPlan(tokenCount: tokens.ids.count, context: 256, stride: 128, maxTokens: 600)
        let backend = CPUBackend(threads: 2)
        let (ma, mb) = (GPT2Model(weights: wa, backend: backend), GPT2Model(weights: wb, backend: backend))
        let ga = try CUDAModel(parameters: .f32(wa), ordinal: 0), gb = try CUDAModel(parameters: .f32(wb), ordinal: 0)
        XCTAssertTrue(ga.canCompare(with: gb))
        let launches = gl_cuda_emulated_launches()
        let g = try compareTokens(a: ma, b: mb, names: ("a", "b"), tokens: tokens.ids, testSet: bin, plan: plan, tokenizer: nil, gpu: (ga, gb))
        XCTAssertGreaterThan(gl_cuda_emulated_launches(), launches, "the comparison ran on the emulated device")
        let c = try compareTokens(a: ma, b: mb, names: ("a", "b"), tokens: tokens.ids, testSet: bin, plan: plan, tokenizer: nil)
        XCTAssertEqual(g.device, "cuda:0")
        XCTAssertNil(c.device)
        XCTAssertEqual(g.tokensScored, c.tokensScored)
        XCTAssertEqual(g.lossA, c.lossA, accuracy: 1e-5)
        XCTAssertEqual(g.lossB, c.lossB, accuracy: 1e-5)
        XCTAssertEqual(g.klMean, c.klMean, accuracy: 1e-4 * c.klMean)
        XCTAssertEqual(g.top1Agreement, c.top1Agreement, accuracy: 2 / Double(c.tokensScored), "at most a near-tie apart")
        XCTAssertEqual(g.positionCounts, c.positionCounts)
        for (x, y) in zip(g.lossByPosition.a + g.lossByPosition.b, c.lossByPosition.a + c.lossByPosition.b) {
            XCTAssertEqual(x, y, accuracy: 1e-4)
        }
        XCTAssertEqual(g.calibration.a.ece, c.calibration.a.ece, accuracy: 2e-3)
        XCTAssertEqual(g.calibration.b.ece, c.calibration.b.ece, accuracy: 2e-3)
        XCTAssertEqual(g.calibration.a.accuracy, c.calibration.a.accuracy, accuracy: 2 / Double(c.tokensScored))
        XCTAssertEqual(g.gains.map(\.window), c.gains.map(\.window))
        print("emulated compare: KL \(g.klMean) vs \(c.klMean); top-1 \(g.top1Agreement) vs \(c.top1Agreement); "
              + "ECE A \(g.calibration.a.ece) vs \(c.calibration.a.ece)")
    }
}
