import CCUDA
import CCUDAEmulator
import Foundation
import XCTest
@testable import Engine

/// The self-check a GPU passes before it scores (Engine/CUDA/CUDASelfCheck.swift), on the emulated device: a sound
/// device passes in every precision and math with room to spare, and a device that drops one term of the forward
/// (a bias, a LayerNorm gain, the position embedding) fails it in every precision and math.
final class EmulatedSelfCheckTests: XCTestCase {
    override class func setUp() {
        startEmulatedGPU()
    }

    override func tearDown() { unsetenv("GPT2LAB_CUDA_ATTENTION") }

    /// (precision, math, forced attention path) of every configuration a user can score in.
    let configurations: [(Precision, GPUMath, String?)] = [
        (.f32, .f32, nil), (.f32, .split, nil), (.f32, .tf32, nil), (.bf16, .split, nil), (.bf16, .split, "products"),
    ]

    /// A user's model: GPT-2 small's head width, tied or not.
    func like(_ precision: Precision, tied: Bool) -> ModelWeights {
        let config = GPT2Config(vocabSize: 300, contextLength: 64, nEmbd: 128, nLayer: 1, nHead: 2)
        return ModelWeights.f32(GPT2Weights.random(config: config, tied: tied, biases: true, seed: 3)).at(precision)
    }

    func testASoundDevicePassesWithRoomToSpare() throws {
        for (precision, math, attention) in configurations {
            if let attention { setenv("GPT2LAB_CUDA_ATTENTION", attention, 1) } else { unsetenv("GPT2LAB_CUDA_ATTENTION") }
            for tied in [true, false] {
                let w = selfCheckWeights(headSize: 64, tied: tied, precision: precision)
                let d = try CUDAModel.selfCheckDifference(gpu: w, cpu: w, ordinal: 0, math: math)
                let tol = selfCheckTolerance(precision: precision, math: precision == .bf16 ? nil : math)
                print("self-check \(precision) \(math) \(attention ?? "") tied=\(tied): \(d), allowed \(tol)")
                XCTAssertLessThanOrEqual(d.mean, tol.mean / 3, "\(precision) \(math) \(attention ?? "") tied=\(tied): mean")
                XCTAssertLessThanOrEqual(d.largest, tol.largest / 5, "\(precision) \(math) \(attention ?? "") tied=\(tied): largest")
                // and the public path opens the device
                XCTAssertNoThrow(try CUDAModel(parameters: like(precision, tied: tied), ordinal: 0, math: math))
            }
        }
    }

    func testADeviceThatDropsATermFails() throws {
        let f32 = selfCheckWeights(headSize: 64, tied: true, precision: .f32).f32!
        let defects: [(String, TensorID, (Int) -> Float)] = [
            ("qkv bias of block 1", TensorID(.qkvb, layer: 1), { _ in 0 }),
            ("attention projection bias of block 0", TensorID(.attprojb, layer: 0), { _ in 0 }),
            ("fc bias of block 1", TensorID(.fcb, layer: 1), { _ in 0 }),
            ("fc projection bias of block 0", TensorID(.fcprojb, layer: 0), { _ in 0 }),
            ("ln_2 gain of block 1", TensorID(.ln2w, layer: 1), { _ in 1 }),
            ("final LayerNorm bias", TensorID(.lnfb), { _ in 0 }),
            ("position embedding", TensorID(.wpe), { _ in 0 }),
        ]
        for (precision, math, attention) in configurations {
            if let attention { setenv("GPT2LAB_CUDA_ATTENTION", attention, 1) } else { unsetenv("GPT2LAB_CUDA_ATTENTION") }
            let sound = ModelWeights.f32(f32).at(precision)
            let tol = selfCheckTolerance(precision: precision, math: precision == .bf16 ? nil : math)
            for (what, id, value) in defects {
                var broken = f32
                broken.set(id, (0..<broken.layout.size(id)).map(value))
                let d = try CUDAModel.selfCheckDifference(gpu: ModelWeights.f32(broken).at(precision), cpu: sound, ordinal: 0, math: math)
                XCTAssertGreaterThan(d.mean, 2 * tol.mean, "\(precision) \(math) \(attention ?? ""): a device without the \(what) passed")
                print("self-check \(precision) \(math) \(attention ?? ""), no \(what): \(d) (allowed \(tol))")
            }
        }
    }

    /// The Hessian's gradient on the device (CUDAGradient) against the CPU engine's backward: a sound device passes
    /// tied and untied, and one that drops a bias or a gain fails.
    func testTheGradientCheckPassesASoundDeviceAndFailsADefect() throws {
        for tied in [true, false] {
            let w = selfCheckWeights(headSize: 64, tied: tied, precision: .f32).f32!
            let d = try CUDAGradient.selfCheckDifference(gpu: w, cpu: w, ordinal: 0)
            print("gradient self-check tied=\(tied): \(d), allowed \(gradientCheckTolerance)")
            XCTAssertLessThanOrEqual(d.loss, gradientCheckTolerance.loss / 5, "tied=\(tied): loss")
            XCTAssertLessThanOrEqual(d.gradient, gradientCheckTolerance.gradient / 5, "tied=\(tied): gradient")
            XCTAssertNoThrow(try CUDAGradient(weights: like(.f32, tied: tied).f32!, ordinal: 0))
            for (what, id, value) in [("fc bias of block 1", TensorID(.fcb, layer: 1), Float(0)), ("ln_2 gain of block 1", TensorID(.ln2w, layer: 1), 1)] {
                var broken = w
                broken.set(id, [Float](repeating: value, count: broken.layout.size(id)))
                let e = try CUDAGradient.selfCheckDifference(gpu: broken, cpu: w, ordinal: 0)
                print("gradient self-check tied=\(tied), no \(what): \(e)")
                XCTAssertTrue(e.loss > 10 * gradientCheckTolerance.loss && e.gradient > 10 * gradientCheckTolerance.gradient,
                              "tied=\(tied): a device without the \(what) passed: \(e)")
            }
        }
    }

    /// doctor's lines: every precision and math and the gradient, each with its numbers, all passed here.
    func testDoctorsLinesNameEveryCheckAndItsVerdict() {
        let lines = cudaSelfCheckLines(ordinal: 0)
        print(lines.joined(separator: "\n"))
        XCTAssertEqual(lines.map { String($0.prefix { $0 != " " }) }, ["3xtf32", "f32", "tf32", "bf16", "gradient:"])
        for line in lines { XCTAssertTrue(line.hasSuffix(": passed") && line.contains("rounding allows"), line) }
    }
}
