import Foundation
import XCTest
@testable import Checkpoints

/// The hash a score is stored under names the bytes loaded: a checkpoint replaced (renamed over) or rewritten
/// between the hash and the end of loading is refused (a report stored one checkpoint's score under another's
/// hash, and two shards of a part set came from two checkpoints, with exit 0).
final class StampTests: XCTestCase {
    func folder() throws -> URL {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("gpt2lab-stamps-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func testReplacedOrRewrittenWhileLoadingIsRefused() throws {
        let dir = try folder()
        let ck = dir.appendingPathComponent("model.safetensors"), next = dir.appendingPathComponent("next.safetensors")
        try Data("first".utf8).write(to: ck)
        let (hash, value) = try hashedCheckpoint(path: ck.path) { 7 }
        XCTAssertEqual(value, 7)
        XCTAssertEqual(hash, try checkpointContentHash(path: ck.path))
        // A training job saves its next checkpoint over the file (write a temporary, rename it over).
        XCTAssertThrowsError(try hashedCheckpoint(path: ck.path) { () -> Int in
            try Data("second".utf8).write(to: next)
            XCTAssertEqual(rename(next.path, ck.path), 0)
            return 0
        }) { XCTAssertTrue("\($0)".contains("changed while gpt2lab was reading it"), "\($0)") }
        // Rewritten in place, same size.
        let stamp = try checkpointStamp(path: ck.path)
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: ck.path))
        try h.write(contentsOf: Data("SECOND".utf8)); try h.close()
        // Whatever the clock's resolution, the modification time moves (a write sets it; here it is set apart).
        var times = [timespec(tv_sec: 12_345, tv_nsec: 0), timespec(tv_sec: 12_345, tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, ck.path, &times, 0)
        XCTAssertThrowsError(try checkCheckpointUnchanged(path: ck.path, since: stamp))
    }

    func testAFolderIsStampedAsTheFilesItsHashReads() throws {
        let dir = try folder()
        try Data("{}".utf8).write(to: dir.appendingPathComponent("config.json"))
        try Data("weights".utf8).write(to: dir.appendingPathComponent("model.safetensors"))
        let stamp = try checkpointStamp(path: dir.path)
        XCTAssertNoThrow(try checkCheckpointUnchanged(path: dir.path, since: stamp))
        try Data("{\"n_layer\": 2}".utf8).write(to: dir.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try checkCheckpointUnchanged(path: dir.path, since: stamp), "config.json is part of the hash")
    }
}
