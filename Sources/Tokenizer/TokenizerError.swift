import Foundation

/// Everything that can go wrong while loading the vocabulary or reading a text file.
///
/// The message is one line that names the file and the problem, e.g.
/// `data/test.txt: invalid UTF-8 at byte offset 1234`.
public struct TokenizerError: Error, LocalizedError, Sendable, Equatable {
    public enum Problem: Sendable, Equatable {
        /// The bundled `gpt2.tiktoken` resource is not in the module bundle.
        case missingResource
        /// The file could not be read at all: why, as the second half of "PATH: …".
        case unreadable(reason: String)
        /// A line of a `.tiktoken` file is not `base64 rank`.
        case malformedRanks(line: Int, reason: String)
        /// The vocabulary file is not the pinned GPT-2 one.
        case checksumMismatch(expected: String, found: String)
        /// A text file is not valid UTF-8.
        case invalidUTF8(byteOffset: Int)
        /// A `.jsonl` line is not a JSON object.
        case badJSON(line: Int, reason: String)
        /// A `.jsonl` object has no string `"text"` field.
        case missingTextField(line: Int)
        /// Only `.txt` and `.jsonl` text files are understood.
        case unsupportedExtension(String)
    }

    /// The file the problem is in.
    public let path: String
    public let problem: Problem

    public init(path: String, problem: Problem) {
        self.path = path
        self.problem = problem
    }

    public var errorDescription: String? {
        switch problem {
        case .missingResource:
            return "\(path): GPT-2 vocabulary resource missing from the Tokenizer bundle"
        case .unreadable(let reason):
            return "\(path): \(reason)"
        case .malformedRanks(let line, let reason):
            return "\(path): line \(line): \(reason) (expected `base64-token rank`)"
        case .checksumMismatch(let expected, let found):
            return "\(path): SHA-256 is \(found), expected the GPT-2 vocabulary \(expected)"
        case .invalidUTF8(let offset):
            return "\(path): invalid UTF-8 at byte offset \(offset)"
        case .badJSON(let line, let reason):
            return "\(path): bad JSON on line \(line): \(reason)"
        case .missingTextField(let line):
            return "\(path): line \(line): missing string field \"text\""
        case .unsupportedExtension(let ext):
            return "\(path): unsupported text file extension '\(ext)' (expected .txt or .jsonl)"
        }
    }
}
