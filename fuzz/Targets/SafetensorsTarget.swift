// Target (a): the input is a whole safetensors file. Parse the header and tensor table, read
// every tensor as floats (and integers as Int32), then map it as a checkpoint and as a
// test set. Invariant: every tensor the header admits lies inside the file.

import Checkpoints
import Foundation
import TestSets

public func fuzzSafetensors(_ input: UnsafeRawBufferPointer) -> String? {
    let path = scratchFile("input.safetensors", input)
    // The readers below all parse the header first; when it is refused here they refuse it the
    // same way, so they run only on inputs that get past it (4× the inputs per second).
    guard let f = try? SafetensorsFile(path: path) else { return nil }
    do {
        for name in f.tensorNames {
            guard let info = f.info(name) else { return "tensorNames lists '\(name)' but info() has no entry" }
            let bytes = info.count * info.dtype.byteSize
            guard bytes <= input.count, info.byteRange.upperBound <= input.count else {
                return "tensor '\(name)' (\(info.shape), \(info.dtype)) claims \(bytes) bytes in a \(input.count)-byte file"
            }
            if let v = try? f.floats(name), v.count != info.count { return "floats('\(name)') gave \(v.count) of \(info.count)" }
            var out = [Float](repeating: 0, count: info.count)
            try? out.withUnsafeMutableBufferPointer { try f.decode(name, into: $0.baseAddress!) }
            if !info.dtype.isFloat, let v = try? f.int32s(name), v.count != info.count { return "int32s('\(name)') count" }
        }
        for alias in f.aliases.keys { _ = try? f.floats(alias) }
        for (a, b) in zip(f.tensorNames, f.tensorNames.dropFirst()).prefix(8) { _ = try? f.sameBytes(a, b) }
    }
    _ = try? loadCheckpoint(path: path)
    _ = try? readSourceTensors(path: path)
    _ = try? loadTokenIDs(path: path)
    return nil
}
