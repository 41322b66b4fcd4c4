// Loading a checkpoint: read → sanitize → verify → fill the canonical GPT2Weights.
//
//   read      open the container, list tensors by their own names
//   sanitize  detect the layout, key every name, drop buffers, read sizes off the shapes
//   verify    every key expected, every shape as expected, no strays, biases all-or-none
//   fill      convert to Float, transpose [in, out] matrices, place q/k/v slices, decide tying

import Engine
import Foundation

/// A checkpoint mapped onto the canonical GPT-2 parameters.
public struct LoadedCheckpoint: Sendable {
    public let path: String
    public let format: CheckpointFormat
    public let layout: CheckpointLayout
    /// Canonical weights at the precision asked for; the config is inside.
    public private(set) var parameters: ModelWeights
    /// The f32 weights (norms, gradients, Hessians). Only a checkpoint loaded at f32 has them.
    public var weights: GPT2Weights {
        guard let w = parameters.f32 else { preconditionFailure("internal: \(path) was loaded in bf16; this needs f32 weights") }
        return w
    }
    public var config: GPT2Config { parameters.config }
    /// The same checkpoint with its parameters at `precision` (a copy rounded to bf16, or widened to f32).
    public func at(_ precision: Precision) -> LoadedCheckpoint {
        var c = self
        c.parameters = parameters.at(precision)
        return c
    }
    /// Parameters as stored, by their own names (buffers excluded).
    public let sourceTensors: [SourceTensor]
    /// Buffers dropped (att.mask, attn.bias, …).
    public let ignoredTensors: [String]
    /// dtype → number of stored parameter tensors.
    public let dtypes: [String: Int]
    /// Where the head count came from (every size a config states is checked against the shapes).
    public let shapeSource: ShapeSource
    /// What a training checkpoint records of its run (nanoGPT: iter_num, config, AdamW state).
    public let training: TrainingInfo?
    public let warnings: [String]
}

/// Which vocabulary rows the softmax runs over.
public enum VocabRows: Sendable, Equatable {
    /// GPT-2's 50257 when the stored vocabulary is padded past them (as HF scores the cropped
    /// model); all rows otherwise.
    case tokenizer
    /// Every stored row, padding included (as nanoGPT's own eval computes its loss).
    case all
}


/// Loads `path` (any supported format and layout, or an HF `save_pretrained` folder). `heads` gives
/// the head count where nothing in or beside the file states it (`headsGivenBy` names it in
/// messages; see ShapeSource.swift for the rule); `vocab` says which rows of a padded vocabulary
/// are softmaxed (`config.softmaxRows`).
/// `precision` .bf16 rounds the product matrices to bf16 as they are read (BF16Weights), so the f32
/// model never exists in memory.
/// A parameter holding NaN or ±Inf is refused (every loss, gradient and statistic from it would be NaN or a
/// meaningless 0), naming the tensors; `nonFiniteIsAWarning` (inspect, which shows what a file holds) makes it a warning.
/// `headsNeeded` false (commands that never split heads: inspect, norms, spectra) loads a checkpoint nothing states a
/// head count for, with `shapeSource` `.unstated`; a stated count is still checked.
public func loadCheckpoint(path: String, heads: Int? = nil, headsGivenBy: HeadsGivenBy = .option, vocab: VocabRows = .tokenizer,
                           precision: Precision = .f32, nonFiniteIsAWarning: Bool = false,
                           headsNeeded: Bool = true) throws -> LoadedCheckpoint {
    let store = try TensorStore(path: path)
    let s = try sanitize(store)
    let config = try checkedConfig(store, s, heads: heads, givenBy: headsGivenBy, vocab: vocab, headsNeeded: headsNeeded)
    try store.checkIntegrity()
    let choice = config.heads
    let plan = s.mapper.plan(config.config)
    let present = try verify(plan, s, path: path)
    var warnings: [String] = []
    let parameters: ModelWeights
    var bad: [TensorID: Int] = [:]
    switch precision {
    case .f32:
        let weights = try fill(plan, present: present, s, store: store, config: config.config)
        for id in weights.parameterTensors {
            bad[id] = weights.data[weights.layout.range(id)].reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        }
        parameters = .f32(weights)
    case .bf16:
        let weights: BF16Weights
        (weights, bad) = try fillBF16(present: present, s, store: store, config: config.config)
        parameters = .bf16(weights)
    }
    try checkStatedStructure(config.stated, stored: Set(present.map(\.target.kind)), tied: parameters.tied, checkpoint: path)
    let nonFinite = parameters.parameterTensors.filter { (bad[$0] ?? 0) > 0 }.map { "\($0.canonicalName) has \(bad[$0]!) NaN/Inf value(s)" }
    if !nonFinite.isEmpty && !nonFiniteIsAWarning {
        throw CheckpointError(path, .nonFinite, nonFinite.prefix(3).joined(separator: ", ") + (nonFinite.count > 3 ? " (and \(nonFinite.count - 3) more tensors)" : "")
                              + "; a loss, norm or spectrum computed from it would not be a number")
    }
    warnings += nonFinite
    let sources = s.parameters
    return LoadedCheckpoint(path: path, format: store.format, layout: s.mapper.layout, parameters: parameters,
                            sourceTensors: sources, ignoredTensors: s.ignored,
                            dtypes: Dictionary(sources.map { ($0.dtype, 1) }, uniquingKeysWith: +),
                            shapeSource: choice.source, training: store.trainingInfo(withOptimizer: true), warnings: warnings)
}

/// Every stored parameter tensor by its own name, as Float (buffers excluded, an alias not repeated).
public func readSourceTensors(path: String) throws -> [(name: String, shape: [Int], values: [Float])] {
    let store = try TensorStore(path: path)
    try store.checkIntegrity()
    let isHDF5 = store.format == .hdf5
    return try store.tensors.filter { !isBufferKey(isHDF5 ? $0.name.replacingOccurrences(of: "/", with: ".") : stripWrappers($0.name)) }
        .map { (name: $0.name, shape: $0.shape, values: try store.floats($0.name)) }
}

// MARK: sanitize

/// A store seen through its layout: keys → stored names, buffers set aside.
struct Sanitized {
    let mapper: LayoutMapper
    /// Key → stored name (aliases map to the tensor they alias).
    let names: [String: String]
    let shapes: [String: [Int]]
    let parameters: [SourceTensor]
    let ignored: [String]
    let facts: ShapeFacts
}

func sanitize(_ store: TensorStore) throws -> Sanitized {
    let allNames = store.tensors.map(\.name)
    let rawShapes = Dictionary(store.tensors.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a })
    guard !allNames.isEmpty else { throw CheckpointError(store.path, .unknownLayout, "holds no tensors") }
    guard let mapper = detectLayout(names: allNames, shapes: rawShapes, isHDF5: store.format == .hdf5) else {
        throw CheckpointError(store.path, .unknownLayout,
                              "unknown checkpoint layout (not HF, nanoGPT, Raschka, KerasHub or HF-TF); saw \(listSome(allNames))")
    }
    var names: [String: String] = [:], shapes: [String: [Int]] = [:]
    var parameters: [SourceTensor] = [], ignored: [String] = []
    for t in store.tensors {
        let k = mapper.key(t.name)
        if isBufferKey(k) { ignored.append(t.name); continue }
        if let other = names[k] {
            throw CheckpointError(store.path, .unexpectedTensors, "'\(t.name)' and '\(other)' are the same tensor '\(k)'")
        }
        names[k] = t.name; shapes[k] = t.shape
        parameters.append(t)
    }
    for (alias, target) in store.aliases.sorted(by: { $0.key < $1.key }) {
        let k = mapper.key(alias)
        guard names[k] == nil, let shape = rawShapes[target] else { continue }
        names[k] = target; shapes[k] = shape
    }
    return Sanitized(mapper: mapper, names: names, shapes: shapes, parameters: parameters,
                     ignored: ignored, facts: mapper.facts(shapes))
}

/// The config of a sanitized store: sizes from the shapes, checked against every config that states
/// them (in the file: model_args, llm.c's header; beside it: config.json, meta.json), heads resolved
/// (Heads.swift), softmax rows chosen.
func checkedConfig(_ store: TensorStore, _ s: Sanitized, heads: Int?, givenBy: HeadsGivenBy,
                   vocab: VocabRows, headsNeeded: Bool = true) throws -> (config: GPT2Config, heads: HeadsChoice, stated: [StatedConfig]) {
    let path = store.path
    let sized = try makeConfig(s, heads: 1, path: path)   // sizes first: a missing tensor is named before heads
    let stated = [store.fileConfig?.stated].compactMap { $0 } + (try besideConfigs(directory: store.directory))
    let real: [StatedConfig.Size: Int] = [.layers: sized.nLayer, .width: sized.nEmbd, .context: sized.contextLength,
                                          .vocab: sized.vocabSize, .inner: sized.nInner]
    for c in stated { try checkStated(c, against: real, checkpoint: path) }
    let choice = try resolveHeads(explicit: heads, givenBy: givenBy, fromShape: s.facts.heads, stated: stated, checkpoint: path,
                                  layers: sized.nLayer, width: sized.nEmbd, needed: headsNeeded)
    var config = try makeConfig(s, heads: choice.heads, path: path)
    let rows = store.fileConfig?.vocab ?? min(config.vocabSize, gpt2VocabSize)
    guard rows <= config.vocabSize else {
        throw CheckpointError(path, .badConfig, "the header's vocabulary of \(rows) is larger than the \(config.vocabSize) stored rows")
    }
    if vocab == .tokenizer, rows < config.vocabSize { config.softmaxRows = rows }
    let stored = Set(s.mapper.plan(config).filter { s.names[$0.key] != nil }.map(\.target.kind))
    try checkStatedStructure(stated, stored: stored, tied: nil, checkpoint: path)   // what the names tell, before any read
    return (config, choice, stated)
}

func makeConfig(_ s: Sanitized, heads: Int, path: String) throws -> GPT2Config {
    let f = s.facts
    guard let V = f.vocab, let T = f.context, let C = f.width, let L = f.layers, L > 0 else {
        let probe = s.mapper.plan(GPT2Config(vocabSize: 1, contextLength: 1, nEmbd: 1, nLayer: 1, nHead: 1))
        let needed = probe.filter { [.wte, .wpe].contains($0.target.kind) || $0.target.kind == .fcw }.map(\.key)
        throw CheckpointError(path, .missingTensors,
                              "\(s.mapper.layout.rawValue) layout: cannot size the model, missing some of \(needed.joined(separator: ", ")) (or any block)")
    }
    // A block index is a name, not a size: "h.999999999.ln_1.weight" alone must not plan a
    // billion blocks. Every block stores several tensors, so more blocks than tensors is a lie.
    guard L <= s.parameters.count else {
        throw CheckpointError(path, .missingTensors,
                              "\(s.mapper.layout.rawValue) layout: block indices imply \(L) blocks but the file holds only \(s.parameters.count) tensors")
    }
    let config = GPT2Config(vocabSize: V, contextLength: T, nEmbd: C, nLayer: L, nHead: heads, nInner: f.inner)
    if let problem = config.validationProblem() { throw CheckpointError(path, .badConfig, problem) }
    return config
}

// MARK: verify

/// Checks names and shapes; returns the assignments whose tensors are present.
func verify(_ plan: [Assignment], _ s: Sanitized, path: String) throws -> [Assignment] {
    let expected = Set(plan.map(\.key))
    let unexpected = s.names.filter { !expected.contains($0.key) }.map(\.value).sorted()
    if !unexpected.isEmpty {
        throw CheckpointError(path, .unexpectedTensors,
                              "\(s.mapper.layout.rawValue) layout: unexpected tensor(s) \(listSome(unexpected))")
    }
    for a in plan {
        if let found = s.shapes[a.key], found != a.shape {
            throw CheckpointError(path, .wrongShape,
                                  "tensor '\(s.names[a.key] ?? a.key)': expected shape \(describe(a.shape)), found \(describe(found))")
        }
    }
    // Weights are floating point: integer or boolean elements (a header declaring F32 bytes as I32) would load
    // as whole numbers and score with exit 0.
    let dtypes = Dictionary(s.parameters.map { ($0.name, $0.dtype) }, uniquingKeysWith: { a, _ in a })
    for a in plan {
        guard let name = s.names[a.key], let dt = dtypes[name], let t = TensorDType(rawValue: dt), !t.isFloat else { continue }
        throw CheckpointError(path, .badDType, "tensor '\(name)' is stored as \(dt); weights must be floating point (F16, BF16, F32 or F64)")
    }
    var missing = plan.filter { !$0.optional && s.names[$0.key] == nil }.map(\.key)
    // Optional biases: all or none of each kind (the LM head and wte are judged by tying).
    let groups = Dictionary(grouping: plan.filter { $0.optional && $0.target.kind != .lmHead }, by: \.target.kind)
    for (_, group) in groups.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
        let absent = group.filter { s.names[$0.key] == nil }
        if !absent.isEmpty && absent.count < group.count { missing += absent.map(\.key) }
    }
    // LayerNorm weights: all three kinds present, or (a run that trained none) all absent.
    let norms = plan.filter { [.ln1w, .ln2w, .lnfw].contains($0.target.kind) }
    let absentNorms = norms.filter { s.names[$0.key] == nil }
    if !absentNorms.isEmpty && absentNorms.count < norms.count { missing += absentNorms.map(\.key).filter { !missing.contains($0) } }
    let hasHead = plan.contains { $0.target.kind == .lmHead && s.names[$0.key] != nil }
    if hasHead { missing.removeAll { k in plan.contains { $0.key == k && $0.target.kind == .wte } } }
    if !missing.isEmpty {
        throw CheckpointError(path, .missingTensors, "\(s.mapper.layout.rawValue) layout: missing tensor(s) \(listSome(missing))")
    }
    return plan.filter { s.names[$0.key] != nil }
}

// MARK: fill

/// A stored tensor as Float, [in, out] matrices transposed to [out, in].
func transposedValues(_ a: Assignment, _ s: Sanitized, store: TensorStore) throws -> [Float] {
    let v = try store.floats(s.names[a.key] ?? a.key)
    guard let rows = a.transposeRows else { return v }
    let cols = v.count / rows
    var t = [Float](repeating: 0, count: v.count)   // [cols, rows] ← [rows, cols]
    for r in 0..<rows { for c in 0..<cols { t[c * rows + r] = v[r * cols + c] } }
    return t
}

/// Whether the head is tied, and which assignments fill the canonical tensors.
func placements(present: [Assignment], _ s: Sanitized, store: TensorStore) throws -> (tied: Bool, placed: [Assignment]) {
    let wteA = present.first { $0.target.kind == .wte }
    let headA = present.first { $0.target.kind == .lmHead }
    // Tied when the head is missing, is an alias of the embedding, or holds the same values.
    var tied = true
    if let headA, let wteA {
        tied = try store.sameValues(s.names[headA.key] ?? headA.key, s.names[wteA.key] ?? wteA.key)
    }
    // The embedding comes from the head when only the head was saved (nanoGPT, tied).
    var placed = present.filter { $0.target.kind != .lmHead }
    if let headA {
        if wteA == nil {
            var a = headA
            a.target = TensorID(.wte)
            placed.append(a)
        } else if !tied {
            placed.append(headA)
        }
    }
    return (tied, placed)
}

/// LayerNorms without a stored weight scale by one (bias-free ones already add zero).
func unitNorms(_ layout: ParameterLayout, stored: Set<TensorID>) -> [TensorID] {
    layout.tensors.filter { [.ln1w, .ln2w, .lnfw].contains($0.kind) && !stored.contains($0) }
}

func fill(_ plan: [Assignment], present: [Assignment], _ s: Sanitized, store: TensorStore,
          config: GPT2Config) throws -> GPT2Weights {
    let (tied, placed) = try placements(present: present, s, store: store)
    var w = GPT2Weights(config: config, tied: tied)
    for a in placed {
        let full = w.layout.range(a.target), n = full.count / a.parts
        let lo = full.lowerBound + a.part * n
        let name = s.names[a.key] ?? a.key
        if a.transposeRows == nil {
            try w.data.withUnsafeMutableBufferPointer { try store.decode(name, into: $0.baseAddress! + lo, count: n) }
        } else {
            let v = try transposedValues(a, s, store: store)
            w.data.replaceSubrange(lo..<(lo + n), with: v)
        }
        w.stored.insert(a.target)
    }
    for id in unitNorms(w.layout, stored: w.stored) {
        let r = w.layout.range(id)
        w.data.replaceSubrange(r, with: repeatElement(Float(1), count: r.count))
    }
    return w
}

/// `fill` for a bf16 model: each tensor is decoded into an f32 scratch, counted for NaN/Inf, and
/// written (rounded where BF16Weights holds it in bf16). Largest first, so the scratch's peak
/// (the embedding, 154 MB for GPT-2) comes before most of the model is resident.
func fillBF16(present: [Assignment], _ s: Sanitized, store: TensorStore,
              config: GPT2Config) throws -> (BF16Weights, bad: [TensorID: Int]) {
    let (tied, placed) = try placements(present: present, s, store: store)
    let w = BF16Weights(config: config, tied: tied)
    var bad: [TensorID: Int] = [:]
    for a in placed.sorted(by: { w.layout.size($0.target) / $0.parts > w.layout.size($1.target) / $1.parts }) {
        let n = w.layout.size(a.target) / a.parts
        var v: [Float]
        if a.transposeRows == nil {
            v = [Float](repeating: 0, count: n)
            try v.withUnsafeMutableBufferPointer { try store.decode(s.names[a.key] ?? a.key, into: $0.baseAddress!, count: n) }
        } else {
            v = try transposedValues(a, s, store: store)
        }
        bad[a.target, default: 0] += v.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        v.withUnsafeBufferPointer { w.write(a.target, at: a.part * n, from: $0.baseAddress!, count: n) }
        w.markStored(a.target)
    }
    for id in unitNorms(w.layout, stored: w.stored) {
        let ones = [Float](repeating: 1, count: w.layout.size(id))
        w.write(id, at: 0, from: ones, count: ones.count)
    }
    return (w, bad)
}

