// Why a run differs, for the report: the Hessian's trace by block and role, its top eigenvalues and
// eigenvalue density (`report --hessian-samples`, `--hessian-top`, `--hessian-density`), and the
// weight spectra of each run and of its step checkpoints (manifest `spectra = true`). The phases
// read a run's loaded weights; the results are results.json's `hessian` and `spectra` arrays,
// which the Report module draws across runs (and across steps).

import Checkpoints
import Engine
import Foundation

/// The SLQ quadrature of a density without its 10,000-point grid: the page broadens it again
/// (`broadenedDensity`), so results.json keeps what defines the density, not its samples.
public struct DensityQuadrature: Codable, Sendable, Equatable {
    public var probe: SLQProbe
    public var steps: Int
    /// Nodes and weights, one entry per start vector.
    public var runs: [SLQRun]
    public var sigmaSquared: Double
    public var hvps: Int
    public var seconds: Double
    enum CodingKeys: String, CodingKey { case probe, steps, runs, sigmaSquared = "sigma_squared", hvps, seconds }

    public init(_ d: HessianDensity) {
        probe = d.probe; steps = d.steps; runs = d.runs; sigmaSquared = d.sigmaSquared; hvps = d.hvps; seconds = d.seconds
    }
}

/// One run's Hessian in the report (results.json `hessian[]`): the trace, its split by block and by
/// role from the same Hutchinson probes, the top eigenvalues with residuals, and the density.
public struct RunHessian: Codable, Sendable, Equatable {
    public var run: String
    public var trace: Double
    public var stderr: Double
    public var samples: Int
    /// Windows and tokens per window of the Hessian's batch, and its mean loss.
    public var batch: Int
    public var context: Int
    public var batchLoss: Double
    /// `hessianBlock` → trace ± stderr; `hessianRole` → the same summed over layers.
    public var byBlock: [String: PartTrace]
    public var byRole: [String: PartTrace]
    public var topEigenvalues: [Double]
    public var eigenResiduals: [Double]
    public var eigenConverged: Bool
    public var density: DensityQuadrature?
    public var seconds: Double
    /// The run's training steps (its own checkpoint's step), when known; its step checkpoints' Hessians in
    /// step order (`report --hessian-steps` with `loss_across_steps`).
    public var step: Int?
    public var steps: [StepHessian]?
    enum CodingKeys: String, CodingKey {
        case run, trace, stderr, samples, batch, context, batchLoss = "batch_loss", byBlock = "by_block", byRole = "by_role"
        case topEigenvalues = "top_eigenvalues", eigenResiduals = "eigen_residuals", eigenConverged = "eigen_converged"
        case density, seconds, step, steps
    }

    public init(run: String, _ h: HessianResult) {
        self.run = run; trace = h.trace; stderr = h.stderr; samples = h.samples; batch = h.batch; context = h.context
        batchLoss = h.batchLoss; byBlock = h.byBlock; byRole = h.byRole ?? [:]; topEigenvalues = h.topEigenvalues
        eigenResiduals = h.eigenResiduals; eigenConverged = h.eigenConverged; density = h.density.map(DensityQuadrature.init)
        seconds = h.seconds
    }
}

/// The Hessian of one step checkpoint of a run (its `run` reads "RUN step N").
public struct StepHessian: Codable, Sendable, Equatable {
    public var step: Int
    public var hessian: RunHessian
}

/// Spectra of one step checkpoint of a run.
public struct StepSpectra: Codable, Sendable {
    public var step: Int
    public var spectra: CheckpointSpectra
}

/// One run's weight spectra in the report (results.json `spectra[]`): its checkpoint's, and its step
/// checkpoints' in step order (with `loss_across_steps`; the run's own checkpoint is not repeated there).
public struct RunSpectra: Codable, Sendable {
    public var run: String
    /// The run's training steps (its own checkpoint's step), when known.
    public var step: Int?
    public var spectra: CheckpointSpectra
    public var steps: [StepSpectra]?
}

/// Spectra of the weight matrices of `ck` (read from `path`; `label` names it in progress) when the
/// manifest asks for them; nil otherwise.
func spectraPhase(_ label: String, path: String, _ ck: LoadedCheckpoint, _ s: ComparisonSetup,
                  events: @escaping (ComparisonEvent) -> Void) throws -> CheckpointSpectra? {
    guard s.m.spectra else { return nil }
    events(.spectra(run: label))
    return try checkpointSpectra(checkpoint: path, weights: ck.weights)
}

/// The run's training steps as its results row has them (its own checkpoint's step on the charts).
private func trainingSteps(_ r: RunState, _ rows: [RunResult]) -> Int? {
    rows.first { $0.name == r.name }?.hyperparameters.steps
}

/// results.json's `hessian`: the runs with a Hessian (and their step checkpoints'), in manifest order;
/// nil when there are none.
func hessianResults(_ runs: [RunState], rows: [RunResult]) -> [RunHessian]? {
    let out = runs.compactMap { r -> RunHessian? in
        guard let h = r.hessian else { return nil }
        var rh = RunHessian(run: r.name, h)
        rh.step = trainingSteps(r, rows)
        rh.steps = r.stepHessian
        return rh
    }
    return out.isEmpty ? nil : out
}

/// results.json's `spectra`: the runs' spectra in manifest order; nil without `spectra = true`.
func spectraResults(_ runs: [RunState], rows: [RunResult]) -> [RunSpectra]? {
    let out = runs.compactMap { r -> RunSpectra? in
        guard let sp = r.spectra else { return nil }
        return RunSpectra(run: r.name, step: trainingSteps(r, rows), spectra: sp,
                          steps: r.stepSpectra)
    }
    return out.isEmpty ? nil : out
}
