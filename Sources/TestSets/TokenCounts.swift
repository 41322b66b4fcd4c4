// How often each token id occurs in a token file: the frequencies `compare --frequencies` and the
// report's `frequencies` rank tokens by. The file is usually the runs' training data, billions of
// tokens, so nanoGPT's uint16 `.bin` is counted through a memory map as it is read, never held as
// ids (2 bytes a token of address space, nothing more); the other formats are read as a test set is
// (`loadTokenIDs`) and counted. Every id must be below the vocabulary: the first that is not is an
// error naming its position, as a test set's would be.

import Foundation

/// Occurrences of each id in 0..<vocabSize in the token file `path` (`dataset`: as `loadTokenIDs`).
public func countTokenIDs(path: String, dataset: String? = nil, vocabSize: Int) throws -> [Int] {
    guard (path as NSString).pathExtension.lowercased() == "bin" else {
        let ids = try loadTokenIDs(path: path, dataset: dataset).ids
        try validateTokenIDs(ids, vocabSize: vocabSize, path: path)
        return tokenCounts(ids, vocabSize: vocabSize)
    }
    try checkTokenFilePath(path)
    let data = try mappedUInt16Bin(path)
    guard data.count >= 4 else { throw TestSetError.tooShort(path: path, count: data.count / 2) }
    var counts = [Int](repeating: 0, count: max(vocabSize, 65536))   // every uint16, so the loop needs no test
    data.withUnsafeBytes { raw in
        let n = raw.count / 2
        counts.withUnsafeMutableBufferPointer { c in
            for i in 0..<n { c[Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))] += 1 }
        }
    }
    guard counts[vocabSize...].allSatisfy({ $0 == 0 }) else {   // rare: find the first offender for the message
        let (position, id) = data.withUnsafeBytes { raw -> (Int, Int32) in
            let id = { (i: Int) in Int32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            let i = (0..<(raw.count / 2)).first { Int(id($0)) >= vocabSize }!
            return (i, id(i))
        }
        throw TestSetError.badTokenID(path: path, position: position, id: id, vocabSize: vocabSize)
    }
    return Array(counts[..<vocabSize])
}
