import Checkpoints
import Foundation
import Plumbing
import XCTest

/// A checkpoint's identity (Store.swift, checkpointContentHash) covers every file its loader reads: a changed
/// weight in any of them gives a new hash, so the score cache and shard merges never take one checkpoint's
/// scores for another's.
final class ContentHashTests: XCTestCase {
    func write(_ text: String, _ path: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }

    func testSingleFileHashesAsItsBytes() throws {
        let dir = try tempDir(self), f = dir + "/model.safetensors"
        try write("weights", f)
        XCTAssertEqual(try checkpointContentHash(path: f), try fileContentHash(path: f))
    }

    /// A sharded folder: the folder and its index hash alike, and a changed shard changes both.
    func testShardedFolderAndIndex() throws {
        let dir = try tempDir(self)
        try write("{}", dir + "/model.safetensors.index.json")
        try write("a", dir + "/model-00001-of-00001.safetensors")
        let folder = try checkpointContentHash(path: dir)
        XCTAssertEqual(folder, try checkpointContentHash(path: dir + "/model.safetensors.index.json"))
        try write("b", dir + "/model-00001-of-00001.safetensors")
        XCTAssertNotEqual(try checkpointContentHash(path: dir), folder)
        XCTAssertEqual(try checkpointContentHash(path: dir), try checkpointContentHash(path: dir + "/model.safetensors.index.json"))
    }

    /// HF folders whose weights are a pytorch_model.bin or a tf_model.h5: the weights file is in the hash
    /// (it was not: only .safetensors and .json files were), and so is config.json.
    func testFolderWithTorchOrHDF5WeightsHashesThem() throws {
        for name in ["pytorch_model.bin", "tf_model.h5"] {
            let dir = try tempDir(self)
            try write("{\"n_head\": 4}", dir + "/config.json")
            try write("weights one", dir + "/" + name)
            let one = try checkpointContentHash(path: dir)
            try write("weights two", dir + "/" + name)
            let two = try checkpointContentHash(path: dir)
            XCTAssertNotEqual(one, two, "\(name): changed weights, same hash")
            try write("{\"n_head\": 8}", dir + "/config.json")
            let three = try checkpointContentHash(path: dir)
            XCTAssertNotEqual(three, two, "\(name): changed config.json, same hash")
            try write("notes", dir + "/README.md")
            try write("optimizer state", dir + "/optimizer.pt")
            XCTAssertEqual(try checkpointContentHash(path: dir), three, "\(name): files the loader does not read are not in it")
        }
    }

    func testFolderWithoutACheckpointIsRefused() throws {
        let dir = try tempDir(self)
        try write("{}", dir + "/config.json")
        XCTAssertThrowsError(try checkpointContentHash(path: dir)) { e in
            XCTAssertTrue("\(e.localizedDescription)".contains(dir), "\(e)")
        }
    }
}
