// One run of a report as its phases fill it in (CompareRuns.swift lists the phases), the statuses
// they record, and how the comparison opens checkpoints.

import Checkpoints
import Engine
import Foundation

/// Where a run's test loss came from (results.json `score_source`).
public enum ScoreSource: String, Codable, Sendable {
    case scoresFile = "scores file"
    case cache
    case scored
    case scoredSequentially = "scored (sequential)"
}

/// How the comparison opens checkpoints: the header alone for the checks before any work
/// (`peek`), the weights once for a run's phases (`load`). The seam lets a test count the opens.
struct CheckpointOpener: Sendable {
    var peek: @Sendable (_ path: String, _ heads: Int?, _ vocab: VocabRows) throws -> (config: GPT2Config, training: TrainingInfo?)
    var load: @Sendable (_ path: String, _ heads: Int?, _ vocab: VocabRows) throws -> LoadedCheckpoint

    static let files = CheckpointOpener(
        peek: { try checkpointPeek(path: $0, heads: $1, headsGivenBy: .manifest, vocab: $2) },
        load: { try loadCheckpoint(path: $0, heads: $1, headsGivenBy: .manifest, vocab: $2) })
}

/// One run through the report: what the checks read (its header, content hash, a given score
/// file), then each phase's result. Phases run one run at a time on its checkpoint, loaded once.
struct RunState {
    let spec: RunSpec
    var name: String { spec.name }
    /// From the header (the checks); the load's training info, with optimizer state, replaces it.
    var config: GPT2Config
    /// GPT-2's rows of a padded vocabulary (nil: all rows are GPT-2's), what the benchmarks softmax over.
    var tokenizerRows: Int?
    var training: TrainingInfo?
    var contentHash: String
    /// The checkpoint's files when `contentHash` was taken (checked again after loading).
    var stamp: CheckpointStamp?
    /// A pre-computed score (`scores` in the manifest), read and checked before any work.
    var given: ScoreReport?

    // The load.
    var shapeSource: String?
    var params = 0
    // The score phase (ScorePhase.swift).
    var score: RunScore?
    // The norms, completions and Hessian phases (RunPhases.swift).
    var norms: CheckpointNormStats?
    var completion: RunCompletion?
    var hessian: HessianResult?
    /// The spectra phase (WhyPhases.swift), and the step checkpoints' spectra (from the steps phase).
    var spectra: CheckpointSpectra?
    var stepSpectra: [StepSpectra]?
    var stepHessian: [StepHessian]?
    /// The benchmark phase: one prediction list per prepared benchmark (CompareEvals.swift).
    var benchmarks: [[EvalPrediction]] = []
    /// The per-token phase: this run against the baseline (ComparePerToken.swift).
    var perToken: PerTokenComparison?
    /// The steps phase: the step checkpoints' losses (StepLosses.swift), before the run's own is added.
    var steps: [StepLoss]?

    init(spec: RunSpec, config: GPT2Config, tokenizerRows: Int?, training: TrainingInfo?, contentHash: String,
         stamp: CheckpointStamp? = nil, given: ScoreReport?) {
        self.spec = spec; self.config = config; self.tokenizerRows = tokenizerRows; self.training = training
        self.contentHash = contentHash; self.stamp = stamp; self.given = given
    }
}
