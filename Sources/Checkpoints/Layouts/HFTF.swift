// HF transformers' TensorFlow `tf_model.h5` (Keras legacy weights):
// `transformer/tfgp_t2lm_head_model/transformer/h_._N/attn/c_attn/weight:0`. TF Conv1D
// weights are [in, out] like PyTorch's; biases are stored (1, n); LayerNorms are
// gamma/beta; the position embedding is `wpe/embeddings:0`. The LM head is always tied.

import Engine

struct HFTFMapper: LayoutMapper {
    var layout: CheckpointLayout { .hfTF }

    /// The path after the last "transformer/" component (the model's main layer).
    func key(_ name: String) -> String {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard let i = parts.lastIndex(of: "transformer"), i + 1 < parts.count else { return name }
        return parts[(i + 1)...].joined(separator: "/")
    }

    func facts(_ shapes: [String: [Int]]) -> ShapeFacts {
        let emb = shapes["wte/weight:0"]
        return ShapeFacts(vocab: emb?.first, context: shapes["wpe/embeddings:0"]?.first, width: emb?.last,
                          layers: blockCount(shapes.keys, prefix: "h_._"),
                          inner: shapes["h_._0/mlp/c_fc/weight:0"]?.last)
    }

    func plan(_ c: GPT2Config) -> [Assignment] {
        let C = c.nEmbd, F = c.nInner
        func matrix(_ key: String, _ id: TensorID, out: Int, inp: Int) -> Assignment {
            Assignment(key: key, target: id, shape: [inp, out], transposeRows: inp)
        }
        func bias(_ key: String, _ id: TensorID, _ n: Int) -> Assignment {
            Assignment(key: key, target: id, shape: [1, n], optional: true)
        }
        func norm(_ p: String, _ w: TensorID, _ b: TensorID) -> [Assignment] {
            [Assignment(key: p + "gamma:0", target: w, shape: [C]),
             Assignment(key: p + "beta:0", target: b, shape: [C], optional: true)]
        }
        var a: [Assignment] = [
            Assignment(key: "wte/weight:0", target: TensorID(.wte), shape: [c.vocabSize, C]),
            Assignment(key: "wpe/embeddings:0", target: TensorID(.wpe), shape: [c.contextLength, C]),
        ]
        for l in 0..<c.nLayer {
            let p = "h_._\(l)/"
            func id(_ k: TensorKind) -> TensorID { TensorID(k, layer: l) }
            a += norm(p + "ln_1/", id(.ln1w), id(.ln1b))
            a += [
                matrix(p + "attn/c_attn/weight:0", id(.qkvw), out: 3 * C, inp: C),
                bias(p + "attn/c_attn/bias:0", id(.qkvb), 3 * C),
                matrix(p + "attn/c_proj/weight:0", id(.attprojw), out: C, inp: C),
                bias(p + "attn/c_proj/bias:0", id(.attprojb), C),
            ]
            a += norm(p + "ln_2/", id(.ln2w), id(.ln2b))
            a += [
                matrix(p + "mlp/c_fc/weight:0", id(.fcw), out: F, inp: C),
                bias(p + "mlp/c_fc/bias:0", id(.fcb), F),
                matrix(p + "mlp/c_proj/weight:0", id(.fcprojw), out: C, inp: F),
                bias(p + "mlp/c_proj/bias:0", id(.fcprojb), C),
            ]
        }
        a += norm("ln_f/", TensorID(.lnfw), TensorID(.lnfb))
        return a
    }
}
