import CCUDA
import CCUDAEmulator
import Foundation
import XCTest
@testable import Engine

/// forward.c's fused block (LayerNorm and GELU writing the next product's input, biases added by the pass after
/// each product) against its staged block (separate passes, each product adding its bias), on the emulated device:
/// a forward given a check dump runs block 0 staged and the rest fused; without one every block is fused. The
/// fused block claims the same sums in the same order, so the per-token NLL must agree bit for bit, in every
/// math: f32, TF32, the TF32 split, bf16 with the fused attention and bf16 with the products.
final class EmulatedFusedBlockTests: XCTestCase {
    override class func setUp() {
        startEmulatedGPU()
    }

    override func tearDown() { unsetenv("GPT2LAB_CUDA_ATTENTION") }

    /// One block only would leave nothing fused beside the dumped block 0: two blocks, 2 heads of 64, random
    /// weights (std 0.1, biases too, so a bias added twice or never shows), LayerNorm gains at 1.
    func weights() -> GPT2Weights {
        let config = GPT2Config(vocabSize: 97, contextLength: 96, nEmbd: 128, nLayer: 2, nHead: 2)
        return randomWeights(config, seed: 29)
    }

    /// (staged block 0 then fused, all fused) per-token NLL of 2 windows of 80 tokens.
    func bothWays(_ model: CUDAModel) throws -> (staged: [Float], fused: [Float]) {
        var rng = SplitMix64(seed: 5)
        let ids = (0..<161).map { _ in Int32(rng.next() % 97) }
        let inputs = Array(ids[0..<160]), targets = Array(ids[1..<161])
        var dump = gl_cuda_dump()   // every buffer nil: nothing copied, but block 0 runs staged
        let staged = try model.nll(inputs: inputs, targets: targets, b: 2, t: 80, dump: &dump)
        let fused = try model.nll(inputs: inputs, targets: targets, b: 2, t: 80, dump: nil)
        return (staged, fused)
    }

    func assertSameBits(_ a: [Float], _ b: [Float], _ what: String) {
        XCTAssertEqual(a.count, b.count, what)
        XCTAssertFalse(a.contains { !$0.isFinite }, what)
        let differing = zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count
        XCTAssertEqual(differing, 0, "\(what): \(differing) of \(a.count) tokens differ between the staged and fused block")
    }

    func testFusedBlockGivesTheStagedBlocksBitsInEveryMath() throws {
        let w = weights()
        for math in [GPUMath.f32, .tf32, .split] {
            let (staged, fused) = try bothWays(try CUDAModel(parameters: .f32(w), ordinal: 0, math: math))
            assertSameBits(staged, fused, "f32 weights, \(math)")
        }
        let fusedAttention = try CUDAModel(parameters: ModelWeights.f32(w).at(.bf16), ordinal: 0)
        XCTAssertTrue(fusedAttention.info.attention?.hasPrefix("fused") == true, fusedAttention.info.attention ?? "nil")
        let (s1, f1) = try bothWays(fusedAttention)
        assertSameBits(s1, f1, "bf16, fused attention")
        setenv("GPT2LAB_CUDA_ATTENTION", "products", 1)
        let (s2, f2) = try bothWays(try CUDAModel(parameters: ModelWeights.f32(w).at(.bf16), ordinal: 0))
        assertSameBits(s2, f2, "bf16, attention products")
    }

    /// score --profile on the GPU: each stage charged to its class once per block, the products' FLOPs those of
    /// the shapes (2·rows·k·out, attention over the causal triangle as the CPU counts it), and the same bits.
    func testProfileChargesEveryStageOnce() throws {
        let w = weights()
        let model = try CUDAModel(parameters: .f32(w), ordinal: 0, math: .f32)
        var rng = SplitMix64(seed: 5)
        let ids = (0..<161).map { _ in Int32(rng.next() % 97) }
        let inputs = Array(ids[0..<160]), targets = Array(ids[1..<161])
        let plain = try model.nll(inputs: inputs, targets: targets, b: 2, t: 80, dump: nil)
        XCTAssertTrue(KernelProfile.stop().isEmpty, "a forward without --profile added to the profile")
        KernelProfile.start()
        let profiled = try model.nll(inputs: inputs, targets: targets, b: 2, t: 80, dump: nil)
        let totals = KernelProfile.stop()
        assertSameBits(plain, profiled, "profiled forward")
        let (L, n, C, F, V, t) = (2.0, 160.0, 128.0, 512.0, 97.0, 80.0)
        let expected: [KernelClass: (calls: Int, flops: Double)] = [
            .matmul: (8, L * 2 * n * (3 * C * C + C * C + 2 * C * F)),
            .attention: (2, L * 2 * 2 * 2 * t * (t + 1) / 2 * C),
            .lmHeadLoss: (1, 2 * n * C * V),
            .layerNorm: (5, 0), .gelu: (2, 0), .residual: (4, 0), .embedding: (1, 0)]
        for (k, e) in expected {
            let got = totals[k] ?? KernelTotals()
            XCTAssertEqual(got.calls, e.calls, "\(k) calls")
            XCTAssertEqual(got.flops, e.flops, "\(k) FLOPs")
            XCTAssertGreaterThanOrEqual(got.seconds, 0, "\(k) seconds")
        }
        XCTAssertGreaterThan(totals.values.map(\.seconds).reduce(0, +), 0)
    }
}
