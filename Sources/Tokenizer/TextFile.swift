import Foundation
import Plumbing

/// A tokenized text test set.
public struct EncodedText: Sendable {
    /// Token ids, 50256 after each document.
    public let ids: [Int32]
    /// UTF-8 bytes of the text, not counting the `<|endoftext|>` markers (the denominator of bits per byte).
    public let utf8Bytes: Int

    public init(ids: [Int32], utf8Bytes: Int) {
        self.ids = ids
        self.utf8Bytes = utf8Bytes
    }
}

/// Tokenizes a text test set.
///
/// - `.txt`: UTF-8 text. Every literal `<|endoftext|>` becomes id 50256, so a file whose documents are each
///   terminated by the marker (like `test-persuasion.txt`) gives the same ids as encoding the documents
///   separately and appending 50256 to each (nanoGPT's `.bin` format).
/// - `.jsonl`: one JSON object per line with a string field `"text"`; blank lines are skipped. Each document is
///   encoded on its own as ordinary text (a literal `<|endoftext|>` inside a document stays text) and followed by
///   50256 — including the last, matching the `.txt` convention above.
///
/// `utf8Bytes` excludes the markers in both cases. Throws `TokenizerError` naming the file and the problem:
/// invalid UTF-8 (with its byte offset), bad JSON or a missing `"text"` (with the line number).
public func encodeTextFile(path: String, tokenizer: GPT2Tokenizer) throws -> EncodedText {
    let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
    guard ext == "txt" || ext == "jsonl" else {
        throw TokenizerError(path: path, problem: .unsupportedExtension(ext))
    }
    let bytes: [UInt8]
    switch readInputFile(path, streams: true) {
    case let .success(data): bytes = [UInt8](data)
    case let .failure(problem): throw TokenizerError(path: path, problem: .unreadable(reason: problem.text))
    }
    if let offset = firstInvalidUTF8Offset(bytes) {
        throw TokenizerError(path: path, problem: .invalidUTF8(byteOffset: offset))
    }
    return ext == "txt"
        ? encodeText(bytes, tokenizer: tokenizer)
        : try encodeJSONLines(bytes, path: path, tokenizer: tokenizer)
}

private func encodeText(_ bytes: [UInt8], tokenizer: GPT2Tokenizer) -> EncodedText {
    let ids = tokenizer.encode(bytes: bytes, allowEndOfText: true)
    let markers = ids.lazy.filter { $0 == GPT2Tokenizer.endOfText }.count
    return EncodedText(ids: ids, utf8Bytes: bytes.count - markers * GPT2Tokenizer.endOfTextLiteral.utf8.count)
}

private func encodeJSONLines(_ bytes: [UInt8], path: String, tokenizer: GPT2Tokenizer) throws -> EncodedText {
    var ids: [Int32] = []
    var utf8Bytes = 0
    do {
        try forEachJSONObjectLine(bytes) { line, object in
            guard let text = object["text"] as? String else {
                throw TokenizerError(path: path, problem: .missingTextField(line: line))
            }
            ids += tokenizer.encode(text, allowEndOfText: false)
            ids.append(GPT2Tokenizer.endOfText)
            utf8Bytes += text.utf8.count
        }
    } catch let p as JSONLineProblem {
        throw TokenizerError(path: path, problem: .badJSON(line: p.line, reason: p.reason))
    }
    return EncodedText(ids: ids, utf8Bytes: utf8Bytes)
}

/// Offset of the first byte that does not start a well-formed UTF-8 sequence, or nil if all of it is valid.
public func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
    bytes.withUnsafeBufferPointer { p in
        var i = 0
        let n = p.count
        while i < n {
            if p[i] < 0x80 { i += 1; continue }
            guard let (_, length) = PreTokenizer.decodeScalar(p, i, n) else { return i }
            i += length
        }
        return nil
    }
}
