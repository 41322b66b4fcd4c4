import CCUDA

// The GPU scorer checked against the CPU engine on one window (GPT2LAB_CUDA_CHECK=1): every stage of
// block 0, each block's output, ln_f and the per-token NLL, each as the largest difference, so a
// mismatch points at the first stage that diverges.

extension CUDAModel {
    /// Runs one window (`inputs`, `targets`: t ids) through `cpu` (the same weights on the CPU engine)
    /// and this model; one line per stage: the largest |GPU − CPU| and the largest |CPU| value, and a
    /// last line naming the first stage whose difference passes `tolerance` of its scale.
    public func checkAgainstCPU(_ cpu: GPT2Model, inputs: [Int32], targets: [Int32], t: Int) throws -> [String] {
        let c = config, C = c.nEmbd, F = c.nInner, L = c.nLayer, TC = t * C
        let acts = Activations(config: c, b: 1, t: t, keepAll: true)
        inputs.withUnsafeBufferPointer { ip in
            targets.withUnsafeBufferPointer { tp in
                cpu.forward(inputs: ip.baseAddress!, targets: tp.baseAddress!, scoredFrom: [0], acts: acts)
            }
        }
        var g = (enc: [Float](repeating: 0, count: TC), ln1: [Float](repeating: 0, count: TC),
                 qkv: [Float](repeating: 0, count: 3 * TC), atty: [Float](repeating: 0, count: TC),
                 res2: [Float](repeating: 0, count: TC), ln2: [Float](repeating: 0, count: TC),
                 fch: [Float](repeating: 0, count: t * F), gelu: [Float](repeating: 0, count: t * F),
                 blocks: [Float](repeating: 0, count: L * TC), lnf: [Float](repeating: 0, count: TC))
        let nll: [Float] = try g.enc.withUnsafeMutableBufferPointer { enc in
            try g.ln1.withUnsafeMutableBufferPointer { ln1 in
            try g.qkv.withUnsafeMutableBufferPointer { qkv in
            try g.atty.withUnsafeMutableBufferPointer { atty in
            try g.res2.withUnsafeMutableBufferPointer { res2 in
            try g.ln2.withUnsafeMutableBufferPointer { ln2 in
            try g.fch.withUnsafeMutableBufferPointer { fch in
            try g.gelu.withUnsafeMutableBufferPointer { gelu in
            try g.blocks.withUnsafeMutableBufferPointer { blocks in
            try g.lnf.withUnsafeMutableBufferPointer { lnf in
                var d = gl_cuda_dump(encoded: enc.baseAddress, ln1: ln1.baseAddress, qkv: qkv.baseAddress, atty: atty.baseAddress,
                                     res2: res2.baseAddress, ln2: ln2.baseAddress, fch: fch.baseAddress, gelu: gelu.baseAddress,
                                     blocks: blocks.baseAddress, lnf: lnf.baseAddress)
                return try self.nll(inputs: inputs, targets: targets, b: 1, t: t, dump: &d)
            } } } } } } } } } }
        let b0 = acts.block(0)
        // The CPU's bf16 products round their inputs in place; compare those stages rounded on both sides.
        let rounded = precision == .bf16
        var stages: [(String, [Float], UnsafeMutablePointer<Float>, Bool)] = [
            ("embeddings", g.enc, acts.encoded, false), ("block 0 ln_1", g.ln1, b0.ln1, rounded),
            ("block 0 qkv", g.qkv, b0.qkv, false), ("block 0 attention", g.atty, b0.atty, rounded),
            ("block 0 residual after attention", g.res2, b0.residual2, false), ("block 0 ln_2", g.ln2, b0.ln2, rounded),
            ("block 0 fc", g.fch, b0.fch, false), ("block 0 gelu", g.gelu, b0.fchGelu, rounded),
        ]
        for l in 0..<L { stages.append(("block \(l) output", Array(g.blocks[l * TC..<(l + 1) * TC]), acts.block(l).residual3, false)) }
        stages.append(("ln_f", g.lnf, acts.lnf, false))
        stages.append(("nll", nll, acts.nll, false))
        // bf16 and one TF32 product round their inputs to 8 and 10 mantissa bits: a coarser scale of agreement.
        let tolerance: Float = precision == .bf16 || math == .tf32 ? 2e-2 : 1e-3
        var lines: [String] = [], first: String? = nil
        for (name, gpu, cpuValues, round) in stages {
            var a = gpu, b = Array(UnsafeBufferPointer(start: cpuValues, count: gpu.count))
            if round { roundToBF16(&a, count: a.count); roundToBF16(&b, count: b.count) }
            var diff: Float = 0, scale: Float = 0, nan = 0
            for i in 0..<a.count {
                if a[i].isNaN != b[i].isNaN { nan += 1; continue }
                diff = max(diff, abs(a[i] - b[i])); scale = max(scale, abs(b[i]))
            }
            lines.append("check \(name): max |gpu - cpu| \(diff) (max |cpu| \(scale)\(nan > 0 ? ", \(nan) NaN on one side only" : ""))")
            if first == nil && (nan > 0 || diff > tolerance * max(scale, 1)) { first = name }
        }
        let meanGPU = nll.reduce(0.0) { $0 + Double($1) } / Double(t)
        let meanCPU = (0..<t).reduce(0.0) { $0 + Double(acts.nll[$1]) } / Double(t)
        lines.append("check window 0 mean NLL: gpu \(meanGPU) cpu \(meanCPU) difference \(meanGPU - meanCPU)")
        lines.append(first.map { "check FIRST DIVERGENCE at \($0) (difference above \(tolerance) of its scale)" }
                     ?? "check all stages agree within \(tolerance) of their scale")
        return lines
    }
}
