// Raschka's LLMs-from-scratch GPTModel (also gpjt's posts): `tok_emb`, `pos_emb`,
// `trf_blocks.N.att.W_query|W_key|W_value` (nn.Linear [out, in], biases when qkv_bias),
// `att.out_proj`, `norm1|norm2|final_norm.scale|shift`, `ff.layers.0|2`, `out_head`.
// Separate q/k/v fill row blocks 0, 1, 2 of the fused qkv. `att.mask` buffers are dropped.
// Tied models keep one tensor and a `__metadata__` alias, or omit `out_head`.

import Engine

struct RaschkaMapper: LayoutMapper {
    let dotted: Bool
    var layout: CheckpointLayout { .raschka }

    func key(_ name: String) -> String { stripWrappers(dotted ? name.replacingOccurrences(of: "/", with: ".") : name) }

    func facts(_ shapes: [String: [Int]]) -> ShapeFacts {
        let emb = shapes["tok_emb.weight"] ?? shapes["out_head.weight"]
        return ShapeFacts(vocab: emb?.first, context: shapes["pos_emb.weight"]?.first, width: emb?.last,
                          layers: blockCount(shapes.keys, prefix: "trf_blocks."),
                          inner: shapes["trf_blocks.0.ff.layers.0.weight"]?.first)
    }

    func plan(_ c: GPT2Config) -> [Assignment] {
        let C = c.nEmbd, F = c.nInner
        var a: [Assignment] = [
            Assignment(key: "tok_emb.weight", target: TensorID(.wte), shape: [c.vocabSize, C]),
            Assignment(key: "pos_emb.weight", target: TensorID(.wpe), shape: [c.contextLength, C]),
        ]
        for l in 0..<c.nLayer {
            let p = "trf_blocks.\(l)."
            func id(_ k: TensorKind) -> TensorID { TensorID(k, layer: l) }
            a += [
                Assignment(key: p + "norm1.scale", target: id(.ln1w), shape: [C]),
                Assignment(key: p + "norm1.shift", target: id(.ln1b), shape: [C], optional: true),
            ]
            for (part, name) in ["W_query", "W_key", "W_value"].enumerated() {
                a.append(Assignment(key: p + "att.\(name).weight", target: id(.qkvw), part: part, parts: 3, shape: [C, C]))
                a.append(Assignment(key: p + "att.\(name).bias", target: id(.qkvb), part: part, parts: 3, shape: [C], optional: true))
            }
            a += [
                Assignment(key: p + "att.out_proj.weight", target: id(.attprojw), shape: [C, C]),
                Assignment(key: p + "att.out_proj.bias", target: id(.attprojb), shape: [C], optional: true),
                Assignment(key: p + "norm2.scale", target: id(.ln2w), shape: [C]),
                Assignment(key: p + "norm2.shift", target: id(.ln2b), shape: [C], optional: true),
                Assignment(key: p + "ff.layers.0.weight", target: id(.fcw), shape: [F, C]),
                Assignment(key: p + "ff.layers.0.bias", target: id(.fcb), shape: [F], optional: true),
                Assignment(key: p + "ff.layers.2.weight", target: id(.fcprojw), shape: [C, F]),
                Assignment(key: p + "ff.layers.2.bias", target: id(.fcprojb), shape: [C], optional: true),
            ]
        }
        a += [
            Assignment(key: "final_norm.scale", target: TensorID(.lnfw), shape: [C]),
            Assignment(key: "final_norm.shift", target: TensorID(.lnfb), shape: [C], optional: true),
            Assignment(key: "out_head.weight", target: TensorID(.lmHead), shape: [c.vocabSize, C], optional: true),
        ]
        return a
    }
}
