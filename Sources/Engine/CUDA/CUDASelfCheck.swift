#if canImport(Glibc)
@preconcurrency import Glibc   // C's stderr: a write to a closed stream is ignored there, FileHandle traps
#endif
import Foundation
import Synchronization

// Before a GPU scores anything (CUDAModel) or computes a Hessian's gradients (CUDAGradient), it runs a small
// built-in model that the CPU engine also runs, and the two must agree. The kernels are compiled on the user's
// machine by the user's NVRTC for the GPU at hand and run with the user's cuBLAS; CI checks their C twins on
// an emulated device, not those binaries. So a kernel that misbehaves on one GPU, driver or library version
// (a layout, a missing bias, a race) refuses the device with one line instead of giving a wrong loss with exit 0.
//
// The check model has the user's head width (so attention takes the same path: fused or products), two
// heads, two blocks, biases, the user's tying, and a vocabulary of 8,392 (two of the LM head's 8,192-column
// chunks, the second partial); it runs 2 windows of 96 tokens (a full and a partial 64-row attention tile)
// in the user's precision and math. Weights are GPT2Weights.random's: logits spread over several nats, so a
// missing term moves the losses by far more than rounding does. Once per process per GPU, precision, math,
// head width and tying; a few milliseconds of GPU time after the check's own context opens.

/// The per-token NLL differences |GPU − CPU| the forward check allows: their mean (a term missing anywhere moves
/// every token) and their largest (a few tokens gone wrong). On the emulated device (EmulatedSelfCheckTests
/// prints them) rounding alone gives means up to 7e-6 in f32 and the TF32 split, 0.0098 with one TF32 product,
/// 0.019 in bf16 (its attention rounds q, k, v and the probabilities where the CPU's keeps f32), and largest
/// differences up to 0.08; one bias, gain or embedding dropped gives means from 0.15 up.
func selfCheckTolerance(precision: Precision, math: GPUMath?) -> (mean: Float, largest: Float) {
    if precision == .bf16 { return (0.06, 0.5) }
    return math == .tf32 ? (0.05, 0.5) : (1e-3, 0.02)
}

/// The gradient check's tolerances: the mean NLL's |GPU − CPU|, and ‖g_GPU − g_CPU‖ / ‖g_CPU‖. Both sides run
/// in f32 (the gradient's products are cuBLAS FP32); EmulatedSelfCheckTests prints what rounding gives.
let gradientCheckTolerance = (loss: 1e-4, gradient: 1e-3)

struct SelfCheckKey: Hashable {
    var ordinal: Int, precision: Precision, math: GPUMath?, headSize: Int, tied: Bool, attention: String?
    /// The Hessian's gradient (CUDAGradient) rather than the scoring forward.
    var gradient = false
}

/// Each key's outcome: nil when the GPU agreed, else the refusal.
private let selfCheckOutcomes = Mutex<[SelfCheckKey: String?]>([:])

/// GPT2LAB_CUDA_SELF_CHECK=off skips the checks, for diagnosing a refusal (bench/gpu/check.sh times the GPU
/// with it when doctor reports one); every process that skips says so on stderr, once.
private let selfCheckSkipped: Bool = {
    guard ProcessInfo.processInfo.environment["GPT2LAB_CUDA_SELF_CHECK"] == "off" else { return false }
    fputs("gpt2lab: warning: GPT2LAB_CUDA_SELF_CHECK=off: the GPU runs without its self-check; its numbers are unchecked\n", stderr)
    return true
}()

/// Runs `check` once per process for `key`, remembering its refusal (nil: passed); throws the refusal.
private func onceSelfCheck(_ key: SelfCheckKey, _ check: () throws -> String?) throws {
    if selfCheckSkipped { return }
    if let known = selfCheckOutcomes.withLock({ $0[key] }) {
        if let why = known { throw CUDAError(why) }
        return
    }
    let why = try check()
    selfCheckOutcomes.withLock { $0[key] = .some(why) }
    if let why { throw CUDAError(why) }
}

/// The check model: heads `headSize` wide, tied or not, at `precision`.
func selfCheckWeights(headSize: Int, tied: Bool, precision: Precision) -> ModelWeights {
    let config = GPT2Config(vocabSize: 8392, contextLength: 96, nEmbd: 2 * headSize, nLayer: 2, nHead: 2)
    return ModelWeights.f32(GPT2Weights.random(config: config, tied: tied, biases: true, seed: 0x5E1F)).at(precision)
}

/// The check's tokens: 2 windows of 96 over `v` ids.
func selfCheckTokens(vocabulary v: Int) -> (inputs: [Int32], targets: [Int32], b: Int, t: Int) {
    let (b, t) = (2, 96)
    var rng = SplitMix64(seed: 0xC0FFEE)
    let ids = (0...b * t).map { _ in Int32(rng.next() % UInt64(v)) }
    return (Array(ids[0..<b * t]), Array(ids[1...b * t]), b, t)
}

private func refusal(_ ordinal: Int, _ what: String, _ detail: String) -> String {
    "cuda:\(ordinal): the GPU's \(what) disagrees with the CPU engine on gpt2lab's built-in check model (\(detail)): "
        + "refusing to use this GPU; --device cpu runs on the CPU"
}

/// The forward check for heads `headSize` wide, tied or not, at `precision` in `math` (ignored for bf16) on GPU
/// `ordinal`: whether it passed, and its differences against what rounding allows.
func forwardSelfCheck(headSize: Int, tied: Bool, precision: Precision, math: GPUMath,
                      ordinal: Int) throws -> (passed: Bool, detail: String) {
    let w = selfCheckWeights(headSize: headSize, tied: tied, precision: precision)
    let d = try CUDAModel.selfCheckDifference(gpu: w, cpu: w, ordinal: ordinal, math: math)
    let tol = selfCheckTolerance(precision: precision, math: precision == .bf16 ? nil : math)
    return (d.mean <= tol.mean && d.largest <= tol.largest,   // NaN fails
            String(format: "per-token loss differences of %.3g on average and %.3g at most, where rounding allows %g and %g",
                   d.mean, d.largest, tol.mean, tol.largest))
}

/// The gradient check for heads `headSize` wide, tied or not, on GPU `ordinal`: whether it passed, and its
/// differences against what rounding allows.
func gradientSelfCheck(headSize: Int, tied: Bool, ordinal: Int) throws -> (passed: Bool, detail: String) {
    let w = selfCheckWeights(headSize: headSize, tied: tied, precision: .f32).f32!
    let d = try CUDAGradient.selfCheckDifference(gpu: w, cpu: w, ordinal: ordinal)
    let tol = gradientCheckTolerance
    return (d.loss <= tol.loss && d.gradient <= tol.gradient,   // NaN fails
            String(format: "loss off by %.3g and the gradient by %.3g of its norm, where rounding allows %g and %g",
                   d.loss, d.gradient, tol.loss, tol.gradient))
}

extension CUDAModel {
    /// Runs the forward check for a model like `parameters` on GPU `ordinal` (once per key); throws the refusal.
    static func selfCheck(like parameters: ModelWeights, ordinal: Int, math: GPUMath) throws {
        let key = SelfCheckKey(ordinal: ordinal, precision: parameters.precision,
                               math: parameters.precision == .bf16 ? nil : math, headSize: parameters.config.headSize,
                               tied: parameters.tied, attention: ProcessInfo.processInfo.environment["GPT2LAB_CUDA_ATTENTION"])
        try onceSelfCheck(key) {
            let r = try forwardSelfCheck(headSize: key.headSize, tied: key.tied, precision: key.precision, math: math, ordinal: ordinal)
            return r.passed ? nil : refusal(ordinal, "forward", "\(key.precision)\(key.math.map { ", \($0.rawValue)" } ?? ""): \(r.detail)")
        }
    }

    /// The mean and largest |GPU − CPU| per-token NLL (NaN if any is) when `gpu` runs on the device and `cpu` on
    /// the CPU engine (the same weights but in tests, which hand the device a defect).
    static func selfCheckDifference(gpu: ModelWeights, cpu: ModelWeights, ordinal: Int,
                                    math: GPUMath) throws -> (mean: Float, largest: Float) {
        let (inputs, targets, b, t) = selfCheckTokens(vocabulary: cpu.config.vocabSize)
        let got = try CUDAModel(unchecked: gpu, ordinal: ordinal, math: math).nll(inputs: inputs, targets: targets, b: b, t: t)
        let model = GPT2Model(parameters: cpu)
        let acts = Activations(config: cpu.config, b: b, t: t, keepAll: false)
        inputs.withUnsafeBufferPointer { ip in
            targets.withUnsafeBufferPointer { tp in
                model.forward(inputs: ip.baseAddress!, targets: tp.baseAddress!, scoredFrom: [0, 0], acts: acts)
            }
        }
        var total = 0.0, largest: Float = 0
        for (g, c) in zip(got, UnsafeBufferPointer(start: acts.nll, count: b * t)) {
            let d = abs(g - c)
            if d.isNaN { return (.nan, .nan) }
            total += Double(d); largest = max(largest, d)
        }
        return (Float(total / Double(b * t)), largest)
    }
}

extension CUDAGradient {
    /// Runs the gradient check for weights like `weights` on GPU `ordinal` (once per key); throws the refusal.
    static func selfCheck(like weights: GPT2Weights, ordinal: Int) throws {
        let key = SelfCheckKey(ordinal: ordinal, precision: .f32, math: .f32, headSize: weights.config.headSize,
                               tied: weights.tied, attention: nil, gradient: true)
        try onceSelfCheck(key) {
            let r = try gradientSelfCheck(headSize: key.headSize, tied: key.tied, ordinal: ordinal)
            return r.passed ? nil : refusal(ordinal, "gradient", r.detail)
        }
    }

    /// |GPU − CPU| of the mean NLL, and ‖g_GPU − g_CPU‖ / ‖g_CPU‖, when `gpu` runs on the device and `cpu` on
    /// the CPU engine (the same weights but in tests).
    static func selfCheckDifference(gpu: GPT2Weights, cpu: GPT2Weights, ordinal: Int) throws -> (loss: Double, gradient: Double) {
        let (inputs, targets, b, t) = selfCheckTokens(vocabulary: cpu.config.vocabSize)
        let got = try CUDAGradient(unchecked: gpu, ordinal: ordinal).gradient(inputs: inputs, targets: targets, b: b, t: t)
        let model = GPT2Model(weights: cpu)
        let acts = Activations(config: cpu.config, b: b, t: t, keepAll: true)
        var want = [Float](repeating: 0, count: cpu.layout.count)
        let loss = inputs.withUnsafeBufferPointer { ip in
            targets.withUnsafeBufferPointer { tp in
                want.withUnsafeMutableBufferPointer { gp in
                    model.forwardBackward(inputs: ip.baseAddress!, targets: tp.baseAddress!, acts: acts,
                                          scratch: GradientScratch(config: cpu.config, b: b, t: t), grads: gp.baseAddress!)
                }
            }
        }
        var diff = 0.0, norm = 0.0
        for (g, c) in zip(got.gradient, want) { diff += Double(g - c) * Double(g - c); norm += Double(c) * Double(c) }
        return (abs(got.loss - loss), (diff / max(norm, .leastNormalMagnitude)).squareRoot())
    }
}

/// doctor's view of the checks on GPU `ordinal` for a GPT-2-shaped model (64-wide heads, tied): one line per
/// precision and math, and the gradient's, each with its differences, what rounding allows, and the verdict.
public func cudaSelfCheckLines(ordinal: Int) -> [String] {
    func line(_ name: String, _ check: () throws -> (passed: Bool, detail: String)) -> String {
        do {
            let r = try check()
            return "\(name): \(r.detail): " + (r.passed ? "passed" : "REFUSED")
        } catch {
            return "\(name): failed to run: \(error)"
        }
    }
    return [(Precision.f32, GPUMath.split), (.f32, .f32), (.f32, .tf32), (.bf16, .split)].map { precision, math in
        line("\(precision == .bf16 ? "bf16" : math.rawValue) forward") {
            try forwardSelfCheck(headSize: 64, tied: true, precision: precision, math: math, ordinal: ordinal)
        }
    } + [line("gradient") { try gradientSelfCheck(headSize: 64, tied: true, ordinal: ordinal) }]
}
