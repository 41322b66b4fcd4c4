// The config of a checkpoint without reading its weights: read → sanitize, no fill. For checks
// that must run on every checkpoint before any expensive work starts (e.g. `gpt2lab report`).

import Engine

/// The GPT-2 config `loadCheckpoint(path:heads:vocab:)` would build, from the file's header and shapes only.
public func checkpointConfig(path: String, heads: Int? = nil, headsGivenBy: HeadsGivenBy = .option,
                             vocab: VocabRows = .tokenizer) throws -> GPT2Config {
    try checkpointPeek(path: path, heads: heads, headsGivenBy: headsGivenBy, vocab: vocab).config
}

/// The config and training metadata (without the optimizer's moments) of a checkpoint.
public func checkpointPeek(path: String, heads: Int? = nil, headsGivenBy: HeadsGivenBy = .option,
                           vocab: VocabRows = .tokenizer) throws -> (config: GPT2Config, training: TrainingInfo?) {
    let store = try TensorStore(path: path)
    let s = try sanitize(store)
    return (try checkedConfig(store, s, heads: heads, givenBy: headsGivenBy, vocab: vocab).config, store.trainingInfo(withOptimizer: false))
}
