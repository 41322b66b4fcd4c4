// Typed errors for checkpoint reading. Every message is one line, "FILE: problem".

import Foundation
import Plumbing

/// A checkpoint (or tensor file) could not be read or mapped onto GPT-2.
public struct CheckpointError: Error, LocalizedError, Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case notFound, isDirectory, unreadable, truncated, badHeader, badDType
        /// No reader's signature matches (or the file is empty).
        case notACheckpoint
        case unknownLayout, missingTensors, unexpectedTensors, wrongShape, badConfig, hdf5
        /// A parameter holds NaN or ±Inf.
        case nonFinite
        /// A pickle names a global that is not allowed: refused, nothing run.
        case refused
    }
    /// The file the problem is in.
    public let file: String
    public let kind: Kind
    /// What is wrong, naming the key and expected vs found where there is one.
    public let problem: String

    public init(_ file: String, _ kind: Kind, _ problem: String) {
        self.file = file; self.kind = kind; self.problem = problem
    }

    public var errorDescription: String? { "\(file): \(problem)" }
}

/// Checks that `path` names an existing regular file (not a directory) and returns its size.
func regularFileSize(_ path: String) throws -> Int {
    switch inputFileSize(path) {
    case let .success(size): return size
    case let .failure(problem):
        let kind: CheckpointError.Kind = problem == .missing ? .notFound : problem == .directory ? .isDirectory : .unreadable
        throw CheckpointError(path, kind, problem.text)
    }
}

/// Shapes as "[a, b]" for messages.
func describe(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

/// At most `limit` names, then "… (N more)".
func listSome(_ names: [String], limit: Int = 8) -> String {
    let head = names.prefix(limit).joined(separator: ", ")
    return names.count > limit ? head + ", … (\(names.count - limit) more)" : head
}
