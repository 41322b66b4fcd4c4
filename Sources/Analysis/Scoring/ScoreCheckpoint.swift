import Checkpoints
import Engine
import Foundation
import TestSets

/// Scores a loaded checkpoint on token ids with HF's strided-window recipe.
/// - Parameters:
///   - context: window length T; nil = the model's context length.
///   - stride: S in 1...T; nil = T (disjoint windows).
///   - batch: windows per forward; nil picks about 1024 positions on the CPU (defaultBatch), 32,768 on a GPU.
///   - windowRange: score only these window indices (shards); nil = all.
///   - device: where the forward runs (`.auto`: GPU 0 when there is one, else the CPU; see openOnDevice); `.cuda` without one throws.
///   - math: how f32 products run on a GPU (GPUMath).
public func scoreCheckpoint(_ ck: LoadedCheckpoint, tokens: TokenFile, testSetPath: String,
                            context: Int? = nil, stride: Int? = nil, skip: Int = 0, maxTokens: Int? = nil,
                            batch: Int? = nil, threads: Int? = nil, windowRange: Range<Int>? = nil, device: ComputeDevice = .cpu,
                            math: GPUMath = .default,
                            progress: ((Int, Int) -> Void)? = nil) throws -> (ScoreReport, WindowScores, WindowPlan) {
    let (plan, model, gpu, B) = try prepareScoring(ck, tokens: tokens, testSetPath: testSetPath, context: context, stride: stride,
                                                   skip: skip, maxTokens: maxTokens, batch: batch, threads: threads, device: device,
                                                   math: math)
    let backend = model.backend
    let windows = Array(plan.windows[windowRange ?? 0..<plan.windows.count])
    let t0 = Date()
    let scores = try gpu.map { try scoreWindows(gpu: $0, tokens: tokens.ids, windows: windows, batch: B, progress: progress) }
        ?? scoreWindows(model: model, tokens: tokens.ids, windows: windows, batch: B, progress: progress)
    try scores.requireFinite(ck.path)
    let seconds = Date().timeIntervalSince(t0)
    let settings = ScoreSettings(plan: plan)
    // Bits per byte only when the whole text was scored.
    let bytes = (plan.coversWholeText && windowRange == nil) ? tokens.utf8Bytes : nil
    var report = ScoreReport(checkpoint: ck.path, layout: ck.layout.rawValue, testSet: testSetPath, settings: settings,
                             batch: B, threads: backend.threads, scores: scores, utf8Bytes: bytes, seconds: seconds,
                             softmaxRows: model.config.softmaxVocab, vocabStored: model.config.vocabSize, heads: model.config.nHead,
                             precision: model.precision)
    report.setDevice(gpu)
    return (report, scores, plan)
}

/// The checks and set-up every scoring shares: the window plan (context at most the model's), the
/// test set's ids within the vocabulary, the model on its kernels (and on the GPU, when `device` gives
/// one), and the batch size.
func prepareScoring(_ ck: LoadedCheckpoint, tokens: TokenFile, testSetPath: String, context: Int?, stride: Int?,
                    skip: Int, maxTokens: Int?, batch: Int?, threads: Int?,
                    device: ComputeDevice = .cpu, math: GPUMath = .default) throws -> (WindowPlan, GPT2Model, CUDAModel?, Int) {
    let c = ck.config
    let T = context ?? c.contextLength
    guard T <= c.contextLength else {
        throw TestSetError.badWindows("context \(T) is longer than the model's \(c.contextLength) positions (\(ck.path))")
    }
    let plan = try WindowPlan(tokenCount: tokens.ids.count, context: T, stride: stride ?? T, skip: skip, maxTokens: maxTokens)
    try validateTokenIDs(Array(tokens.ids[plan.tokenRange]), vocabSize: c.softmaxVocab, path: testSetPath)
    let model = GPT2Model(parameters: ck.parameters, backend: CPUBackend(threads: threads))
    let gpu = try openDevice(device, parameters: ck.parameters, math: math)
    return (plan, model, gpu, batch ?? (gpu == nil ? defaultBatch(context: T) : defaultGPUBatch(context: T)))
}

/// The GPU model `device` asks for: none for `.cpu`; GPU N for `.cuda(N)` (throws, naming what is
/// missing, when it cannot run); for `.auto` as openOnDevice says.
public func openDevice(_ device: ComputeDevice, parameters: ModelWeights, math: GPUMath = .default) throws -> CUDAModel? {
    try openOnDevice(device) { try CUDAModel(parameters: parameters, ordinal: $0, math: math) }
}

/// What `open` makes on the GPU `device` names, or nil for the CPU. `.auto` is the CPU only when no GPU is
/// there to use (no driver, no libraries, no GPU 0: settleDevice); a GPU that is there but refuses the work
/// (its self-check, its memory, a kernel) stops the run with its reason, as `--device cuda` does, rather
/// than turning into a silent CPU run hundreds of times slower.
func openOnDevice<T>(_ device: ComputeDevice, _ open: (Int) throws -> T) throws -> T? {
    switch device {
    case .cpu: return nil
    case let .cuda(n): return try open(n)
    case .auto:
        guard case let .cuda(n) = try settleDevice(.auto, math: nil).device else { return nil }
        do { return try open(n) } catch { throw autoDeviceRefusal(ordinal: n, error) }
    }
}

/// The line `--device auto` stops with when GPU `ordinal` is there but `error` keeps it from the work.
func autoDeviceRefusal(ordinal: Int, _ error: Error) -> CUDAError {
    let why = "\(error)", cpu = "--device cpu runs on the CPU"
    if why.hasPrefix("--device auto") { return error as? CUDAError ?? CUDAError(why) }
    return CUDAError("--device auto: GPU \(ordinal) is there but cannot be used: \(why)" + (why.contains(cpu) ? "" : "; " + cpu))
}

/// The device a report scores on, settled before any scoring so the cache key can name its GPU:
/// `.auto` is GPU 0 when the driver lists it and the libraries load, else the CPU; `.cuda(N)`
/// without a usable GPU N throws one line saying what is missing. Returns the device (never
/// `.auto`) and its GPU.
public func settleDevice(_ device: ComputeDevice, math: GPUMath? = .default) throws -> (device: ComputeDevice, gpu: GPUInfo?) {
    var wanted = 0
    switch device {
    case .cpu: return (.cpu, nil)
    case .auto: break
    case let .cuda(n): wanted = n
    }
    let status = CUDAStatus.current()
    if let unusable = status.unusableGPUs?[String(wanted)], status.problem == nil || status.problem == unusable {
        // GPU `wanted` is there (the driver lists it) but cannot be queried: it stops auto as it stops cuda:N.
        throw CUDAError("--device \(device): \(unusable)" + (device == .auto ? "; --device cpu runs on the CPU" : ""))
    }
    if status.problem == nil || status.problem == status.unusableGPUs?["0"], var gpu = status.devices.first(where: { $0.ordinal == wanted }) {
        gpu.math = math?.rawValue
        return (.cuda(wanted), gpu)
    }
    if device == .auto { return (.cpu, nil) }   // no driver, no libraries or no GPU 0: the CPU
    throw CUDAError("--device \(device): " + (status.problem ?? "no CUDA device \(wanted) (this machine has \(status.devices.count))"))
}

/// Windows per GPU forward when --batch is not given: about 32768 positions (32 windows of 1024),
/// the most one forward holds (Sources/CCUDA/forward.c splits larger batches).
public func defaultGPUBatch(context T: Int) -> Int { max(1, 32768 / max(T, 1)) }

/// Windows per forward when --batch is not given: about 1024 positions (activations stay
/// small next to the weights: ~56 MB for GPT-2 small at T = 1024).
public func defaultBatch(context T: Int) -> Int { max(1, 1024 / max(T, 1)) }

/// Scores windows in a seeded random order until the mean NLL's interval is as narrow as `rule`
/// asks (Sequential.swift), or every window is read. The report's `loss` is the estimate, `ci95`
/// its interval, `windowIndices` the windows read (visit order); bits per byte only when all were.
public func scoreCheckpointSequential(_ ck: LoadedCheckpoint, tokens: TokenFile, testSetPath: String, rule: SequentialRule,
                                      context: Int? = nil, stride: Int? = nil, skip: Int = 0, maxTokens: Int? = nil,
                                      batch: Int? = nil, threads: Int? = nil, device: ComputeDevice = .cpu,
                                      math: GPUMath = .default,
                                      progress: ((Int, Int) -> Void)? = nil) throws -> (ScoreReport, SampledEstimate) {
    let (plan, model, gpu, B) = try prepareScoring(ck, tokens: tokens, testSetPath: testSetPath, context: context, stride: stride,
                                                   skip: skip, maxTokens: maxTokens, batch: batch, threads: threads, device: device,
                                                   math: math)
    let backend = model.backend
    let counts = plan.windows.map(\.scoredCount)
    let total = plan.tokensScored
    var done = 0
    let t0 = Date()
    let (estimate, visited, series) = try runSequential(order: visitOrder(count: plan.windows.count, seed: rule.seed),
                                                        counts: counts, batch: B, rule: rule) { chunk in
        let ws = chunk.map { plan.windows[$0] }
        let s = try gpu.map { try scoreWindows(gpu: $0, tokens: tokens.ids, windows: ws, batch: B) }
            ?? scoreWindows(model: model, tokens: tokens.ids, windows: ws, batch: B)
        try s.requireFinite(ck.path, windows: chunk)
        done += s.tokensScored
        progress?(done, total)
        return [s.nllSums]
    }
    let seconds = Date().timeIntervalSince(t0)
    let scores = WindowScores(nllSums: series[0], counts: visited.map { counts[$0] })
    let all = visited.count == plan.windows.count
    let settings = ScoreSettings(plan: plan)
    var report = ScoreReport(checkpoint: ck.path, layout: ck.layout.rawValue, testSet: testSetPath, settings: settings,
                             batch: B, threads: backend.threads, scores: scores,
                             utf8Bytes: (all && plan.coversWholeText) ? tokens.utf8Bytes : nil, seconds: seconds,
                             softmaxRows: model.config.softmaxVocab, vocabStored: model.config.vocabSize, heads: model.config.nHead,
                             precision: model.precision)
    report.setDevice(gpu)
    report.windowIndices = visited
    report.ci95 = [estimate.lo, estimate.hi]
    report.windowsScored = visited.count
    report.windowsTotal = plan.windows.count
    return (report, estimate)
}

/// GPT2LAB_CUDA_CHECK=1: the plan's first window on the GPU `device` gives and on the CPU engine, stage
/// by stage (Engine's `CUDAModel.checkAgainstCPU`): one line per stage, the last naming the first that
/// diverges. A device that resolves to the CPU gives one line saying there is nothing to compare.
public func checkCUDAScoring(_ ck: LoadedCheckpoint, tokens: TokenFile, testSetPath: String, context: Int?,
                             threads: Int?, device: ComputeDevice, math: GPUMath = .default) throws -> [String] {
    let (plan, model, gpu, _) = try prepareScoring(ck, tokens: tokens, testSetPath: testSetPath, context: context, stride: nil,
                                                   skip: 0, maxTokens: nil, batch: 1, threads: threads, device: device, math: math)
    guard let gpu, let w = plan.windows.first else { return ["check: the forward runs on the CPU (--device \(device)); nothing to compare"] }
    let T = w.length
    let inputs = Array(tokens.ids[w.start..<w.start + T]), targets = Array(tokens.ids[w.start + 1...w.start + T])
    return ["check: \(ck.path) window 0 (\(T) tokens), \(model.precision.rawValue), \(gpu.info.name) against the CPU engine"]
        + (try gpu.checkAgainstCPU(model, inputs: inputs, targets: targets, t: T))
}
