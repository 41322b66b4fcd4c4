// What to compare: the test set, the windows, the baseline, the reference and the runs. The
// Report module reads it from a TOML manifest (Manifest.swift there); errors name the manifest and
// the line of the run they concern.

import Foundation

/// A manifest problem: one line, naming the file, the line and key when known.
public struct ManifestError: Error, LocalizedError, Sendable, Equatable {
    public let manifest: String
    public let line: Int?
    public let problem: String
    public init(_ manifest: String, line: Int? = nil, _ problem: String) {
        self.manifest = manifest; self.line = line; self.problem = problem
    }
    public var errorDescription: String? { "\(manifest)\(line.map { ":\($0)" } ?? ""): \(problem)" }
}

/// One `[[run]]` entry, paths resolved.
public struct RunSpec: Sendable {
    public var name: String
    public var checkpoint: String
    public var description: String?
    public var seedGroup: String?
    public var stackOf: [String]
    public var scores: String?
    public var heads: Int?
    public var hyper: Hyperparameters
    /// (step, training loss) from the meta file, when it has a `loss_curve`.
    public var lossCurve: [(step: Double, loss: Double)]
    /// Line of the entry's `[[run]]` header in the manifest.
    public var line: Int?
    /// Step checkpoints for `loss_across_steps` (`step_checkpoints`, resolved); nil: those found
    /// beside the checkpoint (`stepCheckpoints(besides:)`).
    public var stepCheckpoints: [String]?

    public init(name: String, checkpoint: String, description: String? = nil, seedGroup: String? = nil,
                stackOf: [String] = [], scores: String? = nil, heads: Int? = nil, hyper: Hyperparameters = Hyperparameters(),
                lossCurve: [(step: Double, loss: Double)] = [], line: Int? = nil) {
        self.name = name; self.checkpoint = checkpoint; self.description = description; self.seedGroup = seedGroup
        self.stackOf = stackOf; self.scores = scores; self.heads = heads; self.hyper = hyper
        self.lossCurve = lossCurve; self.line = line
    }
}

/// `per_token_max_tokens` when the manifest gives none: 32 windows of 256, or 8 of GPT-2's 1024;
/// about as long as scoring one run on that many tokens, twice over.
public let defaultPerTokenMaxTokens = 8192

/// The `maxTokens` of a window plan over the report's first windows up to `cap` scored tokens (a window
/// scores one token fewer than it reads; nil when uncapped).
func cappedMaxTokens(_ m: ReportManifest, cap: Int) -> Int? {
    let reads = cap >= Int.max - 1 ? Int.max : cap + 1
    let n = min(m.maxTokens ?? Int.max, max(2, reads))
    return n == Int.max ? nil : n
}

/// `interpolate_points` when the manifest gives none, as `gpt2lab interpolate --points`.
public let defaultInterpolatePoints = 11

/// Two runs of the manifest, by name: a straight path from `a` (t = 0) to `b` (t = 1).
public struct RunPair: Sendable, Equatable {
    public var a: String
    public var b: String
    public init(_ a: String, _ b: String) { self.a = a; self.b = b }
}

/// A parsed, checked manifest.
public struct ReportManifest: Sendable {
    /// The manifest file as given.
    public var path: String
    public var title: String
    public var description: String?
    public var testSet: String
    public var context: Int?
    public var stride: Int?
    public var skip: Int
    public var maxTokens: Int?
    public var baseline: String
    public var reference: String?
    public var referenceNote: String?
    public var runs: [RunSpec]
    /// Softmax over every stored row of padded vocabularies (`full_vocab = true`); else GPT-2's 50257.
    public var fullVocab = false
    /// Benchmarks to run beside the test loss (`hellaswag`, `lambada`, …; CompareEvals.swift).
    public var evals = EvalSpec()
    /// Runs compared token by token with the baseline (`per_token = true | ["run", …]`; ComparePerToken.swift),
    /// in manifest order, never the baseline itself.
    public var perToken: [String] = []
    /// Tokens each per-token comparison scores: the report's first windows up to this many (`per_token_max_tokens`).
    public var perTokenMaxTokens = defaultPerTokenMaxTokens
    /// `ci = HALF_WIDTH` (with `ci_seed`, `ci_min_windows`): score each run against the baseline
    /// sequentially, on the paired difference, until its interval is that narrow (SequentialCompare.swift).
    public var sequential: SequentialRule?
    /// `loss_across_steps = true`: also score each run's step checkpoints (test loss vs step).
    public var lossAcrossSteps = false
    /// `spectra = true`: the weight spectra of each run (and of its step checkpoints; WhyPhases.swift).
    public var spectra = false
    /// `frequencies` (with `frequencies_dataset`): the token file the per-token section ranks token types by,
    /// usually the runs' training data; nil: the test set's scored tokens (TokenFrequency.swift).
    public var frequencies: String?
    public var frequenciesDataset: String?
    /// `interpolate = [["a", "b"], …]`: pairs of runs whose straight path θ(t) = (1 − t)·θ_a + t·θ_b the report
    /// scores at `interpolatePoints` evenly spaced t in [0, 1], on its first windows up to `interpolateMaxTokens`
    /// scored tokens (InterpolationPhase.swift).
    public var interpolate: [RunPair] = []
    public var interpolatePoints = defaultInterpolatePoints
    public var interpolateMaxTokens = defaultPerTokenMaxTokens

    public init(path: String, title: String, description: String? = nil, testSet: String, context: Int? = nil,
                stride: Int? = nil, skip: Int = 0, maxTokens: Int? = nil, baseline: String, reference: String? = nil,
                referenceNote: String? = nil, runs: [RunSpec], fullVocab: Bool = false) {
        self.path = path; self.title = title; self.description = description; self.testSet = testSet
        self.context = context; self.stride = stride; self.skip = skip; self.maxTokens = maxTokens
        self.baseline = baseline; self.reference = reference; self.referenceNote = referenceNote; self.runs = runs
        self.fullVocab = fullVocab
    }

    public func run(_ name: String) -> RunSpec? { runs.first { $0.name == name } }

    /// Runs sharing `name`'s seed group (the named run plus every run whose `seed_group` names
    /// it), in manifest order; empty when the run is in no group of two or more.
    public func seedGroup(of name: String) -> [String] {
        guard let r = run(name) else { return [] }
        let root = r.seedGroup ?? name
        let group = runs.filter { $0.name == root || $0.seedGroup == root }.map(\.name)
        return group.count >= 2 ? group : []
    }
}
