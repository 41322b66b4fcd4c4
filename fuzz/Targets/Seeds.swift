// Seed inputs made in code, one small list per target: a tiny valid model or file of each
// kind the target reads, so mutations start from something that gets past the first check.
// `make fuzz` adds prefixes of the fixture checkpoints (see fuzz/README.md).

import Checkpoints
import Foundation

public func generatedSeeds(_ target: String) -> [[UInt8]] {
    switch target {
    case "safetensors":
        return [tinySafetensors(hf: true), tinySafetensors(hf: false), tokenSafetensors([1, 2, 3, 50256])]
    case "hdf5":
        return [
            [6, 0, 1, 1, 0, 0, 0, 255, 255], [6, 1, 1, 1, 1, 1, 1, 255, 255], [6, 1, 0, 0, 0, 0, 0, 3, 255], [6, 0, 2, 2, 2, 2, 2, 255, 1],
            [UInt8](repeating: 0, count: 140),                          // 70 nested groups: deeper than maxDepth
            [0, 17, 0, 2, 3, 0, 3, 1, 2, 5, 2, 9, 0],                   // hard links to the root and a parent: cycles
            [4, 2, 17, 22, 10, 2, 43, 1, 64, 3],                        // a soft link and a token dataset
            [5, 42, 2, 40, 30, 1, 0],                                   // a chunked dataset with 2^48 × 2^38 elements
        ]
    case "testsets":
        let bin: [UInt8] = [0] + (0..<64).flatMap { [UInt8($0 * 3 % 256), 0] }
        return [bin, [1] + tokenSafetensors([5, 6, 7, 8, 9]), [2, 4, 2, 2, 64, 2, 32, 1, 0, 0], [2, 200, 3, 3, 100, 3, 50, 1, 0, 1, 7, 3, 100]]
    case "tokenizer":
        let text = Array("Hello world, ünïcode ✓ 👋\n  spaces   and\ttabs <|endoftext|> numbers 12345".utf8)
        let jsonl = Array(#"{"text": "first doc"}\#n{"text": "second \u00e9 <|endoftext|>"}\#n\#n{"text": ""}"#.utf8)
        return [[0] + text, [0, 0xFF, 0xC3, 0x28, 0xF0, 0x9F], [1] + [1, 0, 0, 0, 0x10, 0xC4, 0, 0, 0xFF, 0xFF, 0xFF, 0x7F], [2] + jsonl, [3] + text]
    case "manifest":
        let toml = """
            title = "t"
            test_set = "test.bin"
            context = 4
            stride = 2
            max_tokens = 6
            baseline = "a"
            reference = "b"
            per_token = ["b"]
            per_token_max_tokens = 100
            [[run]]
            name = "a"
            checkpoint = "runs/a/model.safetensors"
            lr = 4e-4
            [[run]]
            name = "b"
            checkpoint = "runs/b/model.safetensors"
            seed_group = "a"
            stack_of = ["a"]
            batch_size = 8
            """
        let meta = #"{"train": {"lr": 0.0004, "weight_decay": 0.1, "batch_size": 8, "steps": 100, "schedule": "constant"}, "tokens_seen": 1000, "loss_curve": [[1, 10.5], [50, 4.25]]}"#
        return [Array(toml.utf8), Array(toml.utf8) + [0] + Array(meta.utf8)]
    case "torch":
        var nested = PickleWriter()                               // deep MARKs, memo reuse, a refused global
        for _ in 0..<40 { nested.mark() }
        nested.emptyDict(); nested.put(1); nested.get(1); nested.global("posix", "system")
        var llmc = [UInt8](repeating: 0, count: 1024)              // an llm.c header with no parameters after it
        for (i, v) in [20240326, 3, 4, 8, 1, 2, 8, 16].enumerated() { llmc.replaceSubrange((4 * i)..<(4 * i + 4), with: le(Int32(v))) }
        return [tinyTorchCheckpoint(), tinyTorchCheckpoint(optimizer: false),
                torchArchive(pickle: nested.bytes, storages: []), llmc]
    case "evals":
        let hs = #"{"ind": 0, "activity_label": "Reading [title]", "ctx_a": "[header] How to read [title] Sit.", "ctx_b": "then", "ctx": "[header] How to read [title] Sit. then", "endings": ["open [step] it.", "b  c", "]x[", "d"], "label": 2}"#
            + "\n\n" + #"{"ctx": "A man. he", "endings": ["x", "y"], "label": "1"}"#
        let lb = #"{"text": "she said  to Anne"}"# + "\n" + #"{"text": "Anne"}"# + "\n" + #"{"text": "caf\u00e9 \u3000 x"}"#
        return [[0] + Array(hs.utf8), [1] + Array(hs.utf8), [2] + Array(lb.utf8)]
    default:
        return []
    }
}

/// A GPT-2 with V 8, T 4, C 8, one block: HF (Conv1D, no head) or nanoGPT (nn.Linear, lm_head).
func tinySafetensors(hf: Bool) -> [UInt8] {
    let V = 8, T = 4, C = 8, F = 32
    func t(_ name: String, _ shape: [Int]) -> TensorToWrite {
        let n = shape.reduce(1, *)
        return TensorToWrite(name: name, shape: shape, values: (0..<n).map { Float($0 % 5) / 8 })
    }
    func m(_ name: String, out: Int, inp: Int) -> TensorToWrite { t(name, hf ? [inp, out] : [out, inp]) }
    var ts = [t("wte.weight", [V, C]), t("wpe.weight", [T, C])]
    for b in ["h.0.ln_1.weight", "h.0.ln_1.bias", "h.0.ln_2.weight", "h.0.ln_2.bias", "h.0.attn.c_proj.bias", "h.0.mlp.c_proj.bias",
              "ln_f.weight", "ln_f.bias"] { ts.append(t(b, [C])) }
    ts += [m("h.0.attn.c_attn.weight", out: 3 * C, inp: C), t("h.0.attn.c_attn.bias", [3 * C]), m("h.0.attn.c_proj.weight", out: C, inp: C),
           m("h.0.mlp.c_fc.weight", out: F, inp: C), t("h.0.mlp.c_fc.bias", [F]), m("h.0.mlp.c_proj.weight", out: C, inp: F)]
    if !hf { ts.append(t("lm_head.weight", [V, C])); ts = ts.map { var x = $0; x.name = "_orig_mod." + x.name; return x } }
    return encoded(ts)
}

/// A safetensors test set: one I32 tensor "tokens".
func tokenSafetensors(_ ids: [Int32]) -> [UInt8] {
    let data = ids.flatMap { withUnsafeBytes(of: $0.littleEndian) { Array($0) } }
    let header = Array(#"{"tokens":{"dtype":"I32","shape":[\#(ids.count)],"data_offsets":[0,\#(data.count)]}}"#.utf8)
    return withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + data
}

private func encoded(_ ts: [TensorToWrite]) -> [UInt8] {
    let path = fuzzScratch + "/seed.safetensors"
    guard (try? writeSafetensors(path: path, tensors: ts)) != nil,
          let d = FileManager.default.contents(atPath: path) else { return [] }
    return [UInt8](d)
}
