// What a comparison produces (results.json) and the knobs and progress events of `compareRuns`.

import Engine
import Foundation


/// Knobs of a report.
public struct ReportOptions: Sendable {
    /// Bootstrap replicates B.
    public var bootstrap = 2000
    /// Seeds the bootstrap, the Hessian probes and the sampled completion.
    public var seed: UInt64 = 0
    /// CI coverage.
    public var level = 0.95
    /// Hutchinson probes per run; 0 skips the Hessian.
    public var hessianSamples = 0
    /// Top Hessian eigenvalues per run (Lanczos; needs `hessianSamples` > 0); 0 skips them.
    public var hessianTop = 0
    /// The Hessian's eigenvalue density (SLQ) per run (needs `hessianSamples` > 0); nil skips it.
    public var hessianDensity: DensityOptions?
    /// The same Hessian for each step checkpoint too (with the manifest's `loss_across_steps`).
    public var hessianSteps = false
    public var threads: Int?
    /// Cache folder; nil disables reading and writing the cache.
    public var cacheDirectory: String?
    /// Score every run even when cached (the new scores are still written to the cache).
    public var rescore = false
    /// Prompt of the smoke-test completions (gpjt's); nil skips them.
    public var completionPrompt: String? = "Every effort moves you"
    /// New tokens per completion.
    public var completionTokens = 20
    /// The seeded sample's temperature and top-k.
    public var sampleTemperature = 1.0
    public var sampleTopK: Int? = 40
    /// Precision of the test-loss products (norms, Hessian and completions stay f32).
    public var precision: Precision = .f32
    /// Where the full scores run (`report --device`); sequential and step scores stay on the CPU.
    public var device: ComputeDevice = .cpu
    /// How f32 products run on that GPU (`report --gpu-math`); no effect on the CPU or in bf16.
    public var gpuMath: GPUMath = .default
    public init() {}
}

/// The smoke-test completion of a run: greedy, and one seeded sample (prompt included in the texts).
public struct RunCompletion: Codable, Sendable, Equatable {
    public var prompt: String
    public var greedy: String
    public var sample: String?
    public var seed: UInt64?
    public init(prompt: String, greedy: String, sample: String?, seed: UInt64?) {
        self.prompt = prompt; self.greedy = greedy; self.sample = sample; self.seed = seed
    }
}

/// One run's row of the report; its results.json and results.csv columns are `RunResult.columns`.
public struct RunResult: Codable, Sendable {
    public var name: String
    public var description: String?
    public var checkpoint: String
    public var contentHash: String
    /// Other runs whose checkpoint has the same content hash.
    public var identicalTo: [String]
    /// Where the score came from.
    public var scoreSource: ScoreSource
    public var params: Int
    public var loss: Double
    public var lossCI: [Double]
    public var perplexity: Double
    public var deltaVsBaseline: Double?
    public var deltaCI: [Double]?
    public var pValue: Double?
    /// |Δ vs baseline| ≤ the seed-noise half-width; nil without a band (and for the baseline).
    public var inNoise: Bool?
    /// Better, worse or in the noise against the baseline (`runVerdict`); nil for the baseline.
    public var verdict: Verdict? = nil
    public var deltaVsReference: Double?
    public var deltaReferenceCI: [Double]?
    public var gapClosed: Double?
    public var totalSumSq: Double
    public var decaySumSq: Double
    public var noDecaySumSq: Double
    public var hyperparameters: Hyperparameters
    public var tauSteps: Double?
    public var tauFraction: Double?
    public var stackOf: [String]
    /// Σ of the parts' Δ vs baseline, for a run with `stack_of`.
    public var expectedIfAdditive: Double?
    public var hessianTrace: Double?
    public var hessianStderr: Double?
    public var completion: RunCompletion?
    /// With `ci` in the manifest: how the run was scored against the baseline (windows read, Δ).
    public var sequential: SequentialRunResult?
    /// With `loss_across_steps`: test loss of each step checkpoint (and the final one), by step.
    public var stepLosses: [StepLoss]?
    /// Where the model's head count came from (Checkpoints' ShapeSource, as text).
    public var shapeSource: String?
    /// The window bootstrap's block lengths for this run's intervals (absent with sequential scoring).
    public var ciBlocks: BootstrapBlocks? = nil
    // results.json and results.csv: `RunResult.columns` (RunColumns.swift).
}

/// Consecutive windows per resampled block (Statistics.swift's `ratioBlockLength`) behind a run's loss interval and
/// its paired Δ against the baseline: 1 is the plain window bootstrap; the rule gives a few even to independent
/// windows, and more the more alike neighbouring windows are.
public struct BootstrapBlocks: Codable, Sendable, Equatable {
    public var loss: Int
    public var delta: Int?
    public init(loss: Int, delta: Int?) { self.loss = loss; self.delta = delta }
}

/// A run scored sequentially against the baseline (manifest `ci`, SequentialCompare.swift): the
/// windows read in the shared seeded order, the run's and the baseline's loss on exactly those
/// windows, and the paired Δ with its without-replacement interval. The baseline's own entry has
/// the windows it read (as many as the longest-reading run) and no Δ.
public struct SequentialRunResult: Codable, Sendable, Equatable {
    public var method: SequentialMethod
    public var windowsScored: Int
    public var windowsTotal: Int
    public var fractionRead: Double
    public var loss: Double
    public var baselineLoss: Double
    public var delta: Double?
    public var deltaCI: [Double]?
    public var stopped: SequentialStop
    enum CodingKeys: String, CodingKey {
        case method, windowsScored = "windows_scored", windowsTotal = "windows_total", fractionRead = "fraction_read"
        case loss, baselineLoss = "baseline_loss", delta, deltaCI = "delta_ci", stopped
    }
}

/// How a run was scored sequentially (results.json `method`).
public enum SequentialMethod: String, Codable, Sendable {
    /// A run against the baseline.
    case paired = "sequential paired"
    /// The baseline, or a run scored alone.
    case alone = "sequential"
}

/// Why a sequential run stopped (results.json `stopped`).
public enum SequentialStop: String, Codable, Sendable {
    /// The interval reached the target half-width.
    case halfWidth = "half-width"
    /// Every window was read.
    case exhausted
}

/// Where a step loss came from (results.json `source`).
public enum StepSource: String, Codable, Sendable {
    case scored, cache
    /// The run's own checkpoint, from its row.
    case run
}

/// The sequential rule a report used (`ci`, `ci_seed`, `ci_min_windows`).
public struct SequentialSettings: Codable, Sendable, Equatable {
    public var halfWidth: Double
    public var seed: UInt64
    public var minWindows: Int
    public var level: Double
    public var rule: String
    enum CodingKeys: String, CodingKey { case halfWidth = "half_width", seed, minWindows = "min_windows", level, rule }
}

/// Test loss of one checkpoint of a run's training (`loss_across_steps`).
public struct StepLoss: Codable, Sendable, Equatable {
    public var step: Int
    public var checkpoint: String
    public var loss: Double
    /// The sequential interval (with `ci`), or nil for a full score.
    public var lossCI: [Double]?
    public var windowsScored: Int
    public var windowsTotal: Int
    public var source: StepSource
    /// ‖θ‖² of all parameters and of the decay group (2-D tensors), for the norm-vs-step chart.
    public var totalSumSq: Double
    public var decaySumSq: Double
    enum CodingKeys: String, CodingKey {
        case step, checkpoint, loss, lossCI = "loss_ci", windowsScored = "windows_scored", windowsTotal = "windows_total", source
        case totalSumSq = "total_sum_sq", decaySumSq = "decay_sum_sq"
    }
}

/// The seed-noise band: runs that differ only in their seed, and the band's half-width.
public struct SeedNoise: Codable, Sendable {
    public var runs: [String]
    public var halfWidth: Double
    public var rule: String
    enum CodingKeys: String, CodingKey { case runs, halfWidth = "half_width", rule }
}

/// Settings every run was scored and compared with.
public struct ReportSettings: Codable, Sendable {
    public var context: Int
    public var stride: Int
    public var skip: Int
    public var maxTokens: Int?
    public var windows: Int
    public var tokensScored: Int
    public var bootstrap: Int
    public var seed: UInt64
    public var level: Double
    public var hessianSamples: Int
    /// `--hessian-top` and `--hessian-density` (vectors × Lanczos steps), when asked for.
    public var hessianTop: Int? = nil
    public var hessianDensityVectors: Int? = nil
    public var hessianDensitySteps: Int? = nil
    /// `--hessian-steps`: the step checkpoints' Hessians too.
    public var hessianSteps: Bool? = nil
    public var engine: String
    public var pValueRule: String
    /// Precision of the scoring products, "f32" or "bf16" (`report --precision`); absent in older results (f32).
    public var precision: String?
    /// Set when the runs were scored sequentially (manifest `ci`).
    public var sequential: SequentialSettings?
    /// The GPU the full scores ran on ("cuda NVIDIA H200 sm_9.0"); absent for the CPU.
    public var device: String? = nil
    enum CodingKeys: String, CodingKey {
        case context, stride, skip, maxTokens = "max_tokens", windows, tokensScored = "tokens_scored", bootstrap
        case seed, level, hessianSamples = "hessian_samples", engine, pValueRule = "p_value_rule", precision, sequential
        case device, hessianTop = "hessian_top", hessianDensityVectors = "hessian_density_vectors"
        case hessianDensitySteps = "hessian_density_steps", hessianSteps = "hessian_steps"
    }
}

public struct TestSetInfo: Codable, Sendable {
    public var path: String
    public var contentHash: String
    public var tokens: Int
    public var format: String
    enum CodingKeys: String, CodingKey { case path, contentHash = "content_hash", tokens, format }
}

/// Everything `results.json` holds.
public struct ComparisonResults: Codable, Sendable {
    public var title: String
    public var description: String?
    public var manifest: String
    public var testSet: TestSetInfo
    public var settings: ReportSettings
    public var baseline: String
    public var reference: String?
    public var referenceNote: String?
    public var seedNoise: SeedNoise?
    public var runs: [RunResult]
    /// HellaSwag / LAMBADA per run, when the manifest names them (CompareEvals.swift).
    public var evals: [EvalComparison]?
    /// Token-by-token comparisons with the baseline, when the manifest sets `per_token` (ComparePerToken.swift).
    public var perToken: [PerTokenComparison]?
    /// Each run's Hessian by block and role, eigenvalues and density, with `--hessian-samples` (WhyPhases.swift).
    public var hessian: [RunHessian]?
    /// Each run's weight spectra (and its step checkpoints'), with `spectra = true` (WhyPhases.swift).
    public var spectra: [RunSpectra]?
    /// The straight paths between the pairs of runs the manifest's `interpolate` names (InterpolationPhase.swift).
    public var interpolation: [RunInterpolation]?
    enum CodingKeys: String, CodingKey {
        case title, description, manifest, testSet = "test_set", settings, baseline, reference
        case referenceNote = "reference_note", seedNoise = "seed_noise", runs, evals, perToken = "per_token"
        case hessian, spectra, interpolation
    }
    public func run(_ name: String) -> RunResult? { runs.first { $0.name == name } }
}

/// What the charts need beyond results.json.
public struct ComparisonExtras: Sendable {
    public var norms: [CheckpointNormStats]
    /// Run name → (step, training loss).
    public var lossCurves: [(name: String, points: [(step: Double, loss: Double)])]
}

/// Progress events of `compareRuns`, for the CLI to print.
public enum ComparisonEvent: Sendable {
    /// A run's score: "cached", "scores file" or "scoring".
    case score(run: String, source: String)
    /// Scoring progress in tokens.
    case scoring(run: String, done: Int, total: Int)
    /// Hessian progress: the trace's probes, the eigenvalues' Lanczos steps, each density vector's steps.
    case hessian(run: String, stage: HessianStage, done: Int, total: Int)
    /// A run's (or step checkpoint's) weight spectra are being computed.
    case spectra(run: String)
    /// Per-token comparison with the baseline, progress in tokens (done = 0 when it starts).
    case comparing(run: String, done: Int, total: Int)
    /// Interpolation progress: pair a→b, point t, in tokens (done = 0 when the point starts).
    case interpolating(a: String, b: String, t: Double, done: Int, total: Int)
    /// Benchmark progress in examples; `what` names the task and recipe.
    case evaluating(run: String, what: String, done: Int, total: Int)
    case note(String)
    /// A result line worth showing as it happens (a sequential run's stop), not a warning.
    case info(String)
}
