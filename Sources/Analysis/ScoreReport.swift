import Engine
import Foundation

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
    public var windowLosses: [Double]
    /// Vocabulary rows the softmax ran over, and rows stored (they differ for a padded vocabulary
    /// scored over GPT-2's 50257). nil in scores written before gpt2lab recorded them.
    public var softmaxRows: Int?
    public var vocabStored: Int?

    enum CodingKeys: String, CodingKey {
        case checkpoint, layout, loss, perplexity, windows, context, stride, skip, batch, threads, seconds
        case testSet = "test_set", bitsPerByte = "bits_per_byte", utf8Bytes = "utf8_bytes"
        case tokensScored = "tokens_scored", maxTokens = "max_tokens", tokensPerSecond = "tokens_per_second"
        case totalNLL = "total_nll", windowLosses = "window_losses"
        case softmaxRows = "softmax_rows", vocabStored = "vocab_stored"
    }

    public init(checkpoint: String, layout: String, testSet: String, settings: ScoreSettings, batch: Int, threads: Int,
                scores: WindowScores, utf8Bytes: Int?, seconds: Double, softmaxRows: Int? = nil, vocabStored: Int? = nil) {
        self.softmaxRows = softmaxRows; self.vocabStored = vocabStored
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
        windowLosses = scores.windowLosses
    }
}
