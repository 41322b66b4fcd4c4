// Target (b): the layout mapping over HDF5 files. libhdf5 parsing arbitrary bytes is not our
// code, so the input is a recipe that this target writes with libhdf5 and then loads:
//
//   op % 8   0 group NAME (enter it)     1 leave the group       2 dataset NAME DIMS TYPE
//            3 hard link NAME → an open ancestor group (a cycle)  4 soft link NAME → a path
//            5 chunked, never-written dataset NAME with huge dims (a lying shape)
//            6 a whole tiny GPT-2 in HF-TF or KerasHub naming, one tensor dropped or bent
//            7 back to the root
//
// Names come from a small alphabet of plausible ones, so the layout detectors have
// something to bite on. Sizes stay small: every dataset written holds at most 4096 values.

import CHDF5
import Checkpoints
import Foundation
import TestSets

let h5Names = ["h_._0", "h_._1", "attn", "c_attn", "c_proj", "weight:0", "bias:0", "gamma:0", "beta:0", "ln_1", "ln_2",
               "ln_f", "wte", "wpe", "embeddings:0", "mlp", "c_fc", "transformer", "tfgp_t2lm_head_model", "layers",
               "transformer_decoder", "transformer_decoder_1", "vars", "0", "1", "reversible_embedding",
               "position_embedding", "layer_normalization", "_self_attention_layer", "query_dense", "key_dense",
               "value_dense", "output_dense", "_feedforward_intermediate_dense", "_feedforward_output_dense",
               "_self_attention_layer_norm", "_feedforward_layer_norm", "h", "weight", "bias", "trf_blocks",
               "tok_emb", "tokens", "data", "2"]
let h5Dims = [0, 1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64, 128, 1024]

public func fuzzHDF5Recipe(_ input: UnsafeRawBufferPointer) -> String? {
    let path = fuzzScratch + "/input.h5"
    gl_h5_silence_errors()
    _ = hdf5FreeLists
    let file = H5Fcreate(path, gl_h5f_acc_trunc(), gl_h5p_default(), gl_h5p_default())
    guard file >= 0 else { return nil }
    var stack: [hid_t] = [file]
    var r = ByteReader(input)
    var ops = 0
    while !r.atEnd && ops < 400 {
        ops += 1
        let here = stack.last!
        switch r.u8() % 8 {
        case 0:
            let g = H5Gcreate2(here, r.pick(h5Names), gl_h5p_default(), gl_h5p_default(), gl_h5p_default())
            if g >= 0 && stack.count < 90 { stack.append(g) } else if g >= 0 { H5Gclose(g) }
        case 1:
            if stack.count > 1 { H5Gclose(stack.removeLast()) }
        case 2:
            let name = r.pick(h5Names)
            let dims = (0..<Int(r.u8() % 4)).map { _ in r.pick(h5Dims) }
            let type = Int32(r.u8() % 8), fill = Float(Int8(bitPattern: r.u8())) / 16
            writeDataset(here, name, dims: dims, type: type, fill: fill)
        case 3:
            let target = stack[Int(r.u8()) % stack.count]
            _ = H5Lcreate_hard(target, ".", here, r.pick(h5Names), gl_h5p_default(), gl_h5p_default())
        case 4:
            let to = "/" + (0..<Int(r.u8() % 4)).map { _ in r.pick(h5Names) }.joined(separator: "/")
            _ = H5Lcreate_soft(to, here, r.pick(h5Names), gl_h5p_default(), gl_h5p_default())
        case 5:
            let name = r.pick(h5Names)
            let dims = (0..<(1 + Int(r.u8() % 3))).map { _ in hsize_t(1) << hsize_t(8 + r.u8() % 48) }
            let dcpl = gl_h5p_create_dcpl()
            var chunk = [hsize_t](repeating: 1, count: dims.count)
            H5Pset_chunk(dcpl, Int32(dims.count), &chunk)
            var d = dims
            let space = H5Screate_simple(Int32(d.count), &d, nil)
            let ds = H5Dcreate2(here, name, gl_h5t_file_type(Int32(r.u8() % 3)), space, gl_h5p_default(), dcpl, gl_h5p_default())
            if ds >= 0 { H5Dclose(ds) }
            H5Sclose(space); H5Pclose(dcpl)
        case 6:
            writeTinyModel(file, &r)
        default:
            while stack.count > 1 { H5Gclose(stack.removeLast()) }
        }
    }
    while stack.count > 1 { H5Gclose(stack.removeLast()) }
    H5Fclose(file)

    // The loaders below walk the file first; when the walk is refused they refuse it the same way.
    guard let h = try? HDF5File(path: path) else { return nil }
    for d in h.datasets {
        guard d.count <= 1 << 20 else { return "dataset '\(d.path)' \(d.shape) admitted with \(d.count) elements" }
        if let v = try? h.floats(d.path), v.count != d.count { return "floats('\(d.path)') count" }
        _ = try? h.int32s(d.path)
    }
    if (try? loadCheckpoint(path: path)) != nil { _ = try? readSourceTensors(path: path) }
    _ = try? loadTokenIDs(path: path)
    return nil
}

/// libhdf5 keeps freed blocks on free lists, but by default at most 64 KB per list, so the
/// ~600 KB metadata cache of each open file went back to malloc at every close (under ASan: an
/// mmap, page faults and shadow poisoning, five times per input). Unlimited lists reuse it.
let hdf5FreeLists: Void = { _ = H5set_free_list_limits(-1, -1, -1, -1, -1, -1) }()

/// A contiguous dataset of `dims` (at most 4096 values) holding `fill` (and a ramp).
func writeDataset(_ loc: hid_t, _ name: String, dims: [Int], type: Int32, fill: Float) {
    let count = dims.reduce(1, *)
    guard count <= 4096 else { return }
    var d = dims.map { hsize_t($0) }
    let space = dims.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(d.count), &d, nil)
    defer { H5Sclose(space) }
    let ds = H5Dcreate2(loc, name, gl_h5t_file_type(type), space, gl_h5p_default(), gl_h5p_default(), gl_h5p_default())
    guard ds >= 0 else { return }
    defer { H5Dclose(ds) }
    if type == 7 { return }                                  // a string: left unwritten
    let values = (0..<count).map { fill + Float($0 % 7) }
    _ = values.withUnsafeBytes { H5Dwrite(ds, gl_h5t_native_float(), gl_h5s_all(), gl_h5s_all(), gl_h5p_default(), $0.baseAddress) }
}

/// Creates (or opens) every group on `path` below `root`; returns the last one's id (caller closes).
func makeGroups(_ root: hid_t, _ path: [String]) -> hid_t {
    var cur = H5Gopen2(root, "/", gl_h5p_default())
    for name in path {
        let next = H5Lexists(cur, name, gl_h5p_default()) > 0
            ? H5Gopen2(cur, name, gl_h5p_default())
            : H5Gcreate2(cur, name, gl_h5p_default(), gl_h5p_default(), gl_h5p_default())
        H5Gclose(cur)
        guard next >= 0 else { return -1 }
        cur = next
    }
    return cur
}

/// A tiny GPT-2 in HF-TF (tf_model.h5) or KerasHub (.weights.h5) naming, sizes from the recipe;
/// one tensor may be dropped and one may get a wrong first dimension.
func writeTinyModel(_ file: hid_t, _ r: inout ByteReader) {
    let keras = r.u8() % 2 == 1
    let L = 1 + Int(r.u8() % 3), C = r.pick([4, 8, 16]), H = r.pick([1, 2, 4]), V = r.pick([1, 5, 16]), T = r.pick([1, 2, 8])
    let F = 4 * C, hs = C / H
    let drop = Int(r.u8()), bend = Int(r.u8())
    var tensors: [(String, [Int])] = []
    if keras {
        tensors += [("layers/reversible_embedding/vars/0", [V, C]), ("layers/position_embedding/vars/0", [T, C]),
                    ("layers/layer_normalization/vars/0", [C]), ("layers/layer_normalization/vars/1", [C])]
        for l in 0..<L {
            let p = "layers/transformer_decoder" + (l == 0 ? "" : "_\(l)") + "/"
            let a = p + "_self_attention_layer/"
            for qkv in ["query_dense", "key_dense", "value_dense"] {
                tensors += [(a + qkv + "/vars/0", [C, H, hs]), (a + qkv + "/vars/1", [H, hs])]
            }
            tensors += [(a + "output_dense/vars/0", [H, hs, C]), (a + "output_dense/vars/1", [C]),
                        (p + "_self_attention_layer_norm/vars/0", [C]), (p + "_self_attention_layer_norm/vars/1", [C]),
                        (p + "_feedforward_layer_norm/vars/0", [C]), (p + "_feedforward_layer_norm/vars/1", [C]),
                        (p + "_feedforward_intermediate_dense/vars/0", [C, F]), (p + "_feedforward_intermediate_dense/vars/1", [F]),
                        (p + "_feedforward_output_dense/vars/0", [F, C]), (p + "_feedforward_output_dense/vars/1", [C])]
        }
    } else {
        let m = "transformer/tfgp_t2lm_head_model/transformer/"
        tensors += [(m + "wte/weight:0", [V, C]), (m + "wpe/embeddings:0", [T, C]),
                    (m + "ln_f/gamma:0", [C]), (m + "ln_f/beta:0", [C])]
        for l in 0..<L {
            let p = m + "h_._\(l)/"
            tensors += [(p + "attn/c_attn/weight:0", [C, 3 * C]), (p + "attn/c_attn/bias:0", [1, 3 * C]),
                        (p + "attn/c_proj/weight:0", [C, C]), (p + "attn/c_proj/bias:0", [1, C]),
                        (p + "ln_1/gamma:0", [C]), (p + "ln_1/beta:0", [C]), (p + "ln_2/gamma:0", [C]), (p + "ln_2/beta:0", [C]),
                        (p + "mlp/c_fc/weight:0", [C, F]), (p + "mlp/c_fc/bias:0", [1, F]),
                        (p + "mlp/c_proj/weight:0", [F, C]), (p + "mlp/c_proj/bias:0", [1, C])]
        }
    }
    var groups: [String: hid_t] = [:]                     // each group opened once per model
    defer { for g in groups.values { H5Gclose(g) } }
    for (k, (name, shape)) in tensors.enumerated() where k != drop {
        var parts = name.split(separator: "/").map(String.init)
        let leaf = parts.removeLast()
        let key = parts.joined(separator: "/")
        let g = groups[key] ?? makeGroups(file, parts)
        guard g >= 0 else { continue }
        groups[key] = g
        var s = shape
        if k == bend { s[0] += 1 }
        writeDataset(g, leaf, dims: s, type: k % 5 == 4 ? 1 : 0, fill: Float(k) / 32)
    }
}
