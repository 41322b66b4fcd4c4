import CCUDA

// GPT-2's loss gradient on one GPU, behind the Hessian's finite-difference products
// (Sources/CCUDA/backward.c). The f32 weights are held as one flat copy of the parameter layout (θ),
// beside a working copy (θ ± εv), two gradients and a probe, so a Hessian-vector product moves only v
// up and Hv down. Products run in cuBLAS's FP32: a central difference divides two gradients' difference
// by 2ε, and ε is small for the Krylov runs (defaultEigenRelativeStep), so the gradient must carry f32's
// rounding, not TF32's. Slots of tensors the checkpoint does not store (absent biases) stay zero in every
// gradient, as on the CPU.

public final class CUDAGradient {
    public let config: GPT2Config
    /// The GPU, its compute capability and where the kernels came from.
    public private(set) var info: GPUInfo
    let ctx: OpaquePointer
    let layout: ParameterLayout
    let absent: [Range<Int>]
    /// Every buffer this object allocated, with its size (freed together).
    private var buffers: [(address: UInt64, bytes: Int)] = []
    let theta: UInt64, work: UInt64, plus: UInt64, minus: UInt64, probe: UInt64
    /// The per-tile sums of vᵀHv (rademacherParts), allocated at first use.
    private var partsBuffer: UInt64 = 0
    /// The per-tile sums of a dot product over the whole layout (`dot`), allocated at first use.
    var dotParts: UInt64 = 0

    /// Uploads `weights` to GPU `ordinal`. First, once per process, this GPU's loss and gradient of the built-in
    /// check model must be the CPU engine's (CUDASelfCheck.swift).
    public convenience init(weights: GPT2Weights, ordinal: Int) throws {
        try CUDAGradient.selfCheck(like: weights, ordinal: ordinal)
        try self.init(unchecked: weights, ordinal: ordinal)
    }

    /// The weights on the device without the self-check (the check's own).
    init(unchecked weights: GPT2Weights, ordinal: Int) throws {
        config = weights.config
        layout = weights.layout
        absent = layout.tensors.filter { !weights.isStored($0) }.map { weights.layout.range($0) }
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        var opened: OpaquePointer? = nil
        guard gl_cuda_open(Int32(ordinal), GPUMath.f32.cValue, &opened, &err) == 0, let c = opened else {
            throw CUDAError("cuda:\(ordinal): " + String(cString: err))
        }
        var made: [UInt64] = []
        func fail(_ what: String) -> CUDAError {
            for p in made { gl_cuda_free(c, p, weights.layout.count * 4) }
            gl_cuda_close(c)
            return CUDAError("cuda:\(ordinal): \(what): " + String(cString: err))
        }
        for _ in 0..<5 {
            var p: UInt64 = 0
            guard gl_cuda_alloc_bytes(c, weights.layout.count * 4, &p, &err) == 0 else { throw fail("the Hessian's buffers") }
            made.append(p)
        }
        let rc = weights.data.withUnsafeBytes { gl_cuda_copy_in(c, made[0], $0.baseAddress, $0.count, &err) }
        guard rc == 0 else { throw fail("uploading the weights") }
        var gpu: GPUInfo
        do { gpu = try gpuInfo(ordinal: ordinal) } catch {
            err = Array("\(error)".utf8CString)
            throw fail("describing the GPU")
        }
        gpu.kernels = String(cString: gl_cuda_kernel_origin(c))
        gpu.math = GPUMath.f32.rawValue
        ctx = c; info = gpu; buffers = made.map { ($0, weights.layout.count * 4) }
        theta = made[0]; work = made[1]; plus = made[2]; minus = made[3]; probe = made[4]
    }

    deinit { release() }

    private func release() {
        for b in buffers { gl_cuda_free(ctx, b.address, b.bytes) }
        buffers = []
        gl_cuda_close(ctx)
    }

    /// Bytes held on the device now and the most held at once.
    public var bytesHeld: Int { gl_cuda_bytes_held(ctx) }
    public var peakBytes: Int { gl_cuda_bytes_peak(ctx) }

    func check(_ rc: Int32, _ err: [CChar], _ what: String) throws {
        guard rc == 0 else { throw CUDAError("cuda:\(info.ordinal): \(what): " + String(cString: err)) }
    }

    /// Device bytes a CUDAGradient of a `layoutCount`-float layout holds for b windows of t tokens: five copies of
    /// the weights (θ, θ ± εv, two gradients, the probe) and the gradient's buffers (kept activations and the rest).
    public static func deviceBytes(config c: GPT2Config, layoutCount: Int, b: Int, t: Int) -> Int {
        var m = gl_cuda_model(shape: c)
        return 5 * layoutCount * 4 + gl_cuda_gradient_bytes(&m, Int32(b), Int32(t))
    }

    /// The C side's view of a layout-shaped buffer at `base`: each tensor's address; the head is wte's when tied.
    private func model(at base: UInt64) -> (gl_cuda_model, [gl_cuda_block]) {
        let c = config
        func p(_ id: TensorID) -> UInt64 { base + UInt64(layout.offsets[id]! * 4) }
        let blocks = (0..<c.nLayer).map { l -> gl_cuda_block in
            func q(_ k: TensorKind) -> UInt64 { p(TensorID(k, layer: l)) }
            return gl_cuda_block(ln1w: q(.ln1w), ln1b: q(.ln1b), qkvw: q(.qkvw), qkvb: q(.qkvb), attprojw: q(.attprojw),
                                 attprojb: q(.attprojb), ln2w: q(.ln2w), ln2b: q(.ln2b), fcw: q(.fcw), fcb: q(.fcb),
                                 fcprojw: q(.fcprojw), fcprojb: q(.fcprojb))
        }
        var m = gl_cuda_model(shape: c)
        m.wte = p(TensorID(.wte)); m.wpe = p(TensorID(.wpe)); m.lnfw = p(TensorID(.lnfw)); m.lnfb = p(TensorID(.lnfb))
        m.head = layout.offsets[TensorID(.lmHead)] != nil ? p(TensorID(.lmHead)) : m.wte
        return (m, blocks)
    }

    /// Zeroes `grad`, adds the gradient of the mean NLL at the weights in `weights` into it; the mean NLL.
    private func gradient(weights: UInt64, into grad: UInt64, inputs: [Int32], targets: [Int32], b: Int, t: Int) throws -> Double {
        precondition(inputs.count == b * t && targets.count == b * t, "internal: \(b) windows of \(t) ids")
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        try check(gl_cuda_zero(ctx, grad, layout.count, &err), err, "zeroing a gradient")
        var (m, mb) = model(at: weights)
        var (g, gb) = model(at: grad)
        var loss = 0.0
        let rc = mb.withUnsafeBufferPointer { mp in
            gb.withUnsafeBufferPointer { gp -> Int32 in
                m.blocks = mp.baseAddress; g.blocks = gp.baseAddress
                return gl_cuda_gradient(ctx, &m, &g, inputs, targets, Int32(b), Int32(t), &loss, &err)
            }
        }
        try check(rc, err, "gradient")
        return loss
    }

    private func download(_ p: UInt64) throws -> [Float] {
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        var out = [Float](repeating: 0, count: layout.count)
        let rc = out.withUnsafeMutableBytes { gl_cuda_download(ctx, $0.baseAddress, p, $0.count, &err) }
        try check(rc, err, "downloading a gradient")
        for r in absent { for i in r { out[i] = 0 } }
        return out
    }

    /// The mean NLL over `b` windows of `t` tokens (every position scored; ids below the softmax's rows)
    /// and its gradient, layout-shaped, as GPT2Model.forwardBackward gives it.
    public func gradient(inputs: [Int32], targets: [Int32], b: Int, t: Int) throws -> (loss: Double, gradient: [Float]) {
        let loss = try gradient(weights: theta, into: plus, inputs: inputs, targets: targets, b: b, t: t)
        return (loss, try download(plus))
    }

    /// Hutchinson's probe on the device: v = ±1 on each of `blocks` as the CPU's `rademacher` draws it from a
    /// SplitMix64 at `state` (each block's first draw given), zero elsewhere; Hv by central differences with
    /// step ε; Σ v_i (Hv)_i per block (in double, tiles in order). Only those sums come back.
    public func rademacherParts(blocks: [(range: Range<Int>, firstDraw: Int)], state: UInt64, epsilon: Double,
                                inputs: [Int32], targets: [Int32], b: Int, t: Int) throws -> [Double] {
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        if partsBuffer == 0 {
            partsBuffer = try allocate(blocks.map { dotTiles($0.range.count) }.reduce(0, +) * 8, "the probe's sums")
        }
        try check(gl_cuda_zero(ctx, probe, layout.count, &err), err, "zeroing a probe")
        for blk in blocks {
            try check(gl_cuda_rademacher(ctx, probe + UInt64(blk.range.lowerBound * 4), blk.range.count, state, Int64(blk.firstDraw), &err),
                      err, "drawing a probe")
        }
        try difference(epsilon: epsilon, inputs: inputs, targets: targets, b: b, t: t)
        return try tiledDots(blocks.map { (probe + UInt64($0.range.lowerBound * 4), plus + UInt64($0.range.lowerBound * 4), $0.range.count) },
                             into: partsBuffer, "vᵀHv")
    }

    /// A device buffer of `bytes`, freed with this object.
    func allocate(_ bytes: Int, _ what: String) throws -> UInt64 {
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        var p: UInt64 = 0
        try check(gl_cuda_alloc_bytes(ctx, bytes, &p, &err), err, what)
        buffers.append((p, bytes))
        return p
    }

    /// out = (g(θ + ε·v) − g(θ − ε·v)) / (2ε) for the direction at `v` (the probe buffer unless given), into `out`
    /// (plus unless given); the two gradients go through plus and minus.
    func difference(epsilon: Double, direction v: UInt64? = nil, into out: UInt64? = nil,
                    inputs: [Int32], targets: [Int32], b: Int, t: Int) throws {
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        let n = layout.count, e = Float(epsilon), v = v ?? probe
        try check(gl_cuda_axpby(ctx, work, 1, theta, e, v, n, &err), err, "θ + εv")
        _ = try gradient(weights: work, into: plus, inputs: inputs, targets: targets, b: b, t: t)
        try check(gl_cuda_axpby(ctx, work, 1, theta, -e, v, n, &err), err, "θ − εv")
        _ = try gradient(weights: work, into: minus, inputs: inputs, targets: targets, b: b, t: t)
        let inv = Float(1 / (2 * epsilon))
        try check(gl_cuda_axpby(ctx, out ?? plus, inv, plus, -inv, minus, n, &err), err, "the difference")
    }

    /// (g(θ + εv) − g(θ − εv)) / (2ε), v layout-shaped; only the stored tensors move (v's entries elsewhere are
    /// zeroed on the device, so the host copies nothing).
    public func hvp(_ v: [Float], epsilon: Double, inputs: [Int32], targets: [Int32], b: Int, t: Int) throws -> [Float] {
        precondition(v.count == layout.count, "internal: a probe of \(v.count) values for \(layout.count)")
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        try v.withUnsafeBytes { try check(gl_cuda_copy_in(ctx, probe, $0.baseAddress, $0.count, &err), err, "uploading a probe") }
        for r in absent { try check(gl_cuda_zero(ctx, probe + UInt64(r.lowerBound * 4), r.count, &err), err, "zeroing a probe") }
        try difference(epsilon: epsilon, inputs: inputs, targets: targets, b: b, t: t)
        return try download(plus)
    }
}
