// KerasHub GPT2Backbone `model.weights.h5`: `layers/<layer>/…/vars/<i>`. Keras Dense kernels
// are [in, out]; the attention's EinsumDense kernels are q/k/v (C, NH, hs) and output
// (NH, hs, C), which flatten to [C, C] in the same head-major order GPT-2 splits heads in.
// Blocks are `transformer_decoder`, `transformer_decoder_1`, … (numbered, not sorted by name).
// `reversible_embedding/vars/0` is wte; a `vars/1` (C, V) is an untied LM head.

import Engine

struct KerasHubMapper: LayoutMapper {
    var layout: CheckpointLayout { .kerasHub }

    /// The path from the last "layers/" on: KerasHub nests the backbone under a prefix, as a `GPT2CausalLM`'s
    /// `save_weights` does (`layers/gpt2_backbone/layers/transformer_decoder/…`, which kept its prefix and was
    /// refused as missing every tensor).
    func key(_ name: String) -> String {
        if let r = name.range(of: "/layers/", options: .backwards) { return String(name[name.index(after: r.lowerBound)...]) }
        return name
    }

    static func block(_ l: Int) -> String { l == 0 ? "layers/transformer_decoder/" : "layers/transformer_decoder_\(l)/" }

    func facts(_ shapes: [String: [Int]]) -> ShapeFacts {
        let emb = shapes["layers/reversible_embedding/vars/0"]
        var layers = 0
        for k in shapes.keys {
            guard let r = k.range(of: "layers/transformer_decoder") else { continue }
            let rest = k[r.upperBound...]
            if rest.hasPrefix("/") { layers = max(layers, 1) }
            else if rest.hasPrefix("_"), let n = Int(rest.dropFirst().prefix { $0.isNumber }) { layers = max(layers, n + 1) }
        }
        let q = shapes[Self.block(0) + "_self_attention_layer/query_dense/vars/0"]
        return ShapeFacts(vocab: emb?.first, context: shapes["layers/position_embedding/vars/0"]?.first,
                          width: emb?.last, layers: layers,
                          inner: shapes[Self.block(0) + "_feedforward_intermediate_dense/vars/0"]?.last,
                          heads: q.flatMap { $0.count == 3 ? $0[1] : nil })
    }

    func plan(_ c: GPT2Config) -> [Assignment] {
        let C = c.nEmbd, F = c.nInner, NH = c.nHead, hs = c.headSize
        var a: [Assignment] = [
            Assignment(key: "layers/reversible_embedding/vars/0", target: TensorID(.wte), shape: [c.vocabSize, C]),
            Assignment(key: "layers/position_embedding/vars/0", target: TensorID(.wpe), shape: [c.contextLength, C]),
        ]
        for l in 0..<c.nLayer {
            let p = Self.block(l), att = p + "_self_attention_layer/"
            func id(_ k: TensorKind) -> TensorID { TensorID(k, layer: l) }
            a += [
                Assignment(key: p + "_self_attention_layer_norm/vars/0", target: id(.ln1w), shape: [C]),
                Assignment(key: p + "_self_attention_layer_norm/vars/1", target: id(.ln1b), shape: [C], optional: true),
            ]
            for (part, name) in ["query_dense", "key_dense", "value_dense"].enumerated() {
                a.append(Assignment(key: att + name + "/vars/0", target: id(.qkvw), part: part, parts: 3,
                                    shape: [C, NH, hs], transposeRows: C))
                a.append(Assignment(key: att + name + "/vars/1", target: id(.qkvb), part: part, parts: 3,
                                    shape: [NH, hs], optional: true))
            }
            a += [
                Assignment(key: att + "output_dense/vars/0", target: id(.attprojw), shape: [NH, hs, C], transposeRows: C),
                Assignment(key: att + "output_dense/vars/1", target: id(.attprojb), shape: [C], optional: true),
                Assignment(key: p + "_feedforward_layer_norm/vars/0", target: id(.ln2w), shape: [C]),
                Assignment(key: p + "_feedforward_layer_norm/vars/1", target: id(.ln2b), shape: [C], optional: true),
                Assignment(key: p + "_feedforward_intermediate_dense/vars/0", target: id(.fcw), shape: [C, F], transposeRows: C),
                Assignment(key: p + "_feedforward_intermediate_dense/vars/1", target: id(.fcb), shape: [F], optional: true),
                Assignment(key: p + "_feedforward_output_dense/vars/0", target: id(.fcprojw), shape: [F, C], transposeRows: F),
                Assignment(key: p + "_feedforward_output_dense/vars/1", target: id(.fcprojb), shape: [C], optional: true),
            ]
        }
        a += [
            Assignment(key: "layers/layer_normalization/vars/0", target: TensorID(.lnfw), shape: [C]),
            Assignment(key: "layers/layer_normalization/vars/1", target: TensorID(.lnfb), shape: [C], optional: true),
            Assignment(key: "layers/reversible_embedding/vars/1", target: TensorID(.lmHead), shape: [C, c.vocabSize],
                       transposeRows: C, optional: true),
        ]
        return a
    }
}
