import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Plumbing

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a checkpoint's format, layout, config and parameter count.",
        discussion: """
        The format is told by content, not by the file name. For training checkpoints (nanoGPT's ckpt.pt) it \
        also shows iter_num, learning rate, weight decay and, with AdamW state, the average effective learning \
        rate: the mean over every optimizer-state element of lr / (sqrt(exp_avg_sq) + eps).

        Examples:
          gpt2lab inspect examples/runs/reference/model.safetensors
          gpt2lab inspect model.weights.h5 --heads 12 --json
          gpt2lab inspect out/ckpt.pt
        """)

    @Argument(help: ArgumentHelp("Checkpoint: " + checkpointKinds + "."))
    var checkpoint: String

    @OptionGroup var model: HeadsOption

    @Flag(help: "Print one JSON object.")
    var json = false

    struct Output: Encodable {
        let checkpoint: String
        let format: String
        let formatWrittenBy: String
        let layout: String
        let config: StatedHeads
        let parameters: Int
        let tiedEmbeddings: Bool
        let dtypes: [String: Int]
        /// Where the head count came from (ShapeSource).
        let shapeSource: ShapeSource
        let ignoredTensors: [String]
        let tensors: [Tensor]
        let warnings: [String]
        /// Rows the softmax runs over by default (fewer than vocab_size for a padded vocabulary).
        let softmaxRows: Int
        /// Whether the checkpoint stores the QKV bias and the MLP biases (a bias-free model has none).
        let qkvBias: Bool, mlpBias: Bool
        let training: TrainingInfo?
        struct Tensor: Encodable { let name: String; let shape: [Int]; let dtype: String }
        enum CodingKeys: String, CodingKey {
            case checkpoint, format, layout, config, parameters, dtypes, tensors, warnings
            case tiedEmbeddings = "tied_embeddings", shapeSource = "shape_source", ignoredTensors = "ignored_tensors"
            case formatWrittenBy = "format_written_by", softmaxRows = "softmax_rows", training
            case qkvBias = "qkv_bias", mlpBias = "mlp_bias"
        }
    }

    func run() throws {
        try runReporting {
            let ck = try loadCheckpoint(path: checkpoint, heads: model.heads, nonFiniteIsAWarning: true, headsNeeded: false)
            let c = ck.weights.config
            let qkvBias = ck.weights.isStored(TensorID(.qkvb, layer: 0)), mlpBias = ck.weights.isStored(TensorID(.fcb, layer: 0))
            let out = Output(checkpoint: checkpoint, format: ck.format.rawValue, formatWrittenBy: ck.format.writtenBy,
                             layout: ck.layout.rawValue, config: StatedHeads(config: c, known: ck.shapeSource != .unstated),
                             parameters: ck.weights.parameterCount, tiedEmbeddings: ck.weights.tied, dtypes: ck.dtypes,
                             shapeSource: ck.shapeSource, ignoredTensors: ck.ignoredTensors,
                             tensors: ck.sourceTensors.map { .init(name: $0.name, shape: $0.shape, dtype: $0.dtype) },
                             warnings: ck.warnings, softmaxRows: c.softmaxVocab, qkvBias: qkvBias, mlpBias: mlpBias,
                             training: ck.training)
            if json { try printJSON(out); return }
            for w in ck.warnings { warn("\(checkpoint): \(w)") }
            let dt = ck.dtypes.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", ")
            print("""
            checkpoint   \(checkpoint)
            format       \(ck.format.rawValue) (\(ck.format.writtenBy))
            layout       \(ck.layout.rawValue)
            config       vocab \(c.vocabSize), context \(c.contextLength), width \(c.nEmbd), layers \(c.nLayer), \
            heads \(ck.shapeSource != .unstated ? "\(c.nHead)" : "not stated"), MLP \(c.nInner)
            shape from   \(ck.shapeSource)
            vocab        \(c.softmaxVocab == c.vocabSize ? "\(c.vocabSize) rows" : "\(c.vocabSize) rows stored, padded: scored over the first \(c.softmaxVocab) (--full-vocab: all)")
            parameters   \(groupedThousands(ck.weights.parameterCount))\(ck.weights.tied ? " (embeddings tied, counted once)" : "")
            biases       \(qkvBias ? "QKV bias" : "no QKV bias"), \(mlpBias ? "MLP bias" : "no MLP bias")
            tied         \(ck.weights.tied ? "yes" : "no")
            dtypes       \(dt)
            tensors      \(ck.sourceTensors.count) stored\(ck.ignoredTensors.isEmpty ? "" : ", \(ck.ignoredTensors.count) buffers ignored (\(ck.ignoredTensors.prefix(3).joined(separator: ", "))\(ck.ignoredTensors.count > 3 ? ", …" : ""))")
            """)
            if let t = ck.training { for line in trainingLines(t) { print(line) } }
        }
    }

    /// iter_num, lr, weight decay, AdamW's average effective learning rate, as far as known.
    func trainingLines(_ t: TrainingInfo) -> [String] {
        var lines: [String] = []
        if let n = t.iterNum { lines.append("iter_num     \(groupedThousands(n))\(t.maxIters.map { " of max_iters \(groupedThousands($0))" } ?? "")") }
        if let lr = t.learningRate { lines.append("lr           \(lr)") }
        if let wd = t.weightDecay {
            let tau = t.learningRate.map { lr in lr * wd > 0 ? String(format: " (AdamW τ = 1/(ηλ) = %.0f steps)", 1 / (lr * wd)) : "" } ?? ""
            lines.append("weight decay \(wd)\(tau)")
        }
        if let v = t.bestValLoss { lines.append(String(format: "best val     %.6f nats/token", v)) }
        if let e = t.avgEffectiveLR {
            lines.append(String(format: "avg eff. LR  %.6g", e)
                         + " (mean of lr/(sqrt(exp_avg_sq)+eps) over \(groupedThousands(t.adamStateElements ?? 0)) AdamW state elements)")
            if let z = t.adamZeroStateElements, z > 0 {
                let rest = t.avgEffectiveLRUpdated.map { String(format: "; over the other elements %.6g", $0) } ?? ""
                lines.append("             \(groupedThousands(z)) of them have exp_avg_sq = 0 (never updated: unseen tokens, "
                             + "padded vocabulary rows), each adding lr/eps to the mean\(rest)")
            }
        }
        return lines
    }
}

/// A config as inspect prints it: `n_head` null when nothing states the head count (the loaded config's is a
/// placeholder then).
struct StatedHeads: Encodable {
    let config: GPT2Config
    let known: Bool

    enum Keys: String, CodingKey { case nHead = "n_head" }

    func encode(to encoder: Encoder) throws {
        try config.encode(to: encoder)
        if !known {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encodeNil(forKey: .nHead)
        }
    }
}
