import CCUDA
import CCUDAEmulator
import Checkpoints
import Engine
import Foundation
import TestSets
import XCTest
@testable import Analysis

/// The GPU's gradient and Hessian-vector products (Sources/CCUDA/backward.c: kept activations, the LM head's
/// chunked backward, LayerNorm, GELU, attention, column sums, the embeddings' sorted scatter) on the
/// emulated device, against PyTorch's gradient norms (../shared/fixtures/expected, `hessian`) and the CPU
/// engine's gradient and HVP. `runs/baseline` has no QKV bias (absent slots stay zero) and an untied head;
/// `runs/reference` a QKV bias and a tied head.
final class EmulatedHessianTests: XCTestCase {
    /// What expected/RUN.json's `hessian` says of PyTorch's batch: its loss and each parameter's gradient norm.
    struct Expected: Decodable { let batch_loss: Double, grad_norms: [String: Double], batch: Int, context: Int }

    override class func setUp() {
        startEmulatedGPU()
    }

    static func run(_ name: String) throws -> (GPT2Weights, [Int32], Expected?) {
        let root = EmulatedGPUTests.fixtures
        let ckpt = root.appendingPathComponent("runs/\(name)/model.safetensors").path
        guard FileManager.default.fileExists(atPath: ckpt) else { throw XCTSkip("../shared/fixtures not found at \(root.path)") }
        let tokens = try loadTokenIDs(path: root.appendingPathComponent("data/test-persuasion.bin").path).ids
        struct File: Decodable { let hessian: Expected? }
        let json = try Data(contentsOf: root.appendingPathComponent("expected/\(name).json"))
        let weights = try loadCheckpoint(path: ckpt).weights
        return (weights, tokens, try JSONDecoder().decode(File.self, from: json).hessian)
    }

    /// The largest |a − b| over a tensor's range, relative to the largest |b| there.
    func relativeError(_ a: [Float], _ b: [Float], _ r: Range<Int>) -> Double {
        var diff = 0.0, scale = 0.0
        for i in r { diff = max(diff, Double(abs(a[i] - b[i]))); scale = max(scale, Double(abs(b[i]))) }
        return scale > 0 ? diff / scale : diff
    }

    /// PyTorch's batch (4 windows of 256): the loss within 2e-4 and the gradient's norm within 2e-3 (the CPU
    /// engine's tolerances in HessianFixtureTests), and each tensor within 1e-4 of the CPU's gradient.
    func testGradientMatchesPyTorchAndTheCPU() throws {
        let (weights, tokens, expected) = try Self.run("baseline")
        let exp = try XCTUnwrap(expected, "expected/baseline.json has PyTorch's Hessian batch")
        let (inputs, targets) = try hessianBatch(tokens: tokens, batch: exp.batch, context: exp.context, vocabSize: weights.config.vocabSize)
        let gpu = try CUDAGradient(weights: weights, ordinal: 0)
        let launches = gl_cuda_emulated_launches()
        let (loss, grad) = try gpu.gradient(inputs: inputs, targets: targets, b: exp.batch, t: exp.context)
        XCTAssertGreaterThan(gl_cuda_emulated_launches(), launches, "the gradient ran on the emulated device")
        XCTAssertEqual(loss, exp.batch_loss, accuracy: 2e-4)
        // The whole gradient's norm: PyTorch's per-parameter norms (q, k and v apart) squared and summed.
        let want = exp.grad_norms.values.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
        let got = grad.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertLessThan(abs(got - want) / want, 2e-3, "gradient norm: GPU \(got), PyTorch \(want)")
        let cpu = GPT2LossHessian(weights: weights, backend: CPUBackend(threads: 2), inputs: inputs, targets: targets,
                                  b: exp.batch, t: exp.context).gradient()
        XCTAssertEqual(loss, cpu.loss, accuracy: 1e-5)
        for id in weights.layout.tensors {
            let r = weights.layout.range(id)
            if weights.isStored(id) {
                XCTAssertLessThan(relativeError(grad, cpu.gradient, r), 1e-4, "\(id.canonicalName) against the CPU")
            } else {
                XCTAssertTrue(r.allSatisfy { grad[$0] == 0 }, "\(id.canonicalName) is not stored: its gradient stays zero")
            }
        }
    }

    /// The tied head and QKV bias, 3 windows of 32 tokens, one window per chunk (the chunks' gradients add up):
    /// gradient within 1e-4 of the CPU's per tensor; one Rademacher probe's Hv within 1e-3 (relative L2) of the
    /// CPU's; the same gradient bits twice.
    func testTiedHeadGradientAndHVPMatchTheCPU() throws {
        let (weights, tokens, _) = try Self.run("reference")
        let (inputs, targets) = try hessianBatch(tokens: tokens, batch: 3, context: 32, vocabSize: weights.config.vocabSize)
        gl_cuda_set_gradient_chunk_bytes(1)  // one window per chunk
        defer { gl_cuda_set_gradient_chunk_bytes(0) }
        let gpuOp = GPT2LossHessian(weights: weights, inputs: inputs, targets: targets, b: 3, t: 32,
                                    gpu: try CUDAGradient(weights: weights, ordinal: 0))
        let cpuOp = GPT2LossHessian(weights: weights, backend: CPUBackend(threads: 2), inputs: inputs, targets: targets, b: 3, t: 32)
        let g = try gpuOp.lossGradient(), c = try cpuOp.lossGradient()
        XCTAssertEqual(g.loss, c.loss, accuracy: 1e-5)
        for id in weights.parameterTensors {
            XCTAssertLessThan(relativeError(g.gradient, c.gradient, weights.layout.range(id)), 1e-4, id.canonicalName)
        }
        XCTAssertEqual(try gpuOp.lossGradient().gradient, g.gradient, "a gradient is the same bits each run")
        var rng = SplitMix64(seed: 11)
        let v = rademacher(dimension: gpuOp.dimension, blocks: gpuOp.blocks, rng: &rng)
        let hg = try gpuOp.hvp(v), hc = try cpuOp.hvp(v)
        var diff = 0.0, norm = 0.0
        for i in 0..<hc.count { diff += Double(hg[i] - hc[i]) * Double(hg[i] - hc[i]); norm += Double(hc[i]) * Double(hc[i]) }
        XCTAssertLessThan((diff / norm).squareRoot(), 1e-3, "Hv on the GPU against the CPU's")
        XCTAssertEqual(dotD(v, hg), dotD(v, hc), accuracy: 1e-3 * abs(dotD(v, hc)), "vᵀHv")
        print("emulated HVP: vᵀHv GPU \(dotD(v, hg)), CPU \(dotD(v, hc)); relative L2 \((diff / norm).squareRoot())")
    }

    /// runs/baseline's Hessian on its first 8 tokens, on the GPU and on the CPU.
    static func smallOperators() throws -> (GPT2Weights, gpu: GPT2LossHessian, cpu: GPT2LossHessian) {
        let (weights, tokens, _) = try run("baseline")
        let (inputs, targets) = try hessianBatch(tokens: tokens, batch: 1, context: 8, vocabSize: weights.config.vocabSize)
        let gpu = GPT2LossHessian(weights: weights, inputs: inputs, targets: targets, b: 1, t: 8,
                                  gpu: try CUDAGradient(weights: weights, ordinal: 0))
        let cpu = GPT2LossHessian(weights: weights, backend: CPUBackend(threads: 2), inputs: inputs, targets: targets, b: 1, t: 8)
        return (weights, gpu, cpu)
    }

    /// A probe that is not zero on the tensors the checkpoint lacks (runs/baseline's QKV biases): only the stored
    /// tensors move, as on the CPU, and Hv is zero there.
    func testProbeOffTheParametersIsIgnored() throws {
        let (weights, gpu, cpu) = try Self.smallOperators()
        var rng = SplitMix64(seed: 3)
        let v = (0..<gpu.dimension).map { _ in Float(rng.next() % 2 == 0 ? 1 : -1) }
        let absent = weights.layout.tensors.filter { !weights.isStored($0) }
        XCTAssertFalse(absent.isEmpty, "runs/baseline stores no QKV bias")
        let hg = try gpu.hvp(v), hc = try cpu.hvp(v)
        var diff = 0.0, norm = 0.0
        for i in 0..<hc.count { diff += Double(hg[i] - hc[i]) * Double(hg[i] - hc[i]); norm += Double(hc[i]) * Double(hc[i]) }
        XCTAssertLessThan((diff / norm).squareRoot(), 1e-3)
        for id in absent { XCTAssertTrue(weights.layout.range(id).allSatisfy { hg[$0] == 0 }, id.canonicalName) }
    }

    /// Hutchinson's probe drawn on the device is the CPU's `rademacher` probe: the same generator state after it,
    /// and each block's vᵀHv as the CPU's from that probe (a different probe would give unrelated sums).
    func testProbeOnTheDeviceIsTheCPUsProbe() throws {
        let (weights, gpu, cpu) = try Self.smallOperators()
        var rg = SplitMix64(seed: 9), rc = rg
        let parts = try XCTUnwrap(try gpu.rademacherParts(rng: &rg))
        XCTAssertNil(try cpu.rademacherParts(rng: &rc), "the CPU operator draws its probes on the host")
        let v = rademacher(dimension: cpu.dimension, blocks: cpu.blocks, rng: &rc)
        XCTAssertEqual(rg.state, rc.state, "the generator advanced as rademacher() advances it")
        let hv = try cpu.hvp(v)
        let want = cpu.blocks.map { dotD(v, hv, $0.range) }
        let scale = want.reduce(0) { $0 + abs($1) }
        XCTAssertEqual(parts.count, want.count)
        for (k, (g, c)) in zip(parts, want).enumerated() {
            XCTAssertEqual(g, c, accuracy: 1e-3 * abs(c) + 1e-5 * scale, cpu.blocks[k].name)
        }
        XCTAssertEqual(parts.reduce(0, +), want.reduce(0, +), accuracy: 1e-3 * abs(want.reduce(0, +)))
    }

    /// `hessianAnalysis` with `device: .cuda(0)` (what `hessian --device cuda` and the report run): the same
    /// probes as the CPU give the same trace within 1e-3, λ₁ within 1e-3, and the result names the GPU.
    func testHessianAnalysisOnTheGPUMatchesTheCPU() throws {
        let (weights, tokens, _) = try Self.run("baseline")
        func analysis(_ device: ComputeDevice) throws -> HessianResult {
            try hessianAnalysis(weights: weights, backend: CPUBackend(threads: 2), device: device, tokens: tokens, batch: 2,
                                context: 16, samples: 2, seed: 5, topK: 1, maxIterations: 8)
        }
        let g = try analysis(.cuda(0)), c = try analysis(.cpu)
        XCTAssertEqual(g.device, "cuda:0")
        XCTAssertEqual(g.gpu?.name, "emulated device")
        XCTAssertEqual(g.gpu?.math, "f32")
        XCTAssertGreaterThan(g.gpu?.peakBytes ?? 0, 5 * weights.layout.count * 4, "θ, θ ± εv, two gradients and the probe")
        XCTAssertNil(c.device)
        XCTAssertNil(c.gpu)
        XCTAssertEqual(g.batchLoss, c.batchLoss, accuracy: 1e-5)
        XCTAssertEqual(g.trace, c.trace, accuracy: 1e-3 * abs(c.trace))
        XCTAssertEqual(g.topEigenvalues[0], c.topEigenvalues[0], accuracy: 1e-3 * abs(c.topEigenvalues[0]))
        print("emulated hessianAnalysis: trace GPU \(g.trace), CPU \(c.trace); λ₁ \(g.topEigenvalues[0]), \(c.topEigenvalues[0])")
    }
}
