import Checkpoints
import Foundation
import XCTest

final class WriterTests: XCTestCase {
    func testSafetensorsWriterLeavesNoTemporary() throws {
        let dir = try tempDir(self), path = dir + "/t.safetensors"
        try writeSafetensors(path: path, tensors: [TensorToWrite(name: "a", shape: [2], values: [1, 2])])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["t.safetensors"])
        XCTAssertEqual(try SafetensorsFile(path: path).floats("a"), [1, 2])
    }
}
