import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Plumbing

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a checkpoint's format, layout, config and parameter count.",
        discussion: """
        Example:
          gpt2lab inspect examples/runs/reference/model.safetensors
          gpt2lab inspect model.weights.h5 --heads 12 --json
        """)

    @Argument(help: "Checkpoint file (.safetensors or HDF5 .h5).")
    var checkpoint: String

    @OptionGroup var model: HeadsOption

    @Flag(help: "Print one JSON object.")
    var json = false

    struct Output: Encodable {
        let checkpoint: String
        let format: String
        let layout: String
        let config: GPT2Config
        let parameters: Int
        let tiedEmbeddings: Bool
        let dtypes: [String: Int]
        let headsSource: String
        let ignoredTensors: [String]
        let tensors: [Tensor]
        let warnings: [String]
        struct Tensor: Encodable { let name: String; let shape: [Int]; let dtype: String }
        enum CodingKeys: String, CodingKey {
            case checkpoint, format, layout, config, parameters, dtypes, tensors, warnings
            case tiedEmbeddings = "tied_embeddings", headsSource = "heads_source", ignoredTensors = "ignored_tensors"
        }
    }

    func run() throws {
        try runReporting {
            let ck = try loadCheckpoint(path: checkpoint, heads: model.heads)
            let c = ck.weights.config
            let out = Output(checkpoint: checkpoint, format: ck.format.rawValue, layout: ck.layout.rawValue, config: c,
                             parameters: ck.weights.parameterCount, tiedEmbeddings: ck.weights.tied, dtypes: ck.dtypes,
                             headsSource: ck.headsSource, ignoredTensors: ck.ignoredTensors,
                             tensors: ck.sourceTensors.map { .init(name: $0.name, shape: $0.shape, dtype: $0.dtype) },
                             warnings: ck.warnings)
            if json { try printJSON(out); return }
            for w in ck.warnings { warn("\(checkpoint): \(w)") }
            let dt = ck.dtypes.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", ")
            print("""
            checkpoint   \(checkpoint)
            format       \(ck.format.rawValue)
            layout       \(ck.layout.rawValue)
            config       vocab \(c.vocabSize), context \(c.contextLength), width \(c.nEmbd), layers \(c.nLayer), \
            heads \(c.nHead) (from \(ck.headsSource)), MLP \(c.nInner)
            parameters   \(groupedThousands(ck.weights.parameterCount))\(ck.weights.tied ? " (embeddings tied, counted once)" : "")
            biases       \(ck.weights.isStored(TensorID(.qkvb, layer: 0)) ? "QKV bias" : "no QKV bias"), \
            \(ck.weights.isStored(TensorID(.fcb, layer: 0)) ? "MLP bias" : "no MLP bias")
            tied         \(ck.weights.tied ? "yes" : "no")
            dtypes       \(dt)
            tensors      \(ck.sourceTensors.count) stored\(ck.ignoredTensors.isEmpty ? "" : ", \(ck.ignoredTensors.count) buffers ignored (\(ck.ignoredTensors.prefix(3).joined(separator: ", "))\(ck.ignoredTensors.count > 3 ? ", …" : ""))")
            """)
        }
    }
}
