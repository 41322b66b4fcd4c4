// The head count and the configs that state sizes (see ShapeSource.swift for the rule).
// Stated configs: what the file holds (nanoGPT's model_args, llm.c's header) and each of
// `config.json` (HF), `meta.json`, `model.json` (gpjt's runs and these fixtures: keys possibly
// under "model") in the checkpoint's folder that names a size. Every size a config states must
// equal the tensors' shapes; every head count given (shapes, configs, --heads / manifest) must agree.

import Engine
import Foundation
import Plumbing

struct HeadsChoice {
    let heads: Int
    let source: ShapeSource
}

/// What one config says: (its key, the value) per size, and where it came from.
struct StatedConfig {
    enum Size: CaseIterable { case heads, layers, width, context, vocab, inner }
    let source: ShapeSource
    /// The file named in messages.
    let file: String
    var sizes: [Size: (key: String, value: Int)] = [:]
    /// What it says of the model's structure (StatedStructure.swift): a tied head, biases.
    var flags: [Flag: (key: String, value: Bool)] = [:]

    func value(_ s: Size) -> Int? { sizes[s]?.value }
}

/// Keys a config may use for each size, first found wins (HF GPT-2, HF generic, nanoGPT, gpjt/Raschka).
private let sizeKeys: [StatedConfig.Size: [String]] = [
    .heads: ["n_head", "n_heads", "num_attention_heads"],
    .layers: ["n_layer", "n_layers", "num_hidden_layers"],
    .width: ["n_embd", "emb_dim", "hidden_size"],
    .context: ["n_positions", "context_length", "block_size", "max_position_embeddings", "n_ctx"],
    .vocab: ["vocab_size"],
    .inner: ["n_inner"],
]

/// Every key a config may state a size under.
let statedSizeKeys = StatedConfig.Size.allCases.flatMap { sizeKeys[$0]! }

/// The sizes `value(key)` gives, the first key found per size; each must be a positive integer.
func statedConfig(source: ShapeSource, file: String, _ value: (String) -> Any?) throws -> StatedConfig {
    var c = StatedConfig(source: source, file: file)
    for size in StatedConfig.Size.allCases {
        guard let key = sizeKeys[size]!.first(where: { value($0) != nil }), let raw = value(key) else { continue }
        if raw is NSNull { continue }   // HF's "n_inner": null is 4·n_embd
        guard let n = jsonInt(raw), n > 0 else {
            let shown = raw is String ? "the string \"\(raw)\"" : "\(raw)"   // "4" would print as 4
            throw CheckpointError(file, .badConfig, "'\(key)' is \(shown), expected a positive integer")
        }
        c.sizes[size] = (key, n)
    }
    for flag in StatedConfig.Flag.allCases {
        guard let key = statedFlagKeys[flag]!.first(where: { value($0) != nil }), let raw = value(key), !(raw is NSNull) else { continue }
        guard let b = jsonBool(raw) else {
            throw CheckpointError(file, .badConfig, "'\(key)' is \(raw is String ? "the string \"\(raw)\"" : "\(raw)"), expected true or false")
        }
        c.flags[flag] = (key, b)
    }
    return c
}

/// Each of config.json, meta.json, model.json in `directory` that states a size (HF's config and a training
/// script's meta.json may both be there: every size, head count and flag either states is checked).
func besideConfigs(directory: String) throws -> [StatedConfig] {
    var found: [StatedConfig] = []
    for file in ["config.json", "meta.json", "model.json"] {
        let p = directory.isEmpty ? file : directory + "/" + file
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue else { continue }
        let data: Data
        switch readInputFile(p) {
        case let .success(d): data = d
        case let .failure(problem): throw CheckpointError(p, .unreadable, problem.text + " (read for the model's head count)")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw CheckpointError(p, .badConfig, "is not valid JSON (read for the model's head count)")
        }
        guard let top = object as? [String: Any] else { continue }
        let dict = [top, top["model"] as? [String: Any] ?? [:]].first { d in sizeKeys.values.joined().contains { d[$0] != nil } }
        guard let dict else { continue }
        var c = try statedConfig(source: file == "config.json" ? .configJSON(p) : .metaJSON(p), file: p) { dict[$0] }
        if file == "config.json" {
            try checkHFMath(dict, path: p)
            // HF ties GPT-2's head to its embedding unless the config says otherwise (PretrainedConfig's default).
            if c.flags[.tiedHead] == nil, dict["model_type"] as? String == "gpt2" {
                c.flags[.tiedHead] = ("tie_word_embeddings (absent: HF's default)", true)
            }
        }
        found.append(c)
    }
    return found
}

/// HF GPT-2 config keys that change the arithmetic: refused unless they are what the engine computes.
private func checkHFMath(_ d: [String: Any], path: String) throws {
    if let act = d["activation_function"] as? String, !["gelu_new", "gelu_pytorch_tanh", "gelu_fast"].contains(act) {
        throw CheckpointError(path, .badConfig, "activation_function \"\(act)\" is not GPT-2's tanh GELU (gelu_new), which gpt2lab computes")
    }
    if let eps = d["layer_norm_epsilon"] as? Double, abs(eps - Double(layerNormEps)) > 1e-12 {
        throw CheckpointError(path, .badConfig, "layer_norm_epsilon \(eps) is not GPT-2's 1e-05, which gpt2lab computes")
    }
    if d["scale_attn_by_inverse_layer_idx"] as? Bool == true || d["scale_attn_weights"] as? Bool == false {
        throw CheckpointError(path, .badConfig, "attention scaling other than GPT-2's 1/√(head size) (scale_attn_weights, scale_attn_by_inverse_layer_idx) is not computed by gpt2lab")
    }
}

/// Every size `c` states must be the one the tensors give (`real`: a size → its value from the shapes).
func checkStated(_ c: StatedConfig, against real: [StatedConfig.Size: Int], checkpoint: String) throws {
    for (size, said) in c.sizes.sorted(by: { $0.value.key < $1.value.key }) where size != .heads {
        guard let r = real[size], said.value != r else { continue }
        // A gpjt/meta vocabulary may name the tokenizer's rows of a padded embedding.
        if size == .vocab, case .metaJSON = c.source, said.value < r { continue }
        throw CheckpointError(checkpoint, .badConfig,
                              "\(c.source.subject) says \(said.key) = \(said.value) but the tensors' shapes give \(r)")
    }
}

/// The head count: from the q/k/v shapes, the stated configs (in order), or the explicit count;
/// every one present must agree. Without any, GPT-2's convention for GPT-2's sizes; else refused, unless the
/// command does not need it (`needed` false: `.unstated`).
func resolveHeads(explicit: Int?, givenBy: HeadsGivenBy, fromShape: Int?, stated: [StatedConfig], checkpoint: String,
                  layers: Int, width: Int, needed: Bool = true) throws -> HeadsChoice {
    if let explicit, explicit < 1 {
        throw CheckpointError(checkpoint, .badConfig, "\(givenBy.naming(explicit)): the head count must be positive")
    }
    var claims: [(n: Int, source: ShapeSource, naming: String)] = []
    if let fromShape { claims.append((fromShape, .tensorShapes, "the \(fromShape) heads in the q/k/v shapes")) }
    for c in stated {
        guard let h = c.sizes[.heads] else { continue }
        guard h.value > 0 else { throw CheckpointError(checkpoint, .badConfig, "\(c.source.subject) gives \(h.value) heads, expected a positive number") }
        claims.append((h.value, c.source, "\(c.source.subject)'s \(h.key) = \(h.value)"))
    }
    if let explicit { claims.append((explicit, givenBy.source, givenBy.naming(explicit))) }
    if let first = claims.first {
        for other in claims.dropFirst() where other.n != first.n {
            throw CheckpointError(checkpoint, .badConfig, "\(other.naming) contradicts \(first.naming)")
        }
        return HeadsChoice(heads: first.n, source: first.source)
    }
    if gpt2Sizes.contains([layers, width]) { return HeadsChoice(heads: width / 64, source: .gpt2Convention) }
    if !needed { return HeadsChoice(heads: 1, source: .unstated) }
    throw CheckpointError(checkpoint, .badConfig,
                          "no config states the head count (none in the file, no config.json or meta.json in its folder) and \(layers) layers of width \(width) is not a GPT-2 size; \(givenBy.advice)")
}
