import Analysis
import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Plumbing
import Report
import TestSets

extension SLQProbe: ExpressibleByArgument {}

struct Hessian: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Trace and top eigenvalues of the loss Hessian on one batch of a test set.",
        discussion: """
        The batch is the first --batch disjoint windows of --context tokens of the test set; the loss is \
        their mean cross-entropy.

        Trace: Hutchinson's estimator, the mean of vᵀHv over Rademacher probes v (entries ±1), split over \
        the stored tensors (per-tensor and per-layer parts add up to the total). The error bar is the \
        standard error, sample std / √n. With --tol it stops early once stderr/|trace| < tol.

        Top eigenvalues (--top K, largest in magnitude): Lanczos with full reorthogonalisation from a Gaussian \
        start. After each step it stops once every wanted Ritz value λ has its recurrence residual \
        β·|last component| ≤ --eigen-tol·|λ| (after at least 2K steps), or after --eigen-steps steps; each λ is \
        reported with its explicit residual ‖Hy − λy‖ (one extra HVP): some eigenvalue of the HVP operator lies \
        within it. The operator is a central difference of gradients, itself within ~1e-4 relative of the exact \
        Hessian (baseline fixture: λ₁ 26.9450 ± 0.0009 against PyTorch's exact 26.9471).

        --by-block: the trace split per layer and role (attn.qkv, attn.proj, mlp.fc, mlp.proj, ln_1, ln_2; wte, \
        wpe, ln_f, lm_head) from the same probes, each ± its standard error; the parts add up to the total.

        --density: the eigenvalue density by stochastic Lanczos quadrature, as PyHessian's density(): \
        --density-vectors normalised Rademacher (or Gaussian) vectors × --density-steps Lanczos steps; each gives \
        T's eigenvalues (nodes) and squared first eigenvector components (weights); the density is their \
        Gaussian broadening (variance 1e-5·max(1, range)) on 10000 points, averaged and normalised to mass 1. \
        --plot FILE.png draws it on a log scale. Density and eigenvalues use the eigenvalue step (δ = 1e-6).

        Hessian-vector products are central differences of fp32 gradients, Hv ≈ (g(θ+εv) − g(θ−εv)) / 2ε. \
        For the trace probes the step is relative, ‖εv‖ = δ‖θ‖ with δ = 1e-3 (each weight moves by about \
        1e-3 of the RMS weight); measured against exact double-backprop HVPs its error is ~1e-4 relative. \
        Lanczos uses a 1000× smaller step (δ = 1e-6), since a step of 1e-3‖θ‖ along a sharp \
        direction leaves the quadratic region (λ₁ then comes out ~10× too small). Each HVP costs two forward+backward passes.

        --device cuda runs the gradients on the GPU with cuBLAS's FP32 products whatever --gpu-math elsewhere says \
        (no TF32: the central difference divides by a small ε, so the gradients must carry f32's rounding). The \
        trace's probes are drawn on the GPU (the same probes as on the CPU) and only each block's vᵀHv comes back. Without a usable GPU it stops with one line saying what is missing.

        Examples:
          gpt2lab hessian examples/runs/baseline/model.safetensors --test-set examples/test-persuasion.bin
          gpt2lab hessian ckpt.safetensors --test-set tokens.bin --samples 300 --tol 0.01 --top 2 --json
          gpt2lab hessian ckpt.safetensors --test-set tokens.bin --samples 30 --by-block --density --plot esd.png
        """)

    @Argument(help: ArgumentHelp("Checkpoint: " + checkpointKinds + "."))
    var checkpoint: String

    @OptionGroup var data: TestSetOptions
    @OptionGroup var deviceOption: DeviceOption

    @Option(parsing: .unconditional, help: "Windows in the batch (B).")
    var batch: Int = 4

    @Option(parsing: .unconditional, help: "Hutchinson probes (the cap when --tol is given).")
    var samples: Int = 100

    @Option(parsing: .unconditional, help: "Stop the trace early once stderr/|trace| < tol.")
    var tol: Double?

    @Option(name: .customLong("eigen-tol"), parsing: .unconditional, help: "Stop Lanczos once each residual ≤ tol·|λ|.")
    var eigenTol: Double = 1e-3

    @Option(name: .customLong("eigen-steps"), parsing: .unconditional, help: "Lanczos steps for the eigenvalues at most.")
    var eigenSteps: Int = 100

    @Flag(name: .customLong("by-block"), help: "Show the trace per layer and role, each ± its standard error.")
    var byBlock = false

    @Flag(help: "Estimate the eigenvalue density (stochastic Lanczos quadrature).")
    var density = false

    @Option(name: .customLong("density-vectors"), parsing: .unconditional, help: "SLQ start vectors (PyHessian's n_v).")
    var densityVectors: Int = 1

    @Option(name: .customLong("density-steps"), parsing: .unconditional, help: "Lanczos steps per SLQ vector (PyHessian's iter).")
    var densitySteps: Int = 100

    @Option(name: .customLong("density-probe"), help: "SLQ start vectors: rademacher or gaussian.")
    var densityProbe: SLQProbe = .rademacher

    @Option(help: "Draw the density (with --density) as PNG to FILE.png.")
    var plot: String?

    @Option(parsing: .unconditional, help: "Seed of the probes and start vectors.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "Top eigenvalues to compute (0 skips them).")
    var top: Int = 1

    @OptionGroup var model: HeadsOption

    @OptionGroup var vocab: VocabOption

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if samples < 1 { throw ValidationError("--samples must be at least 1") }
        if let tol, !(tol > 0) { throw ValidationError("--tol must be positive") }
        if !(eigenTol > 0) { throw ValidationError("--eigen-tol must be positive") }
        if top < 0 { throw ValidationError("--top must be 0 or more") }
        if eigenSteps < 1 { throw ValidationError("--eigen-steps must be at least 1") }
        if top > eigenSteps {
            throw ValidationError("--top \(top) needs at least as many Lanczos steps: \(eigenSteps) steps give at most \(eigenSteps) eigenvalues (raise --eigen-steps)")
        }
        if densityVectors < 1 { throw ValidationError("--density-vectors must be at least 1") }
        if densitySteps < 1 { throw ValidationError("--density-steps must be at least 1") }
        if let plot {
            if !density { throw ValidationError("--plot draws the density: add --density") }
            if ChartFormat(path: plot) != .png { throw ValidationError("--plot needs a .png file name") }
        }
    }

    func run() throws {
        try runReporting {
            if let plot { try checkFileOutput(plot, what: "chart", isOurs: isGpt2labChart) }
            let ck = try loadCheckpoint(path: checkpoint, heads: model.heads, vocab: vocab.rows)
            for w in ck.warnings { warn("\(checkpoint): \(w)") }
            let tokens = try loadTokenIDs(path: data.testSet, dataset: data.dataset)
            var bar: ProgressBar?
            var phase: HessianStage?
            let options = density ? DensityOptions(vectors: densityVectors, steps: densitySteps, probe: densityProbe) : nil
            let r = try hessianAnalysis(weights: ck.weights, backend: CPUBackend(threads: data.threads),
                                        device: deviceOption.device, tokens: tokens.ids,
                                        batch: batch, context: data.context, samples: samples, tol: tol, seed: seed,
                                        topK: top, maxIterations: eigenSteps, eigenTol: eigenTol,
                                        density: options) { stage, done, total in
                if stage != phase {
                    bar?.finish()
                    bar = ProgressBar(stage.description, unit: stage == .trace ? "probes" : stage == .gradient ? "it" : "steps")
                    phase = stage
                }
                bar?.update(done, total)
            }
            bar?.finish()
            if top > 0 && !r.eigenConverged {
                warn("eigenvalues: residuals above --eigen-tol after \(r.eigenSteps) Lanczos steps; raise --eigen-steps")
            } else if zip(r.topEigenvalues, r.eigenResiduals).contains(where: { $1 > eigenTol * abs($0) }) {
                warn("eigenvalues: the Lanczos recurrence converged but the explicit residuals ‖Hy − λy‖ are above " +
                     "--eigen-tol·|λ|: the finite-difference Hessian-vector products are noisier than that here")
            }
            if let plot, let d = r.density {
                try render(hessianDensityChart(d, title: "Hessian eigenvalue density — \(checkpointDisplayName(checkpoint))"),
                           to: plot, width: 800, height: 480, scale: 2)
            }
            if json { try printJSON(r); return }
            printHessianSummary(r, vocabLine: describeVocabRows(softmaxed: ck.weights.config.softmaxVocab,
                                                                 stored: ck.weights.config.vocabSize))
            print("")
            if byBlock { printBlockTable(r) } else { printLayerTable(r) }
            if let plot { print("\nwrote \(plot)") }
        }
    }

    func printHessianSummary(_ r: HessianResult, vocabLine: String) {
        print("trace            " + (r.samples > 1 ? formatMeasurement(r.trace, r.stderr) + " (stderr, \(r.samples) Rademacher probes)"
                                                          : String(format: "%.4g (1 Rademacher probe: no standard error)", r.trace)))
        print(String(format: "batch loss       %.6f nats/token (%d × %d tokens)", r.batchLoss, r.batch, r.context))
        print("vocab            softmax over \(vocabLine)")
        if !r.topEigenvalues.isEmpty {
            let pairs = zip(r.topEigenvalues, r.eigenResiduals).map { String(format: "%.5g (residual %.2g)", $0, $1) }
            print("top eigenvalues  " + pairs.joined(separator: ", ") + " — \(r.eigenSteps) Lanczos steps")
        }
        if let d = r.density {
            let nodes = d.runs.map(\.nodes.count).reduce(0, +)
            print(String(format: "density          %d × %d steps (%d nodes), eigenvalues %.4g … %.4g, σ² %.2g",
                         d.runs.count, d.steps, nodes, d.runs.compactMap { $0.nodes.first }.min() ?? 0,
                         d.runs.compactMap { $0.nodes.last }.max() ?? 0, d.sigmaSquared))
            print(String(format: "                 %.1f s: %d HVPs %.1f s, Lanczos's own work %.1f s", d.seconds, d.hvps,
                         d.secondsHVP, d.seconds - d.secondsHVP))
        }
        print(String(format: "time             %.1f s (fwd+bwd %.2f s, HVP %.2f s)", r.seconds, r.secondsFwdBwd,
                     r.secondsPerHVP))
        if let g = r.gpu { print("device           \(describeGPU(g)); FP32 products") }
    }

    func printLayerTable(_ r: HessianResult) {
        print("group          trace   share")
        for g in r.perLayer.keys.sorted(by: { hessianGroupOrder($0) < hessianGroupOrder($1) }) {
            let v = r.perLayer[g]!
            print(g.padding(toLength: 10, withPad: " ", startingAt: 0)
                  + String(format: " %10.4g %6.1f%%", v, r.trace != 0 ? 100 * v / r.trace : 0))
        }
    }

    func printBlockTable(_ r: HessianResult) {
        print("block                 trace     stderr   share")
        for name in r.byBlock.keys.sorted(by: { hessianBlockOrder($0) < hessianBlockOrder($1) }) {
            let p = r.byBlock[name]!
            print(name.padding(toLength: 16, withPad: " ", startingAt: 0)
                  + String(format: " %10.4g ", p.trace) + (p.stderr.isNaN ? "         —" : String(format: "%10.2g", p.stderr))
                  + String(format: " %6.1f%%", r.trace != 0 ? 100 * p.trace / r.trace : 0))
        }
    }
}

/// wte, wpe, then each layer's blocks in network order, ln_f, lm_head.
func hessianBlockOrder(_ name: String) -> (Int, Int) {
    let roles = ["ln_1", "attn.qkv", "attn.proj", "ln_2", "mlp.fc", "mlp.proj"]
    switch name {
    case "wte": return (-1, 0)
    case "wpe": return (-1, 1)
    case "ln_f": return (1_000_000, 0)
    case "lm_head": return (1_000_001, 0)
    default:
        let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, let l = Int(parts[1]) else { return (1_000_002, 0) }
        return (l, roles.firstIndex(of: parts[2]) ?? roles.count)
    }
}

/// embeddings, h.0, h.1, …, ln_f, lm_head.
func hessianGroupOrder(_ g: String) -> Int {
    if g == "embeddings" { return -1 }
    if g.hasPrefix("h."), let n = Int(g.dropFirst(2)) { return n }
    return g == "ln_f" ? 1_000_000 : 1_000_001
}
