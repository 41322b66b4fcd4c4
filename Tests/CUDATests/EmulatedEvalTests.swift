import CCUDAEmulator
import Checkpoints
import Engine
import Foundation
import TestSets
import Tokenizer
import XCTest
@testable import Analysis

/// `eval --device cuda` on the emulated device (Tests/CCUDAEmulator) against the CPU engine, whose
/// predictions the AnalysisTests check against HF transformers: HellaSwag's four endings as the rows of
/// one padded forward and LAMBADA's greedy flags from the GPU's target and largest logits.
final class EmulatedEvalTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    override class func setUp() {
        startEmulatedGPU()
    }

    func run(_ task: EvalTask, limit: Int) throws -> (cpu: [EvalPrediction], gpu: [EvalPrediction]) {
        let ckPath = Self.repo.appendingPathComponent("examples/runs/baseline/model.safetensors").path
        let file = Self.repo.appendingPathComponent("examples/evals/\(task == .lambada ? "lambada" : "hellaswag").jsonl").path
        guard FileManager.default.fileExists(atPath: ckPath) else { throw XCTSkip("examples/runs missing") }
        let ck = try loadCheckpoint(path: ckPath)
        let examples = try loadEvalExamples(task: task, recipe: .llmc, path: file, limit: limit)
        let model = GPT2Model(weights: ck.weights, backend: CPUBackend(threads: 2))
        let gpu = try XCTUnwrap(try openDevice(.cuda(0), parameters: ck.parameters))
        let tok = try GPT2Tokenizer.load()
        return (try evaluateExamples(model: model, tokenizer: tok, examples, path: file),
                try evaluateExamples(model: model, gpu: gpu, tokenizer: tok, examples, path: file))
    }

    func testHellaSwagOnTheGPUMatchesTheCPU() throws {
        let (cpu, gpu) = try run(.hellaswag, limit: 4)
        XCTAssertEqual(cpu.count, 4)
        for (k, (c, g)) in zip(cpu, gpu).enumerated() {
            XCTAssertEqual(g.pred, c.pred, "example \(k)")
            XCTAssertEqual(g.predNorm, c.predNorm, "example \(k)")
            XCTAssertEqual(g.tokens, c.tokens, "example \(k)")
            for (a, b) in zip(try XCTUnwrap(g.loglikelihoods), try XCTUnwrap(c.loglikelihoods)) {
                XCTAssertEqual(a, b, accuracy: 1e-3, "example \(k): ending loglikelihood on the GPU against the CPU")
            }
        }
    }

    func testLambadaGreedyFlagsOnTheGPUMatchTheCPU() throws {
        let (cpu, gpu) = try run(.lambada, limit: 6)
        XCTAssertEqual(gpu.map(\.hit), cpu.map(\.hit))
        XCTAssertTrue(cpu.contains { $0.hit == true } || cpu.contains { $0.hit == false })
        for (k, (c, g)) in zip(cpu, gpu).enumerated() {
            XCTAssertEqual(try XCTUnwrap(g.loglikelihood), try XCTUnwrap(c.loglikelihood), accuracy: 1e-3, "example \(k)")
        }
    }
}
