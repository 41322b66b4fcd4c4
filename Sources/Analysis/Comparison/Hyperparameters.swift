// A run's training hyperparameters and the one rule that fills their gaps: the manifest's values
// win, then a meta.json / train.json beside the checkpoint, then what the checkpoint itself records.
// `source` names every place a value came from, in that order, joined by "+".

import Checkpoints

/// Training hyperparameters of a run, from the manifest or a meta.json / train.json beside its checkpoint.
public struct Hyperparameters: Codable, Sendable, Equatable {
    public var lr: Double?
    public var weightDecay: Double?
    public var batchSize: Int?
    public var steps: Int?
    public var tokens: Int?
    public var schedule: String?
    /// AdamW's average effective learning rate, from the checkpoint's optimizer state (TrainingInfo), and the same
    /// mean without the never-updated elements (exp_avg_sq = 0) when there are some.
    public var avgEffectiveLR: Double?
    public var avgEffectiveLRUpdated: Double?
    /// Where the values came from: "manifest", "meta.json", "train.json", "checkpoint", or a mix joined by "+".
    public var source: String?
    enum CodingKeys: String, CodingKey {
        case lr, weightDecay = "weight_decay", batchSize = "batch_size", steps, tokens, schedule, source
        case avgEffectiveLR = "avg_effective_lr", avgEffectiveLRUpdated = "avg_effective_lr_updated"
    }
    public init() {}
    public var isEmpty: Bool { lr == nil && weightDecay == nil && batchSize == nil && steps == nil && tokens == nil && schedule == nil }

    /// These values, each one missing taken from `other`; when any was taken, `source` gains `otherSource`.
    public func fillingGaps(from other: Hyperparameters, source otherSource: String) -> Hyperparameters {
        var h = self, filled = false
        func fill<T>(_ field: WritableKeyPath<Hyperparameters, T?>) {
            if h[keyPath: field] == nil, let v = other[keyPath: field] { h[keyPath: field] = v; filled = true }
        }
        fill(\.lr); fill(\.weightDecay); fill(\.batchSize); fill(\.steps); fill(\.tokens); fill(\.schedule)
        if filled { h.source = [h.source, otherSource].compactMap { $0 }.joined(separator: "+") }
        return h
    }
}

/// The run's hyperparameters, gaps filled from what its checkpoint records (nanoGPT's config,
/// iter_num and AdamW state), so τ = 1/(ηλ) needs no manifest typing.
func withTraining(_ given: Hyperparameters, _ t: TrainingInfo?) -> Hyperparameters {
    guard let t else { return given }
    var recorded = Hyperparameters()
    recorded.lr = t.learningRate
    recorded.weightDecay = t.weightDecay
    recorded.steps = t.iterNum.flatMap { $0 > 0 ? $0 : nil }
    var h = given.fillingGaps(from: recorded, source: "checkpoint")
    h.avgEffectiveLR = t.avgEffectiveLR
    h.avgEffectiveLRUpdated = t.avgEffectiveLRUpdated
    return h
}
