// Where a model's shape came from. The tensors' shapes give the vocabulary, context, width,
// layers and MLP width; the head count is the one size they don't (KerasHub's q/k/v excepted),
// so it comes from what the file or its folder says, from the user, or — only for GPT-2's own
// sizes — from GPT-2's convention of 64-wide heads. Anything else is refused.

import Foundation

/// The source of a loaded model's head count (every stated size is also checked against the shapes).
public enum ShapeSource: Sendable, Equatable, CustomStringConvertible, Encodable {
    /// The q/k/v tensors' own shapes (KerasHub's [C, heads, head size]).
    case tensorShapes
    /// A config stored in the checkpoint itself, by its key ("model_args": nanoGPT).
    case checkpointConfig(String)
    /// HF's `config.json` beside the weights (or in their folder), by path.
    case configJSON(String)
    /// `meta.json` / `model.json` beside the checkpoint (gpjt's runs, these fixtures), by path.
    case metaJSON(String)
    /// llm.c's `model.bin` header.
    case llmcHeader
    /// Integer attributes of an HDF5 file's root group (h5py's `f.attrs["n_head"]`).
    case hdf5Attributes
    /// A command-line option ("--heads").
    case option(String)
    /// The run's `heads` key in a report manifest.
    case manifest
    /// No config anywhere and GPT-2's own (layers, width): heads of width 64.
    case gpt2Convention
    /// Nothing states it and the command does not need it (inspect, norms, spectra): the config's `nHead`
    /// is a placeholder 1, never shown.
    case unstated

    public var description: String {
        switch self {
        case .tensorShapes: return "q/k/v tensor shapes"
        case let .checkpointConfig(key): return "\(key) in the checkpoint"
        case let .configJSON(path), let .metaJSON(path): return path
        case .llmcHeader: return "llm.c header"
        case .hdf5Attributes: return "HDF5 root attributes"
        case let .option(name): return name
        case .manifest: return "heads in the manifest"
        case .gpt2Convention: return "GPT-2 convention (head width 64)"
        case .unstated: return "not stated (no config in the file or its folder; --heads N gives one)"
        }
    }

    /// The source as the subject of a message: "model_args", a config's path, "the llm.c header".
    var subject: String {
        switch self {
        case let .checkpointConfig(key): return key
        case .llmcHeader: return "the llm.c header"
        case .hdf5Attributes: return "the HDF5 root attribute"
        default: return description
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// Who gave an explicit head count, for the messages: the `--heads` option or a manifest's `heads` key.
public enum HeadsGivenBy: Sendable, Equatable {
    case option, manifest

    var source: ShapeSource { self == .option ? .option("--heads") : .manifest }
    /// "--heads 4" / "heads = 4 in the manifest".
    func naming(_ n: Int) -> String { self == .option ? "--heads \(n)" : "heads = \(n) in the manifest" }
    /// How to give the count when nothing does.
    var advice: String {
        self == .option ? "pass --heads N" : "set heads = N in this run's [[run]] of the manifest"
    }
}

/// (layers, width) of GPT-2 small, medium, large and XL: the only sizes whose head count may be
/// taken from GPT-2's convention (width / 64) when nothing states it.
let gpt2Sizes: Set<[Int]> = [[12, 768], [24, 1024], [36, 1280], [48, 1600]]
