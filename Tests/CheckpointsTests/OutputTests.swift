import Checkpoints
import Foundation
import XCTest

/// Outputs appear whole or not at all; what a killed writer leaves behind is hidden and is
/// removed by the next write of the same file.
final class OutputTests: XCTestCase {
    /// The pid of a process that has exited.
    func deadPID() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run(); p.waitUntilExit()
        return p.processIdentifier
    }

    func testStaleTemporariesRemovedLiveOnesKept() throws {
        let dir = try tempDir(self), path = dir + "/part.json"
        try writeAtomically(Data("old".utf8), to: path)
        let dead = try deadPID()
        let stale = dir + "/.part.json.tmp-\(dead)-12345", live = dir + "/.part.json.tmp-\(getppid())-1", other = dir + "/.other.json.tmp-\(dead)-1"
        for f in [stale, live, other] { try Data("half".utf8).write(to: URL(fileURLWithPath: f)) }
        XCTAssertTrue(temporaryName(for: path).hasPrefix(dir + "/.part.json.tmp-\(getpid())-"))
        try writeAtomically(Data("new".utf8), to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "new")
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
        XCTAssertTrue(FileManager.default.fileExists(atPath: live))     // its writer (our parent) still runs
        XCTAssertTrue(FileManager.default.fileExists(atPath: other))    // another file's temporary
    }

    func testSafetensorsWriterLeavesNoTemporary() throws {
        let dir = try tempDir(self), path = dir + "/t.safetensors"
        try writeSafetensors(path: path, tensors: [TensorToWrite(name: "a", shape: [2], values: [1, 2])])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["t.safetensors"])
        XCTAssertEqual(try SafetensorsFile(path: path).floats("a"), [1, 2])
    }
}
