import CCUDAEmulator
import Engine
import Foundation
import XCTest
@testable import Analysis

/// The fused bf16 attention (Sources/CCUDA/kernels_attention.h, chosen per context by attention.c's check) on the
/// emulated device: a bf16 model with 64-wide heads scores within bf16's rounding of the products path and of
/// the CPU engine's bf16 path; a kernel that fails its check is not used (the products path's exact numbers);
/// heads of another width keep the products. The emulator runs the kernel's twin, so this checks the choice and
/// the orchestration; the kernel's own source is checked against the products path on each real GPU at first use.
final class EmulatedFusedAttentionTests: XCTestCase {
    override class func setUp() {
        startEmulatedGPU()
    }

    override func tearDown() {
        gl_cuda_emulated_break_fused(0)
        unsetenv("GPT2LAB_CUDA_ATTENTION")
    }

    /// One block, 2 heads of 64, a 97-token vocabulary, random weights (std 0.1, LayerNorms at 1 and 0), bf16.
    func model(heads: Int = 2) -> (ModelWeights, f32: ModelWeights) {
        let config = GPT2Config(vocabSize: 97, contextLength: 160, nEmbd: 128, nLayer: 1, nHead: heads)
        let w = randomWeights(config, seed: 17)
        return (ModelWeights.f32(w).at(.bf16), .f32(w))
    }

    /// 2 windows of 150 tokens: three query blocks per head, the last one partial.
    func tokens() -> (inputs: [Int32], targets: [Int32]) {
        var rng = SplitMix64(seed: 3)
        let ids = (0..<301).map { _ in Int32(rng.next() % 97) }
        return (Array(ids[0..<300]), Array(ids[1..<301]))
    }

    func maxDifference(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? .nan }

    func testFusedAttentionMatchesTheProductsAndTheCPU() throws {
        let (weights, _) = model()
        let (inputs, targets) = tokens()
        let fused = try CUDAModel(parameters: weights, ordinal: 0)
        XCTAssertTrue(fused.info.attention?.hasPrefix("fused (checked against the products") == true, fused.info.attention ?? "nil")
        let launches = gl_cuda_emulated_launches()
        let f = try fused.nll(inputs: inputs, targets: targets, b: 2, t: 150)
        XCTAssertGreaterThan(gl_cuda_emulated_launches(), launches)
        setenv("GPT2LAB_CUDA_ATTENTION", "products", 1)
        let products = try CUDAModel(parameters: weights, ordinal: 0)
        XCTAssertEqual(products.info.attention, "products (GPT2LAB_CUDA_ATTENTION=products)")
        let p = try products.nll(inputs: inputs, targets: targets, b: 2, t: 150)
        let cpuModel = GPT2Model(parameters: weights, backend: CPUBackend(threads: 2))
        let c = try cpuNLL(cpuModel, inputs: inputs, targets: targets, t: 150)
        let mean = { (x: [Float]) in x.reduce(0.0) { $0 + Double($1) } / Double(x.count) }
        print("fused attention: \(fused.info.attention ?? "")\n"
              + "fused attention: per-token NLL vs products \(maxDifference(f, p)), vs CPU bf16 \(maxDifference(f, c)); "
              + "products vs CPU bf16 \(maxDifference(p, c)); "
              + "means \(mean(f)) \(mean(p)) \(mean(c))")
        // bf16 rounds the probabilities at different points (normalised or not) and the CPU's bf16 path keeps
        // attention in f32: the fused path stays within the products path's own distance to the CPU, per token
        // and in the mean, where a wrong kernel is off by the loss's scale.
        let spread = maxDifference(p, c)
        XCTAssertLessThanOrEqual(maxDifference(f, p), spread)
        XCTAssertLessThanOrEqual(maxDifference(f, c), 1.25 * spread)
        XCTAssertLessThan(spread, 0.1)
        XCTAssertEqual(mean(f), mean(p), accuracy: 1e-3)
        XCTAssertEqual(mean(f), mean(c), accuracy: 1e-3, "the bf16 tolerance against f32 references")
        // The fused context keeps no (T, T) scores: the products path's f32 scores and bf16 probabilities for both
        // windows' 2 heads (6 bytes a score) are all that its peak holds beyond the fused one's.
        XCTAssertEqual(products.peakBytes - fused.peakBytes, 2 * 2 * 150 * 150 * 6)
    }

    /// A wrong kernel (no causal mask) fails the check: the context keeps the products path, bit for bit.
    func testKernelThatFailsItsCheckIsNotUsed() throws {
        let (weights, _) = model()
        let (inputs, targets) = tokens()
        setenv("GPT2LAB_CUDA_ATTENTION", "products", 1)
        let want = try CUDAModel(parameters: weights, ordinal: 0).nll(inputs: inputs, targets: targets, b: 2, t: 150)
        unsetenv("GPT2LAB_CUDA_ATTENTION")
        gl_cuda_emulated_break_fused(1)
        let broken = try CUDAModel(parameters: weights, ordinal: 0)
        XCTAssertTrue(broken.info.attention?.hasPrefix("products (the fused kernel differed by") == true, broken.info.attention ?? "nil")
        XCTAssertEqual(try broken.nll(inputs: inputs, targets: targets, b: 2, t: 150), want)
    }

    /// A kernel that faults on its check leaves a real context unusable (sticky errors): the model is refused with
    /// one message that says so and how to keep the kernel out, not with a later upload's unrelated error.
    func testKernelThatFaultsOnItsCheckIsRefusedClearly() throws {
        let (weights, _) = model()
        gl_cuda_emulated_fault_fused(1)
        defer { gl_cuda_emulated_fault_fused(0) }
        XCTAssertThrowsError(try CUDAModel(parameters: weights, ordinal: 0)) {
            let text = ($0 as? LocalizedError)?.errorDescription ?? "\($0)"
            XCTAssertTrue(text.contains("the fused bf16 attention kernel faulted on its check problem"), text)
            XCTAssertTrue(text.contains("cuCtxSynchronize failed"), text)
            XCTAssertTrue(text.contains("GPT2LAB_CUDA_ATTENTION=products"), text)
        }
        setenv("GPT2LAB_CUDA_ATTENTION", "products", 1)
        defer { unsetenv("GPT2LAB_CUDA_ATTENTION") }
        XCTAssertEqual(try CUDAModel(parameters: weights, ordinal: 0).info.attention, "products (GPT2LAB_CUDA_ATTENTION=products)")
    }

    /// Heads 32 wide (4 of them in 128): the products path, saying why; f32 models never ask.
    func testOtherHeadWidthsKeepTheProducts() throws {
        let (weights, _) = model(heads: 4)
        XCTAssertEqual(try CUDAModel(parameters: weights, ordinal: 0).info.attention, "products (heads of 32, the fused kernel takes 64)")
        let (_, f32) = model()
        XCTAssertNil(try CUDAModel(parameters: f32, ordinal: 0).info.attention)
    }

    func cpuNLL(_ model: GPT2Model, inputs: [Int32], targets: [Int32], t: Int) throws -> [Float] {
        var out: [Float] = []
        for w in 0..<(inputs.count / t) {
            let acts = Activations(config: model.config, b: 1, t: t, keepAll: false)
            let i = Array(inputs[(w * t)..<((w + 1) * t)]), g = Array(targets[(w * t)..<((w + 1) * t)])
            i.withUnsafeBufferPointer { ip in
                g.withUnsafeBufferPointer { gp in model.forward(inputs: ip.baseAddress!, targets: gp.baseAddress!, scoredFrom: [0], acts: acts) }
            }
            out += Array(UnsafeBufferPointer(start: acts.nll, count: t))
        }
        return out
    }
}

/// Every tensor stored, Gaussian with std 0.1 (biases too, so a bias added twice or never shows), LayerNorm
/// gains at 1.
func randomWeights(_ config: GPT2Config, seed: UInt64) -> GPT2Weights {
    var w = GPT2Weights(config: config, tied: true)
    w.stored = Set(w.layout.tensors)
    var rng = SplitMix64(seed: seed)
    for id in w.layout.tensors {
        let isNormWeight = id.kind == .ln1w || id.kind == .ln2w || id.kind == .lnfw
        for i in w.layout.range(id) { w.data[i] = isNormWeight ? 1 : Float(rng.nextGaussian()) * 0.1 }
    }
    return w
}
