import Engine
import Foundation
import TestFixtures
import XCTest

/// ../shared/fixtures relative to the package root.
func fixtures() throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let dir = root.deletingLastPathComponent().appendingPathComponent("shared/fixtures").path
    guard FileManager.default.fileExists(atPath: dir) else { throw missingFixtures("../shared/fixtures not found") }
    return dir
}

func expectedJSON(_ path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// A fresh temporary directory, removed at the end of the test.
func tempDir(_ test: XCTestCase) throws -> String {
    let dir = NSTemporaryDirectory() + "gpt2lab-ckpt-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
    return dir
}

/// Asserts `body` throws an error whose one-line description names `file`.
func assertFails(_ file: String, containing words: [String] = [], line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error for \(file)", line: line)
    } catch {
        let message = (error as? LocalizedError)?.errorDescription ?? "\(error)"
        XCTAssertTrue(message.contains(file), "message does not name the file: \(message)", line: line)
        XCTAssertFalse(message.contains("\n"), "message is not one line: \(message)", line: line)
        for w in words { XCTAssertTrue(message.contains(w), "message lacks '\(w)': \(message)", line: line) }
    }
}
