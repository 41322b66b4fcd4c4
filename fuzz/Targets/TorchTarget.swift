// Target (f): the input is a whole file as torch.save would write it — the zip directory, the
// restricted pickle in data.pkl, the storages — opened as a checkpoint (format detected from
// content, so llm.c headers get in too). Invariants: a checkpoint that loads holds exactly its
// layout's floats; its state-dict tensors read back at their declared sizes.

import Checkpoints
import Foundation

public func fuzzTorch(_ input: UnsafeRawBufferPointer) -> String? {
    let path = scratchFile("input.pt", input)
    guard (try? detectFormat(path: path)) != nil else { return nil }
    if let ck = try? loadCheckpoint(path: path) {
        if ck.weights.data.count != ck.weights.layout.count { return "weights hold \(ck.weights.data.count) of \(ck.weights.layout.count) floats" }
        if ck.weights.config.softmaxVocab > ck.weights.config.vocabSize { return "softmax rows exceed the vocabulary" }
    }
    if let tensors = try? readSourceTensors(path: path) {
        for t in tensors where t.values.count != t.shape.reduce(1, *) {
            return "tensor '\(t.name)' read \(t.values.count) values for shape \(t.shape)"
        }
    }
    _ = try? checkpointPeek(path: path)
    return nil
}
