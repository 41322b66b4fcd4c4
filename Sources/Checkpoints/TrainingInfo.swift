// What a training checkpoint says about its run, beyond the weights: nanoGPT's `train.py` (and
// the weight-decay paper's code built on it) saves {'model', 'optimizer', 'model_args',
// 'iter_num', 'best_val_loss', 'config'}. `model_args` is the GPT config (sizes, heads, bias);
// `config` the training hyperparameters; `optimizer` the AdamW state dict, whose second moments
// give the average effective learning rate that paper's script logs:
//   mean over every optimizer-state element of lr / (sqrt(exp_avg_sq) + eps),
// lr and eps of param_groups[0], no bias correction.

import Foundation

/// A run's training metadata, as far as the checkpoint records it.
public struct TrainingInfo: Sendable, Equatable, Codable {
    /// Optimizer steps taken (`iter_num`).
    public var iterNum: Int?
    /// Peak learning rate (`config.learning_rate`, else the optimizer's param_groups[0].lr).
    public var learningRate: Double?
    /// AdamW λ (`config.weight_decay`, else param_groups[0].weight_decay).
    public var weightDecay: Double?
    /// Planned steps (`config.max_iters`).
    public var maxIters: Int?
    /// `best_val_loss` (nats).
    public var bestValLoss: Double?
    /// Mean of lr/(sqrt(v)+eps) over every exp_avg_sq element; nil without AdamW state.
    public var avgEffectiveLR: Double?
    /// Elements that mean is over.
    public var adamStateElements: Int?
    /// Elements whose exp_avg_sq is 0 (never updated: tokens the run never saw, a padded vocabulary's rows): each
    /// adds lr/eps to the mean, which a few of them can dominate.
    public var adamZeroStateElements: Int?
    /// The same mean over the other elements; nil when none is 0 (it is avgEffectiveLR then) or all are.
    public var avgEffectiveLRUpdated: Double?

    enum CodingKeys: String, CodingKey {
        case iterNum = "iter_num", learningRate = "learning_rate", weightDecay = "weight_decay", maxIters = "max_iters"
        case bestValLoss = "best_val_loss", avgEffectiveLR = "avg_effective_lr", adamStateElements = "adam_state_elements"
        case adamZeroStateElements = "adam_zero_state_elements", avgEffectiveLRUpdated = "avg_effective_lr_updated"
    }

    var isEmpty: Bool { self == TrainingInfo() }
}

/// nanoGPT's `model_args`: the config a checkpoint was built with.
struct ModelArgs: Equatable {
    var layers: Int?, heads: Int?, width: Int?, context: Int?, vocab: Int?, bias: Bool?

    /// The sizes it states, under nanoGPT's keys.
    func stated(file: String) -> StatedConfig {
        var c = StatedConfig(source: .checkpointConfig("model_args"), file: file)
        let given: [(StatedConfig.Size, String, Int?)] = [(.heads, "n_head", heads), (.layers, "n_layer", layers),
                                                          (.width, "n_embd", width), (.context, "block_size", context),
                                                          (.vocab, "vocab_size", vocab)]
        for (size, key, v) in given { if let v { c.sizes[size] = (key, v) } }
        if let bias { c.flags[.biases] = ("bias", bias) }
        return c
    }
}

extension TorchFile {
    private var top: PDict? { arena.dict(root) }

    private func number(_ v: PValue?) -> Double? {
        switch v {
        case let .float(d)?: return d
        case let .int(i)?: return Double(i)
        case let r?: if let t = tensor(r), t.count == 1 { return Double(floats(t)[0]) }; return nil
        default: return nil
        }
    }
    private func integer(_ v: PValue?) -> Int? { if case let .int(i)? = v { return i }; return nil }

    /// `model_args`, when the checkpoint has it.
    var modelArgs: ModelArgs? {
        guard let a = top?["model_args"].flatMap(arena.dict) else { return nil }
        var bias: Bool? = nil
        if case let .bool(b)? = a["bias"] { bias = b }
        return ModelArgs(layers: integer(a["n_layer"]), heads: integer(a["n_head"]), width: integer(a["n_embd"]),
                         context: integer(a["block_size"]), vocab: integer(a["vocab_size"]), bias: bias)
    }

    /// The run's metadata; `withOptimizer` also reads the AdamW second moments (as many values
    /// as the model has parameters) for the average effective learning rate.
    func trainingInfo(withOptimizer: Bool) -> TrainingInfo? {
        guard let top else { return nil }
        var info = TrainingInfo()
        info.iterNum = integer(top["iter_num"])
        info.bestValLoss = number(top["best_val_loss"])
        let config = top["config"].flatMap(arena.dict)
        info.learningRate = number(config?["learning_rate"])
        info.weightDecay = number(config?["weight_decay"])
        info.maxIters = integer(config?["max_iters"])
        let optimizer = top["optimizer"].flatMap(arena.dict)
        let group0 = optimizer?["param_groups"].flatMap(arena.tuple)?.first.flatMap(arena.dict)
        let lr = number(group0?["lr"]), eps = number(group0?["eps"])
        if info.learningRate == nil { info.learningRate = lr }
        if info.weightDecay == nil { info.weightDecay = number(group0?["weight_decay"]) }
        if withOptimizer, let lr, let eps, let state = optimizer?["state"].flatMap(arena.dict) {
            var sum = 0.0, n = 0, zeros = 0
            for s in state.values {
                guard let v = arena.dict(s)?["exp_avg_sq"].flatMap(tensor) else { continue }
                for x in floats(v) {
                    if x == 0 { zeros += 1 } else { sum += lr / (Double(x).squareRoot() + eps) }
                }
                n += v.count
            }
            if n > 0 {
                info.avgEffectiveLR = (sum + Double(zeros) * (lr / eps)) / Double(n)
                info.adamStateElements = n
                info.adamZeroStateElements = zeros
                if zeros > 0, zeros < n { info.avgEffectiveLRUpdated = sum / Double(n - zeros) }
            }
        }
        return info.isEmpty ? nil : info
    }
}
