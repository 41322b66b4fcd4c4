import Engine
import Foundation
import TestSets

/// Settings that decide which tokens are scored; part of every cache and shard key.
public struct ScoreSettings: Codable, Sendable, Equatable {
    public var context: Int
    public var stride: Int
    public var skip: Int
    public var maxTokens: Int?
    public init(context: Int, stride: Int, skip: Int = 0, maxTokens: Int? = nil) {
        self.context = context; self.stride = stride; self.skip = skip; self.maxTokens = maxTokens
    }
    enum CodingKeys: String, CodingKey { case context, stride, skip, maxTokens = "max_tokens" }

    /// The settings that name `plan`'s windows: its context, stride, first token and the limit that cut it (none
    /// when it reaches the end).
    public init(plan: WindowPlan) {
        self.init(context: plan.context, stride: plan.stride, skip: plan.tokenRange.lowerBound, maxTokens: plan.limit)
    }
}

/// What `gpt2lab score --json` prints.
public struct ScoreReport: Codable, Sendable {
    public var checkpoint: String
    public var layout: String
    public var testSet: String
    public var loss: Double
    public var perplexity: Double
    /// total NLL / ln 2 / UTF-8 bytes; text test sets only.
    public var bitsPerByte: Double?
    public var utf8Bytes: Int?
    public var tokensScored: Int
    public var windows: Int
    public var context: Int
    public var stride: Int
    public var skip: Int
    public var maxTokens: Int?
    public var batch: Int
    public var threads: Int
    public var seconds: Double
    public var tokensPerSecond: Double
    /// Σ NLL in nats (float64), the number merges add up.
    public var totalNLL: Double
    /// The per-window results every statistic derives from: Σ NLL and scored tokens of each window,
    /// in window order. (`window_losses`, their ratios, is written for people and not read back.)
    public var windowScores: WindowScores
    public var windowLosses: [Double] { windowScores.windowLosses }
    /// Sequential scoring (`--ci`): which windows `windowScores` holds (plan indices, in visit
    /// order), the interval of the mean NLL, and how many of the windows were read. nil when
    /// every window was scored in order.
    public var windowIndices: [Int]?
    public var ci95: [Double]?
    public var windowsScored: Int?
    public var windowsTotal: Int?
    /// Vocabulary rows the softmax ran over, and rows stored (they differ for a padded vocabulary
    /// scored over GPT-2's 50257). nil in scores written before gpt2lab recorded them.
    public var softmaxRows: Int?
    public var vocabStored: Int?
    /// Attention heads the weights were read with (the one shape the tensors do not fix: a wrong `--heads` gives
    /// another loss). nil in scores written before gpt2lab recorded them.
    public var heads: Int?
    /// Precision of the matrix products: "f32" or "bf16" (Engine/Precision.swift). nil (read as f32)
    /// in scores written before gpt2lab had bf16.
    public var precision: String?
    /// Where the forward ran, "cuda:N", and that GPU (name, compute capability, peak device memory);
    /// nil for the CPU engine. A merge of shard parts says the GPU as the parts' key names it
    /// ("cuda NAME sm_CC [math]": the parts may come from several machines) and has no `gpu`.
    public var device: String?
    public var gpu: GPUInfo?
    /// The checkpoint's content hash (checkpointContentHash) and the test set's token-id hash, so a report given
    /// this score as a run's `scores` can tell it was made from that run's checkpoint and its test set. nil in
    /// scores written before gpt2lab recorded them, and in the library's own reports until the caller sets them.
    public var checkpointHash: String?
    public var testSetHash: String?

    enum CodingKeys: String, CodingKey {
        case checkpoint, layout, loss, perplexity, windows, context, stride, skip, batch, threads, seconds
        case testSet = "test_set", bitsPerByte = "bits_per_byte", utf8Bytes = "utf8_bytes"
        case tokensScored = "tokens_scored", maxTokens = "max_tokens", tokensPerSecond = "tokens_per_second"
        case totalNLL = "total_nll", windowNLLSums = "window_nll_sums", windowCounts = "window_counts"
        case windowLosses = "window_losses", windowIndices = "window_indices", ci95 = "ci95"
        case windowsScored = "windows_scored", windowsTotal = "windows_total"
        case softmaxRows = "softmax_rows", vocabStored = "vocab_stored", heads, precision, device, gpu
        case checkpointHash = "checkpoint_hash", testSetHash = "test_set_hash"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        checkpoint = try c.decode(String.self, forKey: .checkpoint); layout = try c.decode(String.self, forKey: .layout)
        testSet = try c.decode(String.self, forKey: .testSet); loss = try c.decode(Double.self, forKey: .loss)
        perplexity = try c.decode(Double.self, forKey: .perplexity)
        bitsPerByte = try c.decodeIfPresent(Double.self, forKey: .bitsPerByte)
        utf8Bytes = try c.decodeIfPresent(Int.self, forKey: .utf8Bytes)
        tokensScored = try c.decode(Int.self, forKey: .tokensScored); windows = try c.decode(Int.self, forKey: .windows)
        context = try c.decode(Int.self, forKey: .context); stride = try c.decode(Int.self, forKey: .stride)
        skip = try c.decode(Int.self, forKey: .skip); maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens)
        batch = try c.decode(Int.self, forKey: .batch); threads = try c.decode(Int.self, forKey: .threads)
        seconds = try c.decode(Double.self, forKey: .seconds)
        tokensPerSecond = try c.decode(Double.self, forKey: .tokensPerSecond)
        totalNLL = try c.decode(Double.self, forKey: .totalNLL)
        windowScores = WindowScores(nllSums: try c.decode([Double].self, forKey: .windowNLLSums),
                                    counts: try c.decode([Int].self, forKey: .windowCounts))
        windowIndices = try c.decodeIfPresent([Int].self, forKey: .windowIndices)
        ci95 = try c.decodeIfPresent([Double].self, forKey: .ci95)
        windowsScored = try c.decodeIfPresent(Int.self, forKey: .windowsScored)
        windowsTotal = try c.decodeIfPresent(Int.self, forKey: .windowsTotal)
        softmaxRows = try c.decodeIfPresent(Int.self, forKey: .softmaxRows)
        vocabStored = try c.decodeIfPresent(Int.self, forKey: .vocabStored)
        heads = try c.decodeIfPresent(Int.self, forKey: .heads)
        precision = try c.decodeIfPresent(String.self, forKey: .precision)
        device = try c.decodeIfPresent(String.self, forKey: .device)
        gpu = try c.decodeIfPresent(GPUInfo.self, forKey: .gpu)
        checkpointHash = try c.decodeIfPresent(String.self, forKey: .checkpointHash)
        testSetHash = try c.decodeIfPresent(String.self, forKey: .testSetHash)
        guard windowScores.nllSums.count == windowScores.counts.count,
              windowIndices.map({ $0.count == windowScores.counts.count }) ?? true else {
            throw DecodingError.dataCorruptedError(forKey: .windowCounts, in: c,
                                                   debugDescription: "window_nll_sums, window_counts (and window_indices) differ in length")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(checkpoint, forKey: .checkpoint); try c.encode(layout, forKey: .layout)
        try c.encode(testSet, forKey: .testSet); try c.encode(loss, forKey: .loss); try c.encode(perplexity, forKey: .perplexity)
        try c.encodeIfPresent(bitsPerByte, forKey: .bitsPerByte); try c.encodeIfPresent(utf8Bytes, forKey: .utf8Bytes)
        try c.encode(tokensScored, forKey: .tokensScored); try c.encode(windows, forKey: .windows)
        try c.encode(context, forKey: .context); try c.encode(stride, forKey: .stride); try c.encode(skip, forKey: .skip)
        try c.encodeIfPresent(maxTokens, forKey: .maxTokens); try c.encode(batch, forKey: .batch)
        try c.encode(threads, forKey: .threads); try c.encode(seconds, forKey: .seconds)
        try c.encode(tokensPerSecond, forKey: .tokensPerSecond); try c.encode(totalNLL, forKey: .totalNLL)
        try c.encode(windowScores.nllSums, forKey: .windowNLLSums); try c.encode(windowScores.counts, forKey: .windowCounts)
        try c.encode(windowLosses, forKey: .windowLosses)
        try c.encodeIfPresent(windowIndices, forKey: .windowIndices); try c.encodeIfPresent(ci95, forKey: .ci95)
        try c.encodeIfPresent(windowsScored, forKey: .windowsScored); try c.encodeIfPresent(windowsTotal, forKey: .windowsTotal)
        try c.encodeIfPresent(softmaxRows, forKey: .softmaxRows); try c.encodeIfPresent(vocabStored, forKey: .vocabStored)
        try c.encodeIfPresent(heads, forKey: .heads)
        try c.encodeIfPresent(precision, forKey: .precision)
        try c.encodeIfPresent(device, forKey: .device); try c.encodeIfPresent(gpu, forKey: .gpu)
        try c.encodeIfPresent(checkpointHash, forKey: .checkpointHash); try c.encodeIfPresent(testSetHash, forKey: .testSetHash)
    }

    /// Records the GPU the forward ran on (with its peak memory); nothing for the CPU, whose scores read
    /// exactly as before there was a GPU path (and as merged shard parts, which are CPU scores, read).
    mutating func setDevice(_ gpu: CUDAModel?) {
        guard let gpu else { return }
        var info = gpu.info
        info.peakBytes = gpu.peakBytes
        device = "cuda:\(info.ordinal)"
        self.gpu = info
    }

    public init(checkpoint: String, layout: String, testSet: String, settings: ScoreSettings, batch: Int, threads: Int,
                scores: WindowScores, utf8Bytes: Int?, seconds: Double, softmaxRows: Int? = nil, vocabStored: Int? = nil,
                heads: Int? = nil, precision: Precision = .f32) {
        self.softmaxRows = softmaxRows; self.vocabStored = vocabStored; self.heads = heads; self.precision = precision.rawValue
        self.checkpoint = checkpoint; self.layout = layout; self.testSet = testSet
        loss = scores.loss
        perplexity = exp(scores.loss)
        totalNLL = scores.totalNLL
        self.utf8Bytes = utf8Bytes
        bitsPerByte = utf8Bytes.map { scores.totalNLL / log(2) / Double($0) }
        tokensScored = scores.tokensScored
        windows = scores.counts.count
        context = settings.context; stride = settings.stride; skip = settings.skip; maxTokens = settings.maxTokens
        self.batch = batch; self.threads = threads; self.seconds = seconds
        tokensPerSecond = seconds > 0 ? Double(scores.tokensScored) / seconds : 0
        windowScores = scores
    }
}
