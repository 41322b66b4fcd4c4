import Checkpoints
import Engine
import Foundation
import TestSets
import TestFixtures
import XCTest
@testable import Analysis

/// `--precision bf16` scores each fixture as PyTorch does under the same rounding
/// (tests/reference/bf16_reference.py → Fixtures/bf16-reference.json: bf16-rounded weights and
/// product inputs, f32 sums, everything else f32), and within 1e-3 of f32 on the trained runs.
final class BF16Tests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/fixtures").standardized
    static let reference = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/bf16-reference.json")

    func testBF16LossesMatchPyTorchsRounding() throws {
        let bin = Self.fixtures.appendingPathComponent("data/test-persuasion.bin").path
        guard FileManager.default.fileExists(atPath: bin) else { throw missingFixtures("../shared/fixtures not found at \(Self.fixtures.path)") }
        let toks = try loadTokenIDs(path: bin)
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: Self.reference)) as? [String: Any])
        let refs = try XCTUnwrap(root["checkpoints"] as? [String: [String: Any]])
        XCTAssertEqual(refs.count, 3)
        for (file, ref) in refs.sorted(by: { $0.key < $1.key }) {
            let path = Self.fixtures.appendingPathComponent(file).path
            let wantF32 = try XCTUnwrap(ref["loss_f32"] as? Double), wantBF16 = try XCTUnwrap(ref["loss_bf16"] as? Double)
            let ck = try loadCheckpoint(path: path, precision: .bf16)
            XCTAssertEqual(ck.parameters.precision, .bf16)
            let (r, _, _) = try scoreCheckpoint(ck, tokens: toks, testSetPath: bin, threads: 2)
            XCTAssertEqual(r.precision, "bf16")
            XCTAssertEqual(r.tokensScored, ref["tokens_scored"] as? Int, file)
            XCTAssertEqual(r.loss, wantBF16, accuracy: 1e-4, "\(file): bf16 against PyTorch's bf16 rounding")
            let f32 = try scoreCheckpoint(try loadCheckpoint(path: path), tokens: toks, testSetPath: bin, threads: 2).0
            XCTAssertEqual(f32.precision, "f32")
            XCTAssertEqual(f32.loss, wantF32, accuracy: 2e-4, "\(file): f32")
            // The bound, on the trained runs. tinyb-llmc is a fixture with fp32 weights
            // and a loss of 31 nats: rounding its weights alone moves the loss 2.8e-3 in PyTorch too
            // (formats/expected.json, tinyb-llmc-bf16.bin), so there it is held to the reference only.
            if file.hasPrefix("runs/") { XCTAssertEqual(r.loss, f32.loss, accuracy: 1e-3, "\(file): bf16 against f32") }
            print("\(file): bf16 \(r.loss) (PyTorch \(wantBF16)), f32 \(f32.loss), |bf16 - f32| \(abs(r.loss - f32.loss))")
        }
    }

    func testBF16HalvesTheMatrices() throws {
        let path = Self.fixtures.appendingPathComponent("formats/tinyb-llmc.bin").path
        guard FileManager.default.fileExists(atPath: path) else { throw missingFixtures("../shared/fixtures not found") }
        let f32 = try loadCheckpoint(path: path), bf16 = try loadCheckpoint(path: path, precision: .bf16)
        XCTAssertEqual(f32.parameters.parameterCount, bf16.parameters.parameterCount)
        // Each tensor reads back as its bf16 rounding: equal to f32's where exactly representable.
        for id in f32.parameters.parameterTensors {
            let a = f32.parameters.tensor(id), b = bf16.parameters.tensor(id)
            XCTAssertEqual(a.count, b.count)
            let half = BF16Weights.isHalf(id.kind)
            for i in stride(from: 0, to: a.count, by: max(1, a.count / 97)) {
                if half {
                    XCTAssertLessThanOrEqual(abs(a[i] - b[i]), abs(a[i]) * 0x1p-8, "\(id) [\(i)]")
                    XCTAssertEqual(b[i].bitPattern & 0xFFFF, 0, "\(id) [\(i)] is not a bf16 value")
                } else {
                    XCTAssertEqual(a[i], b[i], "\(id) [\(i)] should stay f32")
                }
            }
        }
    }
}
