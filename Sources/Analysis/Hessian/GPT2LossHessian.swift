import Engine

// The Hessian of a GPT-2 model's mean cross-entropy on one fixed batch, as an HVPOperator.
//
// Hessian-vector products are central differences of gradients:
//     Hv ≈ (g(θ + εv) − g(θ − εv)) / (2ε),
// with the truncation error O(ε²·‖∇³L‖) and a rounding error ≈ (fp32 noise in g)/ε. We choose ε so
// that the perturbation is a fixed fraction δ of the weights: ‖εv‖ = δ·‖θ‖, i.e.
//     ε = δ · ‖θ‖ / ‖v‖       (norms over the stored parameters),
// which makes the step independent of how v is scaled (unit vectors in Lanczos, ±1 probes
// in Hutchinson). δ = `defaultRelativeStep` (1e-3) was chosen by measurement on the baseline fixture
// (4 layers × 64, batch 4×256): vᵀHv for δ ∈ {1e-4 … 1e-2} against the exact double-backprop trace
// from PyTorch; see HessianFixtureTests and the notes in the branch report. Only stored tensors are
// perturbed or probed (absent biases stay zero; a tied head moves with wte).

/// Relative step δ = ‖εv‖ / ‖θ‖ of the finite-difference HVP.
public let defaultRelativeStep: Double = 1e-3

/// δ for the Krylov runs (Lanczos: top eigenvalues and the SLQ density), whose unit vectors line up with
/// sharp directions as power iteration's did; measured with power iteration, which this replaced. The trace's δ = 1e-3 moves the weights by ‖εv‖ = δ‖θ‖ ≈ 1.65 on the baseline
/// fixture (‖θ‖ ≈ 1652). Spread over a Rademacher probe that is ~6e-4 per weight and harmless, but along
/// the sharp direction power iteration converges to (curvature ≈ 27) it is far outside the quadratic
/// region: the central difference measures the secant curvature over ±1.65, and λ₁ came out ≈ 1.7–2.7,
/// oscillating, instead of PyTorch's 26.95. Measured λ₁ (seed 7): δ = 1e-3 → 2.67 (no convergence in
/// 25 iterations), 1e-5 → 26.68, 1e-6 → 26.944 in 6 iterations. fp32 rounding of θ ± εv at this step
/// is random noise that power iteration does not amplify.
public let defaultEigenRelativeStep: Double = 1e-6

public final class GPT2LossHessian: HVPOperator {
    public let weights: GPT2Weights
    public let backend: CPUBackend
    /// (B, T) flattened.
    public let inputs: [Int32], targets: [Int32]
    public let b: Int, t: Int
    /// δ: the perturbation's norm relative to ‖θ‖.
    public var relativeStep: Double
    /// ‖θ‖ over the stored parameters (float64).
    public let parameterNorm: Double
    public let blocks: [HVPBlock]
    public var dimension: Int { weights.layout.count }
    /// The GPU that computes the gradients, when one was given (else the CPU engine with `backend`).
    public let gpu: CUDAGradient?
    let acts: Activations?
    let scratch: GradientScratch?

    public init(weights: GPT2Weights, backend: CPUBackend = CPUBackend(), inputs: [Int32], targets: [Int32],
                b: Int, t: Int, relativeStep: Double = defaultRelativeStep, gpu: CUDAGradient? = nil) {
        precondition(inputs.count == b * t && targets.count == b * t, "internal: inputs/targets must be (B, T)")
        self.weights = weights; self.backend = backend; self.gpu = gpu
        self.inputs = inputs; self.targets = targets; self.b = b; self.t = t
        self.relativeStep = relativeStep
        blocks = weights.parameterTensors.map { HVPBlock(name: $0.canonicalName, range: weights.layout.range($0)) }
        var ss = 0.0
        for blk in blocks { for i in blk.range { ss += Double(weights.data[i]) * Double(weights.data[i]) } }
        parameterNorm = ss.squareRoot()
        // The CPU's activations are (B, T, ·) for every layer: not allocated when the GPU does the work.
        acts = gpu == nil ? Activations(config: weights.config, b: b, t: t, keepAll: true) : nil
        scratch = gpu == nil ? GradientScratch(config: weights.config, b: b, t: t) : nil
    }

    /// Mean loss and its gradient at θ, on the GPU when there is one.
    public func lossGradient() throws -> (loss: Double, gradient: [Float]) {
        if let gpu { return try gpu.gradient(inputs: inputs, targets: targets, b: b, t: t) }
        return gradient()
    }

    /// Mean loss and its gradient (layout-shaped; zero off the parameters) at `data` (default θ).
    public func gradient(at data: [Float]? = nil) -> (loss: Double, gradient: [Float]) {
        guard let acts, let scratch else { preconditionFailure("internal: the CPU gradient of a GPU operator") }
        var w = weights
        if let data { w.data = data }
        let model = GPT2Model(weights: w, backend: backend)
        var grads = [Float](repeating: 0, count: dimension)
        let loss = grads.withUnsafeMutableBufferPointer { g in
            model.forwardBackward(inputs: inputs, targets: targets, acts: acts, scratch: scratch, grads: g.baseAddress!)
        }
        return (loss, grads)
    }

    /// ε for a probe v: δ·‖θ‖/‖v‖.
    public func epsilon(for v: [Float]) -> Double {
        let nv = normD(restricted(v, to: blocks))
        return nv > 0 ? relativeStep * parameterNorm / nv : 0
    }

    /// On the GPU, the probe is drawn, applied and dotted there (Hutchinson's trace moves a few numbers a probe);
    /// ε as `epsilon(for:)` gives it for a ±1 probe: δ·‖θ‖/√(stored parameters).
    public func rademacherParts(rng: inout SplitMix64) throws -> [Double]? {
        guard let gpu else { return nil }
        let (first, total) = rademacherDraws(blocks)
        let count = blocks.reduce(0) { $0 + $1.range.count }
        let eps = relativeStep * parameterNorm / Double(count).squareRoot()
        let parts = try gpu.rademacherParts(blocks: zip(blocks, first).map { ($0.range, $1) }, state: rng.state, epsilon: eps,
                                            inputs: inputs, targets: targets, b: b, t: t)
        rng.advance(draws: UInt64(total))
        return parts
    }

    public func hvp(_ v: [Float]) throws -> [Float] {
        let eps = epsilon(for: v)
        guard eps > 0 else { return [Float](repeating: 0, count: dimension) }
        if let gpu { return try gpu.hvp(v, epsilon: eps, inputs: inputs, targets: targets, b: b, t: t) }  // restricts v itself
        var plus = weights.data, minus = weights.data
        for blk in blocks {
            for i in blk.range {
                let d = Float(eps) * v[i]
                plus[i] += d; minus[i] -= d
            }
        }
        let gp = gradient(at: plus).gradient
        let gm = gradient(at: minus).gradient
        let inv = Float(1 / (2 * eps))
        var out = [Float](repeating: 0, count: dimension)
        for i in 0..<dimension { out[i] = (gp[i] - gm[i]) * inv }
        return out
    }
}
