// Target (e): the report manifest (TOML). The input is the manifest text, then optionally a NUL
// byte and the meta.json that sits beside run a's checkpoint. The manifest is loaded from a folder
// holding the files seeds name (a test set, two checkpoints, one with a meta.json beside it),
// so inputs get past the file checks into the cross-references (baseline, reference,
// seed_group, stack_of, per_token). Invariant: an accepted manifest's names all resolve.

import Foundation
import Report

/// The folder manifests are loaded from: test.bin, runs/a/model.safetensors (+ meta.json), runs/b/model.safetensors.
private let manifestFolder: String = {
    let dir = fuzzScratch + "/manifest"
    let fm = FileManager.default
    for run in ["a", "b"] { try? fm.createDirectory(atPath: dir + "/runs/" + run, withIntermediateDirectories: true) }
    fm.createFile(atPath: dir + "/test.bin", contents: Data([1, 0, 2, 0, 3, 0]))
    fm.createFile(atPath: dir + "/runs/a/model.safetensors", contents: Data(count: 8))
    fm.createFile(atPath: dir + "/runs/b/model.safetensors", contents: Data(count: 8))
    return dir
}()

public func fuzzManifest(_ input: UnsafeRawBufferPointer) -> String? {
    let path = manifestFolder + "/m.toml", meta = manifestFolder + "/runs/a/meta.json"
    let parts = input.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
    FileManager.default.createFile(atPath: path, contents: Data(parts[0]))
    if parts.count > 1 { FileManager.default.createFile(atPath: meta, contents: Data(parts[1])) } else { unlink(meta) }
    guard let m = try? loadManifest(path: path) else { return nil }
    let names = Set(m.runs.map(\.name))
    guard names.count == m.runs.count, names.contains(m.baseline), m.reference.map(names.contains) ?? true else {
        return "accepted manifest with runs \(names.sorted()), baseline '\(m.baseline)', reference \(m.reference ?? "-")"
    }
    for r in m.runs {
        guard r.stackOf.allSatisfy(names.contains), r.seedGroup.map(names.contains) ?? true else { return "run '\(r.name)' names a missing run" }
        _ = m.seedGroup(of: r.name)
    }
    guard m.perToken.allSatisfy({ names.contains($0) && $0 != m.baseline }), m.perTokenMaxTokens >= 1 else {
        return "per_token \(m.perToken) (max tokens \(m.perTokenMaxTokens)) names a missing run or the baseline"
    }
    return nil
}
