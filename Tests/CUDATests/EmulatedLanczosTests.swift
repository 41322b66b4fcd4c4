import CCUDA
import CCUDAEmulator
import Engine
import Foundation
import XCTest
@testable import Analysis

/// Lanczos with its basis in the GPU's memory (Analysis/Hessian/Krylov.swift's CUDAKrylov, Engine's CUDAVectors)
/// on the emulated device: the same run as with the basis on the host, over the same products, and the CPU
/// engine's eigenvalues; the basis goes to the host when the device has no room, and a run that fits nowhere is
/// refused naming both memories.
final class EmulatedLanczosTests: XCTestCase {
    override class func setUp() {
        startEmulatedGPU()
    }

    override func tearDown() { gl_cuda_emulated_set_free_bytes(0) }

    func gaussianStart(_ op: GPT2LossHessian, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        var v = [Float](repeating: 0, count: op.dimension)
        for b in op.blocks { for i in b.range { v[i] = Float(rng.nextGaussian()) } }
        return v
    }

    /// The same start, 10 steps, in three places: the basis on the device and on the host over the GPU's products
    /// agree to rounding (α, β, the top two Ritz values and their vectors); against the CPU engine's products the
    /// top eigenvalue agrees within 1e-3.
    func testTopEigenvaluesWithTheBasisOnTheDevice() throws {
        let (_, gpu, cpu) = try EmulatedHessianTests.smallOperators()
        gpu.relativeStep = defaultEigenRelativeStep
        cpu.relativeStep = defaultEigenRelativeStep
        let start = gaussianStart(gpu, seed: 21)
        let space = try gpu.krylovSpace(steps: 10)
        let device = try XCTUnwrap(space as? CUDAKrylov, "the basis fits in the emulated device's 16 GiB")
        func top<S: KrylovSpace>(_ s: S) throws -> EigenEstimate {
            try topEigenvalues(in: s, count: 2, start: start, steps: 10, maxSteps: 10, tol: 1e-12, keepVectors: true, progress: nil)
        }
        let d = try top(device), h = try top(HostKrylov(gpu)), c = try top(HostKrylov(cpu))
        XCTAssertEqual(d.steps, 10)
        XCTAssertEqual(h.steps, 10)
        let runD = try lanczosRun(in: device, start: start, steps: 10, stop: nil)
        let runH = try lanczosRun(in: HostKrylov(gpu), start: start, steps: 10, stop: nil)
        // Both bases round differently (tiled double dots and the device's axpby against OpenBLAS), and at δ = 1e-6
        // each product carries rounding noise of ~1e-5 of the spectrum's scale (measured: at most 3.6e-4 apart on a
        // scale of 45), so T's entries agree to 1e-3 of the largest, where a wrong recurrence is off by O(1).
        let scale = runH.alphas.map(abs).max() ?? 1
        for (a, b) in zip(runD.alphas + runD.betas, runH.alphas + runH.betas) {
            XCTAssertEqual(a, b, accuracy: 1e-3 * scale, "T's entries: device basis against host basis")
        }
        for k in 0..<2 {
            XCTAssertEqual(d.values[k], h.values[k], accuracy: 1e-5 * abs(h.values[k]))
            XCTAssertEqual(d.residuals[k], h.residuals[k], accuracy: 1e-3 * abs(h.values[k]))
            XCTAssertEqual(abs(dotD(d.vectors[k], h.vectors[k])), 1, accuracy: 1e-4, "the same Ritz vector")
        }
        XCTAssertEqual(d.values[0], c.values[0], accuracy: 1e-3 * abs(c.values[0]), "λ₁ against the CPU engine")
        print("emulated Lanczos: λ₁ device basis \(d.values[0]), host basis \(h.values[0]), CPU \(c.values[0])")
    }

    /// SLQ through `spectralDensity` with the GPU operator, the basis on the device and (no room there) on the host:
    /// the same nodes and weights to the products' rounding noise (see above), and every product counted. (Against the
    /// CPU engine's products, 6 unconverged steps at δ = 1e-6 follow each side's noise: λ₁'s test above compares
    /// converged values.)
    func testDensityWithTheBasisOnTheDevice() throws {
        let (_, gpu, _) = try EmulatedHessianTests.smallOperators()
        gpu.relativeStep = defaultEigenRelativeStep
        let options = DensityOptions(vectors: 1, steps: 6)
        XCTAssertTrue(try gpu.krylovSpace(steps: 6) is CUDAKrylov)
        var rd = SplitMix64(seed: 4), rh = SplitMix64(seed: 4)
        let d = try spectralDensity(gpu, options: options, rng: &rd)
        gl_cuda_emulated_set_free_bytes(1)
        XCTAssertTrue(try gpu.krylovSpace(steps: 6) is HostKrylov<GPT2LossHessian>)
        let h = try spectralDensity(gpu, options: options, rng: &rh)
        XCTAssertEqual(d.hvps, 6)
        XCTAssertGreaterThan(d.secondsHVP, 0)
        let dn = d.runs[0].nodes, hn = h.runs[0].nodes
        XCTAssertEqual(dn.count, 6)
        XCTAssertEqual(hn.count, 6)
        let scale = hn.map(abs).max() ?? 1
        for (a, b) in zip(dn, hn) { XCTAssertEqual(a, b, accuracy: 1e-3 * scale) }
        for (a, b) in zip(d.runs[0].weights, h.runs[0].weights) { XCTAssertEqual(a, b, accuracy: 1e-3) }
        print("emulated SLQ nodes: device basis \(dn), host basis \(hn)")
    }

    /// No room on the device: the basis goes to the host; no room on either: one refusal naming both.
    func testBasisWithoutRoomOnTheDevice() throws {
        let (_, gpu, _) = try EmulatedHessianTests.smallOperators()
        let need = lanczosBytes(steps: 10, dimension: gpu.dimension)
        gl_cuda_emulated_set_free_bytes(need + deviceMemoryMargin)
        XCTAssertTrue(try gpu.krylovSpace(steps: 10) is CUDAKrylov, "exactly enough")
        gl_cuda_emulated_set_free_bytes(need + deviceMemoryMargin - 1)
        XCTAssertTrue(try gpu.krylovSpace(steps: 10) is HostKrylov<GPT2LossHessian>, "one byte short: the host")
        XCTAssertThrowsError(try hostKrylov(gpu, steps: 10, available: need - 1, deviceFree: need - 1)) { e in
            XCTAssertEqual(e as? HessianError, .lanczosMemory(steps: 10, dimension: gpu.dimension, needed: need,
                                                              available: need - 1, device: need - 1))
            let text = (e as? HessianError)?.errorDescription ?? ""
            XCTAssertTrue(text.contains("on the GPU") && text.contains("at most 9 steps fit"), text)
        }
        XCTAssertNoThrow(try checkLanczosMemory(dimension: gpu.dimension, topK: 1, maxIterations: 10, density: nil,
                                                available: need - 1, deviceFree: need), "the GPU holds it")
    }
}
