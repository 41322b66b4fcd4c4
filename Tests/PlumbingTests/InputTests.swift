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

/// Error lines stay one printable line whatever a file put in them.
final class OneLineTests: XCTestCase {
    func testControlCharactersAreEscapedAndLongMessagesCut() {
        XCTAssertEqual(oneLine("unexpected tensor(s) transformer.h.0.attn\n.extra"), "unexpected tensor(s) transformer.h.0.attn\\n.extra")
        XCTAssertEqual(oneLine("a\u{0}b\tc\r\u{1b}[2Kd\u{2028}é"), "a\\u{0}b\\tc\\r\\u{1b}[2Kd\\u{2028}é")
        let long = oneLine(String(repeating: "x", count: 5000))
        XCTAssertEqual(long.count, 1000)
        XCTAssertTrue(long.hasSuffix("…"))
        XCTAssertEqual(oneLine("plain"), "plain")
    }
}

/// Whole numbers as the report prints them: grouped, and past what an Int holds in scientific notation (a report on a
/// checkpoint with one weight of 1.8e37 trapped converting ‖θ‖² to Int).
final class GroupedThousandsTests: XCTestCase {
    func testGroupingAndHugeValues() {
        XCTAssertEqual(groupedThousands(1_234_567), "1,234,567")
        XCTAssertEqual(groupedThousands(-1_234), "-1,234")
        XCTAssertEqual(groupedThousands(rounding: 25_000.4), "25,000")
        XCTAssertEqual(groupedThousands(rounding: 3.24e74), "3.24e+74")
        XCTAssertEqual(groupedThousands(rounding: .infinity), "inf")
        XCTAssertEqual(groupedThousands(rounding: .nan), "nan")
    }
}
