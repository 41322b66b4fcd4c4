import TestFixtures
import XCTest

/// Oracle tests skip without ../shared/fixtures on a developer's machine, and fail in CI.
final class MissingFixturesTests: XCTestCase {
    func testMissingFixturesSkipLocallyAndFailInCI() {
        XCTAssertTrue(missingFixtures("x not found", environment: [:]) is XCTSkip)
        XCTAssertTrue(missingFixtures("x not found", environment: ["CI": "false"]) is XCTSkip)
        let ci = missingFixtures("x not found", environment: ["CI": "true"])
        XCTAssertFalse(ci is XCTSkip)
        XCTAssertTrue("\(ci)".contains("x not found"))
    }
}
