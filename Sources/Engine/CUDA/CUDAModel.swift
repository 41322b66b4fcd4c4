import CCUDA

// A GPT-2 model on one GPU for scoring: the weights of a loaded model uploaded once (f32, or for a
// bf16 model its six product matrices in bf16, rounded on the CPU as Precision.swift does), and a
// forward (Sources/CCUDA/forward.c) that returns per-token NLL of B windows of T tokens. Everything
// on the device is freed when the model is released.

public final class CUDAModel {
    public let config: GPT2Config
    public let precision: Precision
    private let ctx: OpaquePointer
    private var uploads: [(ptr: UInt64, bytes: Int)] = []
    private var blocks: [gl_cuda_block] = []
    private var model = gl_cuda_model()
    /// The GPU, its compute capability and where the kernels came from.
    public private(set) var info: GPUInfo

    /// How this model's f32 products run (nil for a bf16 model).
    public let math: GPUMath?

    /// Uploads `parameters` to GPU `ordinal`; `math` says how f32 products run (GPUMath). First, once per
    /// process, this GPU must score the built-in check model as the CPU engine does (CUDASelfCheck.swift).
    public convenience init(parameters: ModelWeights, ordinal: Int, math: GPUMath = .default) throws {
        try CUDAModel.selfCheck(like: parameters, ordinal: ordinal, math: math)
        try self.init(unchecked: parameters, ordinal: ordinal, math: math)
    }

    /// The model on the device without the self-check (the check's own model).
    init(unchecked parameters: ModelWeights, ordinal: Int, math: GPUMath) throws {
        config = parameters.config
        precision = parameters.precision
        self.math = precision == .bf16 ? nil : math
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        var c: OpaquePointer? = nil
        guard gl_cuda_open(Int32(ordinal), math.cValue, &c, &err) == 0, let c else {
            throw CUDAError("cuda:\(ordinal): " + String(cString: err))
        }
        ctx = c
        do { info = try gpuInfo(ordinal: ordinal) } catch { gl_cuda_close(c); throw error }
        info.kernels = String(cString: gl_cuda_kernel_origin(c))
        info.math = self.math?.rawValue
        if precision == .bf16 {  // the fused attention when it passes its check on this device (attention.c)
            guard gl_cuda_attention_choose(c, Int32(config.nHead), Int32(config.nEmbd), &err) == 0 else {
                release()
                throw CUDAError("cuda:\(ordinal): checking the fused attention: " + String(cString: err))
            }
            info.attention = String(cString: gl_cuda_attention_path(c))
        }
        do { try upload(parameters) } catch { release(); throw error }
    }

    deinit { release() }

    /// Whether release() ran (an initializer that throws after setting every property releases, then deinit runs).
    private var released = false

    private func release() {
        guard !released else { return }
        released = true
        for u in uploads { gl_cuda_free(ctx, u.ptr, u.bytes) }
        uploads = []
        gl_cuda_close(ctx)
    }

    /// Replaces the weights with `parameters` of the same configuration and precision; the context, its
    /// compiled kernels and the forward's scratch stay (`interpolate` scores each point this way).
    public func replaceWeights(_ parameters: ModelWeights) throws {
        precondition(parameters.config == config && parameters.precision == precision, "internal: replacing weights of another shape")
        for u in uploads { gl_cuda_free(ctx, u.ptr, u.bytes) }
        uploads = []
        try upload(parameters)
    }

    /// Bytes held on the device now (weights + the forward's scratch) and the most held at once.
    public var bytesHeld: Int { gl_cuda_bytes_held(ctx) }
    public var peakBytes: Int { gl_cuda_bytes_peak(ctx) }

    private func put(_ p: UnsafeRawPointer, bytes: Int, _ what: String) throws -> UInt64 {
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        var d: UInt64 = 0
        guard gl_cuda_upload(ctx, p, bytes, &d, &err) == 0 else {
            throw CUDAError("cuda:\(info.ordinal): uploading \(what): " + String(cString: err))
        }
        uploads.append((d, bytes))
        return d
    }

    private func upload(_ parameters: ModelWeights) throws {
        let layout = parameters.layout
        var ptrs: [TensorID: UInt64] = [:]
        for id in layout.tensors {
            let o = layout.offsets[id]!, n = layout.size(id)
            switch parameters {
            case let .f32(w):
                ptrs[id] = try w.data.withUnsafeBufferPointer { try put($0.baseAddress! + o, bytes: n * 4, id.canonicalName) }
            case let .bf16(w):
                ptrs[id] = BF16Weights.isHalf(id.kind) ? try put(w.half.base + o, bytes: n * 2, id.canonicalName)
                                                       : try put(w.small.base + o, bytes: n * 4, id.canonicalName)
            }
        }
        let c = config
        // The split math: the products' matrices are held stacked ([hi | lo | hi] rows, three times the
        // memory, the f32 original freed); a tied head gets its own stacked copy (the lookup keeps wte whole).
        if math == .split, case .f32 = parameters {
            for id in layout.tensors where [.qkvw, .attprojw, .fcw, .fcprojw, .lmHead].contains(id.kind) {
                let shape = id.kind.shape(c)
                ptrs[id] = try stack(ptrs[id]!, rows: shape[0], k: shape[1], id.canonicalName, freeOriginal: true)
            }
            if parameters.tied {
                ptrs[TensorID(.lmHead)] = try stack(ptrs[TensorID(.wte)]!, rows: c.vocabSize, k: c.nEmbd, "LM head (tied)",
                                                    freeOriginal: false)
            }
        }
        blocks = (0..<c.nLayer).map { l in
            func p(_ k: TensorKind) -> UInt64 { ptrs[TensorID(k, layer: l)]! }
            return gl_cuda_block(ln1w: p(.ln1w), ln1b: p(.ln1b), qkvw: p(.qkvw), qkvb: p(.qkvb), attprojw: p(.attprojw),
                                 attprojb: p(.attprojb), ln2w: p(.ln2w), ln2b: p(.ln2b), fcw: p(.fcw), fcb: p(.fcb),
                                 fcprojw: p(.fcprojw), fcprojb: p(.fcprojb))
        }
        model = gl_cuda_model(shape: c, bf16: precision == .bf16)
        model.wte = ptrs[TensorID(.wte)]!; model.wpe = ptrs[TensorID(.wpe)]!
        model.lnfw = ptrs[TensorID(.lnfw)]!; model.lnfb = ptrs[TensorID(.lnfb)]!
        model.head = ptrs[TensorID(ptrs[TensorID(.lmHead)] != nil ? .lmHead : .wte)]!
    }

    /// The split math's stacked form of the (rows, k) f32 matrix at `ptr` (Sources/CCUDA: [hi | lo | hi]
    /// rows); the original is freed when asked.
    private func stack(_ ptr: UInt64, rows: Int, k: Int, _ what: String, freeOriginal: Bool) throws -> UInt64 {
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        var stacked: UInt64 = 0
        guard gl_cuda_stack_weights(ctx, ptr, rows, Int32(k), &stacked, &err) == 0 else {
            throw CUDAError("cuda:\(info.ordinal): stacking \(what) for the TF32 split: " + String(cString: err))
        }
        uploads.append((stacked, rows * k * 3 * 4))
        if freeOriginal, let i = uploads.firstIndex(where: { $0.ptr == ptr }) {
            gl_cuda_free(ctx, ptr, uploads[i].bytes)
            uploads.remove(at: i)
        }
        return stacked
    }

    /// Per-token NLL (b·t, window-major) of `b` windows of `t` tokens: inputs and targets (b·t ids,
    /// each below the softmax's rows; callers validate). `dump` receives window 0's intermediates.
    public func nll(inputs: [Int32], targets: [Int32], b: Int, t: Int) throws -> [Float] {
        try nll(inputs: inputs, targets: targets, b: b, t: t, dump: nil)
    }

    func nll(inputs: [Int32], targets: [Int32], b: Int, t: Int, dump: UnsafePointer<gl_cuda_dump>?) throws -> [Float] {
        try run(inputs: inputs, targets: targets, b: b, t: t, logits: false, dump: dump).nll
    }

    /// Per-token NLL and whether each target is a greedy choice (its logit is the row's largest; a tie
    /// counts as greedy), for `b` windows of `t` tokens; a target outside the softmax's rows gives NaN
    /// and false (padding that is not scored).
    public func nllAndGreedy(inputs: [Int32], targets: [Int32], b: Int, t: Int) throws -> (nll: [Float], greedy: [Bool]) {
        let r = try run(inputs: inputs, targets: targets, b: b, t: t, logits: true, dump: nil)
        return (r.nll, zip(r.target, r.max).map { $0 >= $1 })
    }

    private func run(inputs: [Int32], targets: [Int32], b: Int, t: Int, logits: Bool,
                     dump: UnsafePointer<gl_cuda_dump>?) throws -> (nll: [Float], target: [Float], max: [Float]) {
        precondition(inputs.count == b * t && targets.count == b * t, "internal: \(b) windows of \(t) ids")
        var out = [Float](repeating: .nan, count: b * t)
        var target = [Float](repeating: .nan, count: logits ? b * t : 0), max = target
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        let profiling = KernelProfile.enabled
        gl_cuda_profile_set(ctx, profiling ? 1 : 0)
        defer { if profiling { addGPUProfile() } }
        let rc = blocks.withUnsafeBufferPointer { bp -> Int32 in
            model.blocks = bp.baseAddress
            defer { model.blocks = nil }
            guard logits else {
                return gl_cuda_forward(ctx, &model, inputs, targets, Int32(b), Int32(t), &out, nil, nil, dump, &err)
            }
            return target.withUnsafeMutableBufferPointer { tp in
                max.withUnsafeMutableBufferPointer { mp in
                    gl_cuda_forward(ctx, &model, inputs, targets, Int32(b), Int32(t), &out, tp.baseAddress, mp.baseAddress, dump, &err)
                }
            }
        }
        guard rc == 0 else { throw CUDAError("cuda:\(info.ordinal): " + String(cString: err)) }
        return (out, target, max)
    }

    /// The forward's stage times (score --profile) into the engine's profile, class by class.
    private func addGPUProfile() {
        let n = Int(GL_PROF_CLASSES)
        var seconds = [Double](repeating: 0, count: n), flops = seconds, calls = [Int64](repeating: 0, count: n)
        gl_cuda_profile_read(ctx, &seconds, &flops, &calls)
        gl_cuda_profile_set(ctx, 0)
        let classes: [(Int, KernelClass)] = [
            (GL_PROF_MATMUL, .matmul), (GL_PROF_ATTENTION, .attention), (GL_PROF_HEAD, .lmHeadLoss),
            (GL_PROF_LAYERNORM, .layerNorm), (GL_PROF_GELU, .gelu), (GL_PROF_RESIDUAL, .residual),
            (GL_PROF_EMBEDDING, .embedding)]
        for (i, k) in classes {
            KernelProfile.add(k, calls: Int(calls[i]), seconds: seconds[i], flops: flops[i])
        }
    }

    /// Whether `other` can be compared with this model on the GPU (`compare(with:)`): the same device, precision,
    /// softmax rows, width, inner size and heads (the layers may differ).
    public func canCompare(with other: CUDAModel) -> Bool {
        let a = config, b = other.config
        return other.info.ordinal == info.ordinal && other.precision == precision && other.math == math
            && a.softmaxVocab == b.softmaxVocab && a.nEmbd == b.nEmbd && a.nInner == b.nInner && a.nHead == b.nHead
    }

    /// Both models' next-token distributions at every position of `b` windows of `t` tokens (targets below the
    /// softmax's rows), compared as `compareDistributions` does on the CPU: window-major, b·t of them.
    public func compare(with other: CUDAModel, inputs: [Int32], targets: [Int32], b: Int, t: Int) throws -> [PositionComparison] {
        precondition(canCompare(with: other) && inputs.count == b * t && targets.count == b * t, "internal: compare's pair")
        var out = [gl_cuda_position](repeating: gl_cuda_position(), count: b * t)
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        let rc = blocks.withUnsafeBufferPointer { ab in
            other.blocks.withUnsafeBufferPointer { bb -> Int32 in
                var ma = model, mb = other.model
                ma.blocks = ab.baseAddress; mb.blocks = bb.baseAddress
                return gl_cuda_compare(ctx, &ma, &mb, inputs, targets, Int32(b), Int32(t), &out, &err)
            }
        }
        guard rc == 0 else { throw CUDAError("cuda:\(info.ordinal): " + String(cString: err)) }
        return out.map {
            PositionComparison(nllA: $0.nll_a, nllB: $0.nll_b, kl: $0.kl, argmaxA: $0.argmax_a, argmaxB: $0.argmax_b,
                               confidenceA: $0.conf_a, confidenceB: $0.conf_b)
        }
    }

    /// Frees the forward's scratch (kept between batches of one shape); the weights stay.
    public func releaseScratch() { gl_cuda_release_scratch(ctx) }
}

extension gl_cuda_model {
    /// The C side's model of `c`'s shape, its weights' addresses not yet set.
    init(shape c: GPT2Config, bf16: Bool = false) {
        self.init()
        vocab_stored = Int32(c.vocabSize); softmax_rows = Int32(c.softmaxVocab)
        context = Int32(c.contextLength); self.c = Int32(c.nEmbd); layers = Int32(c.nLayer)
        heads = Int32(c.nHead); inner = Int32(c.nInner); self.bf16 = bf16 ? 1 : 0
    }
}
