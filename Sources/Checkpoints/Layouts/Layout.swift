// What a layout mapper is: how one naming scheme's tensors map onto the canonical GPT-2 set.
//
// Loading is read → sanitize → verify. A mapper turns each stored name into a key (prefixes
// stripped, HDF5 paths dotted), says which keys are buffers, reads the config's sizes off the
// shapes, and lists, for a config, every tensor it expects: key, expected stored shape, the
// canonical tensor it fills (a slice of it for separate q/k/v), and whether it is transposed.

import Engine

/// The naming scheme a checkpoint uses.
public enum CheckpointLayout: String, Sendable, CaseIterable {
    case hf, nanogpt, raschka, kerasHub = "keras-hub", hfTF = "hf-tf"
}

/// One expected stored tensor and where it goes.
struct Assignment {
    /// Key in the mapper's naming (see `LayoutMapper.key`).
    var key: String
    var target: TensorID
    /// Slice `part` of `parts` equal row blocks of the target (q, k, v of the fused qkv).
    var part = 0
    var parts = 1
    /// Shape as stored.
    var shape: [Int]
    /// Read the stored values as a [rows, count/rows] matrix and transpose it.
    var transposeRows: Int? = nil
    /// Biases (and a separate head) may be absent; biases are all-or-none per kind.
    var optional = false
}

/// Sizes read off the stored shapes; nil where the tensor that tells is missing.
struct ShapeFacts {
    var vocab: Int?, context: Int?, width: Int?, layers: Int?, inner: Int?
    /// Only layouts whose shapes carry the head count (KerasHub).
    var heads: Int? = nil
}

protocol LayoutMapper {
    var layout: CheckpointLayout { get }
    /// The stored name in this mapper's naming.
    func key(_ name: String) -> String
    func facts(_ shapes: [String: [Int]]) -> ShapeFacts
    /// Every tensor the layout can hold for `c`; the LM head has target `.lmHead`, the
    /// embedding target `.wte`.
    func plan(_ c: GPT2Config) -> [Assignment]
}

extension LayoutMapper {
    func key(_ name: String) -> String { name }
}

/// Non-parameter buffers saved in state dicts: causal masks (`h.N.attn.bias`,
/// `h.N.attn.masked_bias`, Raschka's `trf_blocks.N.att.mask`). `attn.c_attn.bias` is a
/// parameter: only the last two dotted components are compared.
func isBufferKey(_ key: String) -> Bool {
    let c = key.split(separator: ".", omittingEmptySubsequences: false).suffix(2).map(String.init)
    return c == ["attn", "bias"] || c == ["attn", "masked_bias"] || c == ["att", "mask"]
}

/// Strips training-wrapper prefixes (`_orig_mod.` from torch.compile, `module.` from DDP).
func stripWrappers(_ name: String) -> String {
    var s = Substring(name)
    var changed = true
    while changed {
        changed = false
        for p in ["_orig_mod.", "module."] where s.hasPrefix(p) { s = s.dropFirst(p.count); changed = true }
    }
    return String(s)
}

/// N in "PREFIX N.rest" (e.g. "h.3.attn…" with prefix "h."), or nil.
func blockIndex(_ key: String, prefix: String) -> Int? {
    guard key.hasPrefix(prefix) else { return nil }
    let digits = key.dropFirst(prefix.count).prefix { $0.isNumber }
    guard !digits.isEmpty, key.dropFirst(prefix.count + digits.count).first == "." || key.dropFirst(prefix.count + digits.count).first == "/" else { return nil }
    return Int(digits)
}

/// One more than the largest block index among `keys`, 0 when there is none.
func blockCount(_ keys: some Sequence<String>, prefix: String) -> Int {
    keys.compactMap { blockIndex($0, prefix: prefix) }.max().map { $0 + 1 } ?? 0
}

/// Picks the mapper for a set of stored names, or nil.
func detectLayout(names: [String], shapes: [String: [Int]], isHDF5: Bool) -> LayoutMapper? {
    if names.contains(where: { $0.hasSuffix(":0") && ($0.contains("h_._") || $0.hasSuffix("wte/weight:0")) }) {
        return HFTFMapper()
    }
    if names.contains(where: { $0.contains("transformer_decoder") || $0.hasSuffix("reversible_embedding/vars/0") }) {
        return KerasHubMapper()
    }
    let raschka = RaschkaMapper(dotted: isHDF5)
    if names.contains(where: { let k = raschka.key($0); return k.hasPrefix("trf_blocks.") || k == "tok_emb.weight" || k == "out_head.weight" }) {
        return raschka
    }
    let hf = HFMapper(conv1D: true, dotted: isHDF5)
    let keyed = Dictionary(names.map { (hf.key($0), shapes[$0] ?? []) }, uniquingKeysWith: { a, _ in a })
    guard keyed.keys.contains(where: { blockIndex($0, prefix: "h.") != nil || $0 == "wte.weight" || $0 == "wpe.weight" }) else {
        return nil
    }
    // Conv1D stores c_attn as [C, 3C]; nn.Linear as [3C, C]. The first block's, by name: a dictionary's order
    // changes from run to run, and a file whose blocks disagree gave a different layout (and message) each time.
    if let key = keyed.keys.filter({ $0.hasSuffix(".attn.c_attn.weight") }).min(by: { (blockIndex($0, prefix: "h.") ?? .max, $0) < (blockIndex($1, prefix: "h.") ?? .max, $1) }),
       let s = keyed[key], s.count == 2 {
        if s[0] == 3 * s[1] { return HFMapper(conv1D: false, dotted: isHDF5) }
        if s[1] == 3 * s[0] { return hf }
    }
    let nanoHint = names.contains { $0.hasPrefix("_orig_mod.") } || keyed["lm_head.weight"] != nil
    return nanoHint ? HFMapper(conv1D: false, dotted: isHDF5) : hf
}
