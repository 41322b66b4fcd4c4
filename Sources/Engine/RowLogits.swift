// Logits at chosen positions of a batch: what multiple-choice and cloze benchmarks need (the log-probability
// of each continuation token and whether it is the argmax), without the (B, T, V) logits of every position.

extension GPT2Model {
    /// Runs the forward over `inputs` (B, T) (ids < V, T ≤ context; callers validate) and returns the logits
    /// (rows.count, V), row-major, at the flat positions `rows` (each b·T + t): the LM head applied to ln_f's
    /// output there only. Causal: a row's logits depend only on the tokens at and before its position, so a
    /// row padded at its end scores its real positions as the unpadded row would.
    public func logits(inputs: [Int32], b B: Int, t T: Int, rows: [Int]) -> [Float] {
        precondition(inputs.count == B * T && rows.allSatisfy { (0..<(B * T)).contains($0) }, "internal: rows of a (\(B), \(T)) batch")
        let C = config.nEmbd
        let acts = Activations(config: config, b: B, t: T, keepAll: false)
        inputs.withUnsafeBufferPointer { forwardTrunk(inputs: $0.baseAddress!, acts: acts) }
        // Gather the chosen rows of ln_f's output (rows, C), then one GEMM against the head.
        var x = [Float](repeating: 0, count: rows.count * C)
        x.withUnsafeMutableBufferPointer { xp in
            for (i, r) in rows.enumerated() { (xp.baseAddress! + i * C).update(from: acts.lnf + r * C, count: C) }
        }
        return x.withUnsafeBufferPointer { headLogits($0.baseAddress!, rows: rows.count) }
    }
}
