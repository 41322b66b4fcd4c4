// torch.save files made in code: a protocol-2 pickle writer, a STORED zip writer, and a tiny
// nanoGPT training checkpoint (model, AdamW state, model_args, config, iter_num) built from
// them. Seeds for the torch fuzz target, and the base the hand-made malformed cases in the
// tests start from. The byte layout follows torch/serialization.py's _save and pickletools.

import Foundation

/// Emits pickle opcodes (protocol 2, the subset torch.save uses).
public struct PickleWriter {
    public var bytes: [UInt8] = [0x80, 2]                         // PROTO 2
    public init() {}

    public mutating func raw(_ b: [UInt8]) { bytes += b }
    public mutating func mark() { bytes.append(0x28) }
    public mutating func emptyDict() { bytes.append(0x7D) }
    public mutating func emptyList() { bytes.append(0x5D) }
    public mutating func emptyTuple() { bytes.append(0x29) }
    public mutating func tuple() { bytes.append(0x74) }           // TUPLE from the mark
    public mutating func setItems() { bytes.append(0x75) }
    public mutating func appends() { bytes.append(0x65) }
    public mutating func reduce() { bytes.append(0x52) }
    public mutating func stop() { bytes.append(0x2E) }
    public mutating func none() { bytes.append(0x4E) }
    public mutating func bool(_ b: Bool) { bytes.append(b ? 0x88 : 0x89) }
    public mutating func string(_ s: String) {
        let u = Array(s.utf8)
        bytes.append(0x58); bytes += le(UInt32(u.count)); bytes += u
    }
    public mutating func int(_ i: Int) {
        if (0..<256).contains(i) { bytes += [0x4B, UInt8(i)] }
        else if (0..<65536).contains(i) { bytes.append(0x4D); bytes += le(UInt16(i)) }
        else if let v = Int32(exactly: i) { bytes.append(0x4A); bytes += le(UInt32(bitPattern: v)) }
        else { bytes += [0x8A, 8]; bytes += le(UInt64(bitPattern: Int64(i))) }   // LONG1
    }
    public mutating func float(_ d: Double) { bytes.append(0x47); bytes += le(d.bitPattern).reversed() }  // big-endian
    public mutating func global(_ module: String, _ name: String) { bytes.append(0x63); bytes += Array("\(module)\n\(name)\n".utf8) }
    public mutating func put(_ i: Int) { bytes += [0x71, UInt8(i & 0xFF)] }     // BINPUT
    public mutating func get(_ i: Int) { bytes += [0x68, UInt8(i & 0xFF)] }     // BINGET

    /// A tensor as torch.save pickles it: _rebuild_tensor_v2(persistent storage, offset, size,
    /// stride, False, OrderedDict()). `stride` defaults to row-major.
    public mutating func tensor(key: String, numel: Int, shape: [Int], stride: [Int]? = nil, offset: Int = 0,
                                storageType: String = "FloatStorage") {
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        mark(); string("storage"); global("torch", storageType); string(key); string("cpu"); int(numel); tuple()
        bytes.append(0x51)                                        // BINPERSID
        int(offset)
        let st = stride ?? shape.indices.map { i in shape[(i + 1)...].reduce(1, *) }
        mark(); for d in shape { int(d) }; tuple()
        mark(); for s in st { int(s) }; tuple()
        bool(false)
        global("collections", "OrderedDict"); emptyTuple(); reduce()
        tuple()
        reduce()
    }
}

func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

/// A zip archive of STORED entries, as torch's PyTorchStreamWriter writes it with
/// torch.serialization.set_crc32_options(False) (CRCs left 0, which gpt2lab does not check; a
/// recorded CRC is checked). `method` other than 0 marks every entry compressed.
public func storedZip(_ entries: [(name: String, data: [UInt8])], method: UInt16 = 0) -> [UInt8] {
    var out: [UInt8] = [], central: [UInt8] = []
    for (name, data) in entries {
        let n = Array(name.utf8), offset = UInt32(out.count)
        out += le(UInt32(0x0403_4B50)) + le(UInt16(20)) + le(UInt16(0)) + le(method) + le(UInt32(0)) + le(UInt32(0))
        out += le(UInt32(data.count)) + le(UInt32(data.count)) + le(UInt16(n.count)) + le(UInt16(0)) + n + data
        central += le(UInt32(0x0201_4B50)) + le(UInt16(20)) + le(UInt16(20)) + le(UInt16(0)) + le(method)
        central += le(UInt32(0)) + le(UInt32(0)) + le(UInt32(data.count)) + le(UInt32(data.count))
        central += le(UInt16(n.count)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0)) + le(offset) + n
    }
    let cdOffset = UInt32(out.count)
    out += central
    out += le(UInt32(0x0605_4B50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(entries.count)) + le(UInt16(entries.count))
    out += le(UInt32(central.count)) + le(cdOffset) + le(UInt16(0))
    return out
}

/// A torch.save archive: `archive/data.pkl`, `archive/byteorder`, one `archive/data/<key>` per storage.
public func torchArchive(pickle: [UInt8], storages: [(key: String, data: [UInt8])], prefix: String = "archive",
                         method: UInt16 = 0) -> [UInt8] {
    storedZip([(prefix + "/data.pkl", pickle), (prefix + "/byteorder", Array("little".utf8))]
              + storages.map { (prefix + "/data/" + $0.key, $0.data) }, method: method)
}

/// f32 values as little-endian bytes.
public func f32Bytes(_ v: [Float]) -> [UInt8] { v.flatMap { le($0.bitPattern) } }

/// A nanoGPT `ckpt.pt` for V 8, T 4, C 8, one block, 2 heads, bias=False, tied wte/lm_head (one
/// storage), with AdamW state whose exp_avg_sq are all `v` (so the average effective lr is
/// lr/(√v + eps)), lr 1e-3, eps 1e-8, weight decay 0.1, iter_num 6. `optimizer: false` omits it.
/// LayerNorm weights are ones; `layerNorms: false` leaves them out (a run that trained none). The last
/// `unseenRows` rows of wte's exp_avg_sq are 0, as for tokens a run never saw (a padded vocabulary's rows).
public func tinyTorchCheckpoint(optimizer: Bool = true, v: Float = 4, layerNorms: Bool = true, unseenRows: Int = 0) -> [UInt8] {
    let V = 8, T = 4, C = 8
    let shapes: [(String, [Int])] = [
        ("transformer.wte.weight", [V, C]), ("transformer.wpe.weight", [T, C]), ("transformer.h.0.ln_1.weight", [C]),
        ("transformer.h.0.attn.c_attn.weight", [3 * C, C]), ("transformer.h.0.attn.c_proj.weight", [C, C]),
        ("transformer.h.0.ln_2.weight", [C]), ("transformer.h.0.mlp.c_fc.weight", [4 * C, C]),
        ("transformer.h.0.mlp.c_proj.weight", [C, 4 * C]), ("transformer.ln_f.weight", [C]),
    ]
    var p = PickleWriter(), storages: [(key: String, data: [UInt8])] = []
    p.emptyDict(); p.mark()
    p.string("model"); p.emptyDict(); p.mark()
    for (i, (name, shape)) in shapes.enumerated() where layerNorms || !name.contains(".ln_") {
        let n = shape.reduce(1, *)
        p.string("_orig_mod." + name); p.tensor(key: "\(i)", numel: n, shape: shape)
        let norm = name.contains(".ln_")
        storages.append(("\(i)", f32Bytes((0..<n).map { norm ? 1 : Float(($0 * 7 + i) % 11) / 16 - 0.3 })))
    }
    p.string("_orig_mod.lm_head.weight"); p.tensor(key: "0", numel: V * C, shape: [V, C])    // tied: wte's storage
    p.setItems()
    if optimizer {
        p.string("optimizer"); p.emptyDict(); p.mark()
        p.string("state"); p.emptyDict(); p.mark()
        for (i, (name, shape)) in shapes.enumerated() where layerNorms || !name.contains(".ln_") {
            let n = shape.reduce(1, *), key = "\(100 + i)"
            p.int(i); p.emptyDict(); p.mark()
            p.string("exp_avg_sq"); p.tensor(key: key, numel: n, shape: shape)
            p.setItems()
            let zeros = i == 0 ? min(unseenRows, V) * C : 0
            storages.append((key, f32Bytes([Float](repeating: v, count: n - zeros) + [Float](repeating: 0, count: zeros))))
        }
        p.setItems()
        p.string("param_groups"); p.emptyList(); p.mark()
        p.emptyDict(); p.mark(); p.string("lr"); p.float(1e-3); p.string("eps"); p.float(1e-8)
        p.string("weight_decay"); p.float(0.1); p.setItems()
        p.appends()
        p.setItems()
    }
    p.string("model_args"); p.emptyDict(); p.mark()
    for (k, v) in [("n_layer", 1), ("n_head", 2), ("n_embd", C), ("block_size", T), ("vocab_size", V)] { p.string(k); p.int(v) }
    p.string("bias"); p.bool(false)
    p.setItems()
    p.string("iter_num"); p.int(6)
    p.string("config"); p.emptyDict(); p.mark()
    p.string("learning_rate"); p.float(1e-3); p.string("weight_decay"); p.float(0.1); p.string("max_iters"); p.int(600_000)
    p.setItems()
    p.setItems(); p.stop()
    return torchArchive(pickle: p.bytes, storages: storages)
}
