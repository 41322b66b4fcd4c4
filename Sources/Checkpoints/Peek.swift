// The config of a checkpoint without reading its weights: read → sanitize, no fill. For checks
// that must run on every checkpoint before any expensive work starts (e.g. `gpt2lab report`).

import Engine

/// The GPT-2 config `loadCheckpoint(path:heads:)` would build, from the file's header and shapes only.
public func checkpointConfig(path: String, heads: Int? = nil) throws -> GPT2Config {
    let store = try TensorStore(path: path)
    let s = try sanitize(store)
    let choice = try resolveHeads(explicit: heads, fromShape: s.facts.heads, checkpoint: path, width: s.facts.width ?? 0)
    return try makeConfig(s, heads: choice.heads, path: path)
}
