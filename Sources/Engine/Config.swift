// GPT-2 model configuration.
//
// Legend used in shape comments throughout the engine:
//   B = batch (windows), T = time (tokens in a window), C = channels (n_embd),
//   V = vocabulary, L = layers, NH = heads, hs = head size (C / NH), F = MLP width (usually 4C).

/// GPT-2's vocabulary: the rows of its tokenizer, ids 0…50256 (a padded vocabulary such as 50304 is
/// scored over these by default; every run in a report must use GPT-2's tokenizer).
public let gpt2VocabSize = 50257

/// The hyperparameters that fix every tensor's shape.
public struct GPT2Config: Codable, Sendable, Equatable {
    /// V: rows of the token embedding (50257 for GPT-2's BPE).
    public var vocabSize: Int
    /// Longest window the position embedding covers (1024 for GPT-2 small).
    public var contextLength: Int
    /// C: residual stream width.
    public var nEmbd: Int
    /// L: transformer blocks.
    public var nLayer: Int
    /// NH: attention heads; must divide C.
    public var nHead: Int
    /// F: MLP hidden width; GPT-2 uses 4C, read from the checkpoint's shapes.
    public var nInner: Int
    /// Rows of the LM head the softmax runs over (scoring, sampling, gradients); nil = all V.
    /// A padded vocabulary (nanoGPT's and llm.c's 50304) is scored over GPT-2's 50257 rows, the
    /// ids its tokenizer can produce, unless asked otherwise. Not part of the coded config.
    public var softmaxRows: Int? = nil

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", contextLength = "context_length", nEmbd = "n_embd"
        case nLayer = "n_layer", nHead = "n_head", nInner = "n_inner"
    }

    public init(vocabSize: Int, contextLength: Int, nEmbd: Int, nLayer: Int, nHead: Int, nInner: Int? = nil) {
        self.vocabSize = vocabSize
        self.contextLength = contextLength
        self.nEmbd = nEmbd
        self.nLayer = nLayer
        self.nHead = nHead
        self.nInner = nInner ?? 4 * nEmbd
    }

    /// The number of vocabulary rows softmaxed: `softmaxRows`, at most V.
    public var softmaxVocab: Int { min(softmaxRows ?? vocabSize, vocabSize) }

    /// hs: width of one attention head.
    public var headSize: Int { nEmbd / nHead }

    /// Problems with the shape numbers, or nil when they make a valid model.
    public func validationProblem() -> String? {
        if vocabSize <= 0 || contextLength <= 0 || nEmbd <= 0 || nLayer <= 0 || nHead <= 0 || nInner <= 0 {
            return "config has a non-positive size: \(self)"
        }
        if nEmbd % nHead != 0 { return "n_embd \(nEmbd) is not divisible by n_head \(nHead)" }
        return nil
    }
}
