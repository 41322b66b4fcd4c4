// HF transformers GPT-2 and nanoGPT: the same names (`h.N.attn.c_attn.weight`, …), with or
// without a `transformer.` prefix. HF's Conv1D stores matrices [in, out] (transposed here);
// nanoGPT's nn.Linear stores [out, in]. nanoGPT saves `lm_head.weight` (tied or not) and may
// be bias-free; HF drops `lm_head.weight` when tied. LayerNorm weights may be absent together
// (a run that trained none, `elementwise_affine=False`): they are then ones, not parameters.

import Engine

struct HFMapper: LayoutMapper {
    /// Matrices stored [in, out] (HF Conv1D) rather than [out, in] (nanoGPT nn.Linear).
    let conv1D: Bool
    /// Names are HDF5 paths ("h/0/attn/…") to be dotted.
    let dotted: Bool

    var layout: CheckpointLayout { conv1D ? .hf : .nanogpt }

    func key(_ name: String) -> String {
        var s = stripWrappers(dotted ? name.replacingOccurrences(of: "/", with: ".") : name)
        if s.hasPrefix("transformer.") { s.removeFirst("transformer.".count) }
        return s
    }

    func facts(_ shapes: [String: [Int]]) -> ShapeFacts {
        let emb = shapes["wte.weight"] ?? shapes["lm_head.weight"]
        var f = ShapeFacts(vocab: emb?.first, context: shapes["wpe.weight"]?.first, width: emb?.last,
                           layers: blockCount(shapes.keys, prefix: "h."))
        if let fc = shapes["h.0.mlp.c_fc.weight"], fc.count == 2 { f.inner = conv1D ? fc[1] : fc[0] }
        return f
    }

    func plan(_ c: GPT2Config) -> [Assignment] {
        let C = c.nEmbd, F = c.nInner
        /// A matrix whose canonical shape is [out, inp].
        func matrix(_ key: String, _ id: TensorID, out: Int, inp: Int) -> Assignment {
            conv1D ? Assignment(key: key, target: id, shape: [inp, out], transposeRows: inp)
                   : Assignment(key: key, target: id, shape: [out, inp])
        }
        func vector(_ key: String, _ id: TensorID, _ n: Int, optional: Bool) -> Assignment {
            Assignment(key: key, target: id, shape: [n], optional: optional)
        }
        var a: [Assignment] = [
            Assignment(key: "wte.weight", target: TensorID(.wte), shape: [c.vocabSize, C]),
            Assignment(key: "wpe.weight", target: TensorID(.wpe), shape: [c.contextLength, C]),
        ]
        for l in 0..<c.nLayer {
            let p = "h.\(l)."
            func id(_ k: TensorKind) -> TensorID { TensorID(k, layer: l) }
            a += [
                vector(p + "ln_1.weight", id(.ln1w), C, optional: true),
                vector(p + "ln_1.bias", id(.ln1b), C, optional: true),
                matrix(p + "attn.c_attn.weight", id(.qkvw), out: 3 * C, inp: C),
                vector(p + "attn.c_attn.bias", id(.qkvb), 3 * C, optional: true),
                matrix(p + "attn.c_proj.weight", id(.attprojw), out: C, inp: C),
                vector(p + "attn.c_proj.bias", id(.attprojb), C, optional: true),
                vector(p + "ln_2.weight", id(.ln2w), C, optional: true),
                vector(p + "ln_2.bias", id(.ln2b), C, optional: true),
                matrix(p + "mlp.c_fc.weight", id(.fcw), out: F, inp: C),
                vector(p + "mlp.c_fc.bias", id(.fcb), F, optional: true),
                matrix(p + "mlp.c_proj.weight", id(.fcprojw), out: C, inp: F),
                vector(p + "mlp.c_proj.bias", id(.fcprojb), C, optional: true),
            ]
        }
        a += [
            vector("ln_f.weight", TensorID(.lnfw), C, optional: true),
            vector("ln_f.bias", TensorID(.lnfb), C, optional: true),
            Assignment(key: "lm_head.weight", target: TensorID(.lmHead), shape: [c.vocabSize, C], optional: true),
        ]
        return a
    }
}
