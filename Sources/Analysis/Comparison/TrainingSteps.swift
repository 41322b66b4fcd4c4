// Training steps from checkpoint names, shared by `gpt2lab norms` (norms against step) and the
// report (`loss_across_steps`): gpt2lab's and gpjt's `step-001143.safetensors`, the weight-decay
// paper's and nanoGPT-derived scripts' `ckpt-iter=2000.pt`.

import Foundation

/// The training step in a checkpoint file name: the last `step` or `iter` followed by an optional
/// `-`, `_` or `=` and digits, in the file's name only (`runs/step-12/model.safetensors` has none).
/// `iter` must not follow a letter (`filter3.pt` has no step).
/// `runs/baseline/step-001143.safetensors` → 1143, `out/ckpt-iter=2000.pt` → 2000.
public func trainingStep(fromPath path: String) -> Int? {
    let file = Array(path.split(separator: "/").last ?? Substring(path))
    var result: (at: Int, step: Int)?
    for key in [Array("step"), Array("iter")] {
        var i = 0
        while i + key.count <= file.count {
            guard Array(file[i..<(i + key.count)]) == key,
                  key[0] == "s" || i == 0 || !file[i - 1].isLetter else { i += 1; continue }
            var j = i + key.count
            if j < file.count, file[j] == "-" || file[j] == "_" || file[j] == "=" { j += 1 }
            var k = j
            while k < file.count, file[k].isASCII, file[k].isNumber { k += 1 }
            if k > j, let n = Int(String(file[j..<k])), i >= (result?.at ?? -1) { result = (i, n) }
            i += key.count
        }
    }
    return result?.step
}

/// Checkpoint extensions a step file may have (every format gpt2lab reads as one file).
private let stepExtensions: Set<String> = ["safetensors", "pt", "pth", "bin", "h5"]

/// The step checkpoints in the folder of `checkpoint` (files with a step in their name, other than
/// `checkpoint` itself), sorted by step; a step found twice keeps the first name in sorted order.
public func stepCheckpoints(besides checkpoint: String) throws -> [(step: Int, path: String)] {
    let folder = (checkpoint as NSString).deletingLastPathComponent
    let dir = folder.isEmpty ? "." : folder
    let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
    let me = (checkpoint as NSString).lastPathComponent
    var seen = Set<Int>(), out: [(step: Int, path: String)] = []
    for n in names where n != me && stepExtensions.contains((n as NSString).pathExtension.lowercased()) {
        guard let s = trainingStep(fromPath: n), !seen.contains(s) else { continue }
        seen.insert(s)
        out.append((s, folder.isEmpty ? n : folder + "/" + n))
    }
    return out.sorted { $0.step < $1.step }
}
