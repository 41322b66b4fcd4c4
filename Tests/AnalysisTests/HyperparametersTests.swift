import Checkpoints
import Foundation
import XCTest
@testable import Analysis

/// What a checkpoint records fills only the gaps the manifest and meta file left, through the same rule.
final class HyperparametersTests: XCTestCase {
    func training(_ json: String) throws -> TrainingInfo { try JSONDecoder().decode(TrainingInfo.self, from: Data(json.utf8)) }

    func testCheckpointFillsOnlyTheGaps() throws {
        var given = Hyperparameters()
        given.lr = 1e-3; given.source = "manifest"
        let t = try training(#"{"iter_num": 2286, "learning_rate": 4e-4, "weight_decay": 0.1, "avg_effective_lr": 2.5e-5}"#)
        let h = withTraining(given, t)
        XCTAssertEqual(h.lr, 1e-3, "the manifest's value wins")
        XCTAssertEqual(h.weightDecay, 0.1)
        XCTAssertEqual(h.steps, 2286)
        XCTAssertEqual(h.avgEffectiveLR, 2.5e-5)
        XCTAssertEqual(h.source, "manifest+checkpoint")
        // iter_num 0 is no step count; with nothing else to take, the source names no checkpoint.
        var full = given
        full.weightDecay = 0.01
        let zero = withTraining(full, try training(#"{"iter_num": 0, "learning_rate": 4e-4}"#))
        XCTAssertNil(zero.steps)
        XCTAssertEqual(zero.source, "manifest")
        XCTAssertEqual(withTraining(given, nil), given)
    }
}
