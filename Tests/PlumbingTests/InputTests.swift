import Foundation
import Plumbing
import XCTest

/// Input problems name their cause: a read error is the system's own text, not Foundation's generic
/// "The operation could not be completed. (NSCocoaErrorDomain error 256.)".
final class InputTests: XCTestCase {
    func testReadErrorIsTheSystemsText() throws {
        // /proc/self/mem is a regular file whose read at offset 0 fails with EIO (the zero page is unmapped).
        let mem = "/proc/self/mem"
        guard FileManager.default.fileExists(atPath: mem) else { throw XCTSkip("no /proc here") }
        guard case let .failure(problem) = readInputFile(mem) else { return XCTFail("reading \(mem) succeeded") }
        XCTAssertEqual(problem, .unreadable("Input/output error"))
        XCTAssertThrowsError(try Data(contentsOf: URL(fileURLWithPath: mem))) { e in
            XCTAssertEqual(ioReason(e), "Input/output error")
        }
        XCTAssertEqual(ioReason(NSError(domain: NSPOSIXErrorDomain, code: Int(EACCES))), "Permission denied")
    }
}
