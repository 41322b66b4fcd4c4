import CCUDAEmulator
import Foundation
import XCTest
@testable import Analysis
@testable import Engine

/// `--device auto` on the emulated device (Analysis/Scoring/ScoreCheckpoint.swift, openOnDevice): a GPU that works
/// takes the model; a GPU that is there but cannot take it (here: every allocation fails) stops the run with its
/// reason, in the scoring forward and the Hessian's gradient alike, instead of falling back to a silent CPU run.
/// (Without a GPU at all, auto scores on the CPU: CLITests/CUDACLITests.)
final class EmulatedAutoDeviceTests: XCTestCase {
    override class func setUp() {
        startEmulatedGPU()
    }

    override func tearDown() { gl_cuda_emulated_fail_allocs(0) }

    let weights = GPT2Weights.random(config: GPT2Config(vocabSize: 300, contextLength: 64, nEmbd: 128, nLayer: 1, nHead: 2),
                                     tied: true, biases: true, seed: 5)

    func testAutoTakesAGPUThatWorks() throws {
        XCTAssertNil(try openDevice(.cpu, parameters: .f32(weights)))
        XCTAssertEqual(try XCTUnwrap(try openDevice(.auto, parameters: .f32(weights))).info.ordinal, 0)
        XCTAssertNil(try openGradientDevice(.cpu, weights: weights))
        XCTAssertNotNil(try openGradientDevice(.auto, weights: weights))
    }

    func testAutoStopsWhenTheGPUThereCannotBeUsed() throws {
        gl_cuda_emulated_fail_allocs(1)
        let opens: [(String, () throws -> Void)] = [
            ("forward", { _ = try openDevice(.auto, parameters: .f32(self.weights)) }),
            ("gradient", { _ = try openGradientDevice(.auto, weights: self.weights) }),
        ]
        for (what, open) in opens {
            XCTAssertThrowsError(try open(), what) { e in
                let text = "\(e)"
                XCTAssertTrue(text.hasPrefix("--device auto: GPU 0 is there but cannot be used: "), "\(what): \(text)")
                XCTAssertEqual(text.components(separatedBy: "--device cpu runs on the CPU").count, 2, "\(what), said once: \(text)")
                XCTAssertFalse(text.contains("\n"), "\(what): one line: \(text)")
                print("auto, \(what): \(text)")
            }
        }
        XCTAssertThrowsError(try openDevice(.cuda(0), parameters: .f32(weights))) { e in
            XCTAssertFalse("\(e)".contains("--device auto"), "\(e)")
        }
    }
}
