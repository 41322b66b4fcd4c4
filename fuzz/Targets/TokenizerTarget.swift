// Target (d): GPT-2's tokenizer on arbitrary bytes. The first byte picks: encode the rest
// (with and without <|endoftext|> allowed) and decode it back, which must give the same
// bytes; decode the rest read as Int32 ids (any id, in the vocabulary or not); or run the
// rest through encodeTextFile as a .jsonl or .txt file.

import Foundation
import Tokenizer

private let tokenizer: GPT2Tokenizer? = try? GPT2Tokenizer.load()

public func fuzzTokenizer(_ input: UnsafeRawBufferPointer) -> String? {
    guard let tok = tokenizer else { return "cannot load the GPT-2 vocabulary" }
    var r = ByteReader(input)
    let mode = r.u8() % 4
    let body = r.rest()
    let bytes = [UInt8](body)
    switch mode {
    case 0:
        for allow in [false, true] {
            let ids = tok.encode(bytes: bytes, allowEndOfText: allow)
            if let bad = ids.first(where: { $0 < 0 || Int($0) >= tok.vocabularySize }) { return "encode gave id \(bad)" }
            guard tok.decode(ids) == bytes else { return "decode(encode(b)) != b (allowEndOfText \(allow))" }
        }
    case 1:
        let ids = (0..<(bytes.count / 4)).map { body.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self) }
        _ = tok.decodeText(ids)
        let valid = ids.filter { $0 >= 0 && Int($0) < tok.vocabularySize }
        guard tok.encode(bytes: tok.decode(valid), allowEndOfText: true).count <= tok.decode(valid).count else {
            return "re-encoding gave more ids than bytes"
        }
    case 2:
        let path = scratchFile("input.jsonl", body)
        if let e = try? encodeTextFile(path: path, tokenizer: tok) {
            let docs = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                .filter { !$0.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } }.count
            let markers = e.ids.filter { $0 == GPT2Tokenizer.endOfText }.count
            guard markers == docs, e.ids.last == GPT2Tokenizer.endOfText || docs == 0 else {
                return "\(docs) documents gave \(markers) <|endoftext|> markers"
            }
            guard e.utf8Bytes <= bytes.count * 3 else { return "utf8Bytes \(e.utf8Bytes) for \(bytes.count) bytes" }
        }
    default:
        let path = scratchFile("input.txt", body)
        if let e = try? encodeTextFile(path: path, tokenizer: tok) {
            guard tok.decode(e.ids) == bytes else { return ".txt ids do not decode to the file" }
            guard e.utf8Bytes >= 0, e.utf8Bytes <= bytes.count else { return "utf8Bytes \(e.utf8Bytes) of \(bytes.count)" }
        }
    }
    return nil
}
