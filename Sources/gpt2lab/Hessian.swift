import Analysis
import ArgumentParser
import Checkpoints
import Engine
import Foundation
import TestSets

struct Hessian: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Trace and top eigenvalues of the loss Hessian on one batch of a test set.",
        discussion: """
        The batch is the first --batch disjoint windows of --context tokens of the test set; the loss is \
        their mean cross-entropy.

        Trace: Hutchinson's estimator, the mean of vᵀHv over Rademacher probes v (entries ±1), split over \
        the stored tensors (per-tensor and per-layer parts add up to the total). The error bar is the \
        standard error, sample std / √n. With --tol it stops early once stderr/|trace| < tol.

        Top eigenvalues: power iteration with deflation from a Gaussian start, as PyHessian: it stops when \
        |λ − λ_prev| / (|λ_prev| + 1e-6) < --eigen-tol, or after 100 iterations.

        Hessian-vector products are central differences of fp32 gradients, Hv ≈ (g(θ+εv) − g(θ−εv)) / 2ε. \
        For the trace probes the step is relative, ‖εv‖ = δ‖θ‖ with δ = 1e-3 (each weight moves by about \
        1e-3 of the RMS weight); measured against exact double-backprop HVPs its error is ~1e-4 relative. \
        Power iteration uses a 1000× smaller step (δ = 1e-6), since a step of 1e-3‖θ‖ along a sharp \
        direction leaves the quadratic region (λ₁ then comes out ~10× too small). Each HVP costs two forward+backward passes.

        Examples:
          gpt2lab hessian examples/runs/baseline/model.safetensors --test-set examples/test-persuasion.bin
          gpt2lab hessian ckpt.safetensors --test-set tokens.bin --samples 300 --tol 0.01 --top 2 --json
        """)

    @Argument(help: ArgumentHelp("Checkpoint: " + checkpointKinds + "."))
    var checkpoint: String

    @OptionGroup var data: TestSetOptions

    @Option(help: "Windows in the batch (B).")
    var batch: Int = 4

    @Option(help: "Hutchinson probes (the cap when --tol is given).")
    var samples: Int = 100

    @Option(help: "Stop the trace early once stderr/|trace| < tol.")
    var tol: Double?

    @Option(name: .customLong("eigen-tol"), help: "Power-iteration relative tolerance (PyHessian's rule).")
    var eigenTol: Double = 1e-3

    @Option(help: "Seed of the probes and start vectors.")
    var seed: UInt64 = 0

    @Option(help: "Top eigenvalues to compute (0 skips power iteration).")
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
    }

    func run() throws {
        try runReporting {
            let ck = try loadCheckpoint(path: checkpoint, heads: model.heads, vocab: vocab.rows)
            for w in ck.warnings { warn("\(checkpoint): \(w)") }
            let tokens = try loadTokenIDs(path: data.testSet, dataset: data.dataset)
            var bar: ProgressBar?
            var phase = ""
            let r = try hessianAnalysis(weights: ck.weights, backend: CPUBackend(threads: data.threads), tokens: tokens.ids,
                                        batch: batch, context: data.context, samples: samples, tol: tol, seed: seed,
                                        topK: top, eigenTol: eigenTol) { name, done, total in
                if name != phase { bar?.finish(); bar = ProgressBar(name, unit: name == "trace" ? "probes" : "it"); phase = name }
                bar?.update(done, total)
            }
            bar?.finish()
            if json { try printJSON(r); return }
            print(String(format: "trace            %.4g ± %.2g (stderr, %d Rademacher probes)", r.trace, r.stderr, r.samples))
            print(String(format: "batch loss       %.6f nats/token (%d × %d tokens)", r.batchLoss, r.batch, r.context))
            print("vocab            softmax over \(describeVocabRows(softmaxed: ck.weights.config.softmaxVocab, stored: ck.weights.config.vocabSize))")
            if !r.topEigenvalues.isEmpty {
                print("top eigenvalues  " + r.topEigenvalues.map { String(format: "%.4g", $0) }.joined(separator: ", "))
            }
            print(String(format: "time             %.1f s (fwd+bwd %.2f s, HVP %.2f s)", r.seconds, r.secondsFwdBwd,
                         r.secondsPerHVP))
            print("")
            print("group          trace   share")
            let groups = r.perLayer.keys.sorted { hessianGroupOrder($0) < hessianGroupOrder($1) }
            for g in groups {
                let v = r.perLayer[g]!
                print(g.padding(toLength: 10, withPad: " ", startingAt: 0)
                      + String(format: " %10.4g %6.1f%%", v, r.trace != 0 ? 100 * v / r.trace : 0))
            }
        }
    }
}

/// embeddings, h.0, h.1, …, ln_f, lm_head.
func hessianGroupOrder(_ g: String) -> Int {
    if g == "embeddings" { return -1 }
    if g.hasPrefix("h."), let n = Int(g.dropFirst(2)) { return n }
    return g == "ln_f" ? 1_000_000 : 1_000_001
}
