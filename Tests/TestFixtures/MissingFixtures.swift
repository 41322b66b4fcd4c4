// What a test does when ../shared/fixtures (the reference values from HF transformers, PyTorch, numpy and
// tiktoken) is not beside the package: skip and say so on a developer's machine, but fail in CI
// (CI=true), where the fixtures are always laid out, so that a missing copy can never pass as green.

import Foundation
import XCTest

/// The error a test throws when a shared fixture is missing: an `XCTSkip` with `message`, or with
/// `CI=true` in the environment an error that fails the test.
public func missingFixtures(_ message: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> any Error {
    environment["CI"] == "true" ? FixturesMissingInCI(message: message) : XCTSkip(message)
}

/// A shared fixture missing where CI must have it.
public struct FixturesMissingInCI: Error, CustomStringConvertible {
    public let message: String
    public var description: String { "CI=true but \(message): the oracle tests cannot run" }
}
