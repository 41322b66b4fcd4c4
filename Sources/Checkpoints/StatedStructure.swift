// What a config says of the model's structure besides its sizes: whether the LM head is tied to the
// token embedding (`weight_tying`, HF's `tie_word_embeddings`), whether the attention's query/key/value
// projections have biases (`qkv_bias`, Raschka/gpjt), whether the model has biases at all (nanoGPT's
// `bias`). A file that contradicts its own config is refused: it lacks tensors its model had (an untied
// model saved without its head would be scored with the embedding as its head, a model with biases
// without them) or holds ones it did not, and no loss read from it is that model's.

import Engine

extension StatedConfig {
    enum Flag: CaseIterable { case tiedHead, qkvBias, biases }
}

/// Keys a config may state each flag under, first found wins.
let statedFlagKeys: [StatedConfig.Flag: [String]] = [
    .tiedHead: ["weight_tying", "tie_word_embeddings"], .qkvBias: ["qkv_bias"], .biases: ["bias"],
]

private let biasKinds: Set<TensorKind> = [.ln1b, .qkvb, .attprojb, .ln2b, .fcb, .fcprojb, .lnfb]

/// Every flag a stated config gives must describe the tensors: `stored`, the kinds the file holds (names only: a
/// peek checks them before any work); `tied`, whether the head is the embedding (absent, an alias, or equal
/// values), known once the values are read (nil before).
func checkStatedStructure(_ stated: [StatedConfig], stored: Set<TensorKind>, tied: Bool?, checkpoint: String) throws {
    for c in stated {
        for (flag, said) in c.flags.sorted(by: { $0.value.key < $1.value.key }) {
            let says = "\(c.source.subject) says \(said.key) = \(said.value)"
            switch flag {
            case .tiedHead where !said.value && !stored.contains(.lmHead):
                throw CheckpointError(checkpoint, .missingTensors, "\(says) but the file holds no LM head: an untied model saved without its head")
            case .tiedHead where !said.value && !stored.contains(.wte):
                throw CheckpointError(checkpoint, .missingTensors, "\(says) but the file holds no token embedding: an untied model saved without it")
            case .tiedHead where said.value && tied == false:
                throw CheckpointError(checkpoint, .badConfig, "\(says) but the stored LM head differs from the token embedding "
                                      + "(a tied model's head is its embedding, as HF loads it); correct the config to score the stored head")
            case .qkvBias where said.value != stored.contains(.qkvb):
                throw CheckpointError(checkpoint, said.value ? .missingTensors : .unexpectedTensors,
                                      "\(says) but the file holds \(said.value ? "no query/key/value biases" : "query/key/value biases")")
            case .biases where said.value != !stored.isDisjoint(with: biasKinds):
                throw CheckpointError(checkpoint, said.value ? .missingTensors : .unexpectedTensors,
                                      "\(says) but the file holds \(said.value ? "no bias tensors" : "bias tensors")")
            default: continue
            }
        }
    }
}
