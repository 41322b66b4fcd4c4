import Analysis
import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Plumbing
import Report

extension QKVSpectra: ExpressibleByArgument {}

struct Spectra: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Weight-matrix spectra (WeightWatcher's power-law α and α̂, stable rank, spikes over the random edge) of checkpoints side by side.",
        discussion: """
        For each weight matrix (per block: attention q, k, v, output projection, MLP fc and projection; the token \
        and position embeddings; an untied LM head): the ESD (squared singular values, float64 LAPACK), the \
        power-law exponent α of its tail with xmin at the smallest distance D (WeightWatcher's one-sided, KS-like \
        distance), as WeightWatcher's default fit computes it for a matrix of 20 or more eigenvalues; α̂ = \
        α·log10(λ_max); stable rank ‖W‖_F²/‖W‖₂²; spikes: eigenvalues above the Marchenko–Pastur edge of a \
        randomised W of W's own σ (not WeightWatcher's num_spikes, which fits σ). Flags: alpha<2, alpha>6 \
        (WeightWatcher's over/under-trained warnings), tail<10, evals<20 (WeightWatcher 0.7 fits those with a \
        small-sample correction; gpt2lab keeps the plain fit), no-fit. Means are over the matrices WeightWatcher's \
        defaults analyse (it skips N > 50000: GPT-2's token embedding), without failed fits (WeightWatcher \
        counts those as α = −1).

        GPT-2's fused attention weight (c_attn in HF, nanoGPT and llm.c checkpoints) is analysed as its three \
        C×C parts q, k and v, the same for every layout: WeightWatcher does that for checkpoints with separate \
        projections, but fits c_attn whole in an HF GPT2LMHeadModel, so on such a model its attention rows and \
        means differ from these (on the fixtures' HF layout: mean α 2.62 here, 2.94 in WeightWatcher). \
        --qkv fused analyses it whole, one [3C, C] matrix per block (role attn.qkv), as WeightWatcher does \
        there: the numbers to set beside WeightWatcher's on an HF model.

        --plot FILE.png draws α by layer, one line per checkpoint, one panel per matrix role; FILE-steps.png α \
        against training step when the checkpoints are steps of one run (`step-NNNNNN` names in one folder, or \
        --steps).

        Examples:
          gpt2lab spectra examples/runs/*/model.safetensors --plot spectra.png
          gpt2lab spectra run/step-000571.safetensors run/model.safetensors --steps 571,2286
          gpt2lab spectra ckpt.safetensors --json
          gpt2lab spectra hf-model/ --qkv fused
        """)

    @Argument(help: "Checkpoints: safetensors (or sharded folders), HDF5, torch .pt/.pth/.bin, llm.c model.bin.")
    var checkpoints: [String]

    @Flag(help: "Print JSON: {\"checkpoints\": [...]}.")
    var json = false

    @Option(help: "Write the charts as PNG: FILE.png and, for steps of one run, FILE-steps.png.")
    var plot: String?

    @Option(help: "The attention weight as q, k, v (split: three C×C matrices per block, every layout alike) or whole (fused: one [3C, C] matrix, as WeightWatcher fits HF's c_attn).")
    var qkv: QKVSpectra = .split

    @OptionGroup var chart: StepChartOptions

    @OptionGroup var model: HeadsOption

    func validate() throws {
        if checkpoints.isEmpty { throw ValidationError("give at least one checkpoint") }
        if let plot, ChartFormat(path: plot) != .png { throw ValidationError("--plot needs a .png file name") }
        try chart.check(count: checkpoints.count)
    }

    struct Output: Encodable { let checkpoints: [CheckpointSpectra] }

    func run() throws {
        try runReporting {
            let (stepList, stepNotes) = try chart.chartSteps(paths: checkpoints)
            if let plot {
                for path in [plot, stepsChartPath(plot)] { try checkFileOutput(path, what: "chart", isOurs: isGpt2labChart) }
            }
            for path in checkpoints where !FileManager.default.isReadableFile(atPath: path) {
                throw CommandError("\(path): no such file, or not readable")
            }
            var all: [CheckpointSpectra] = []
            for path in checkpoints {
                let ck = try loadCheckpoint(path: path, heads: model.heads, vocab: .all, headsNeeded: false)
                for w in ck.warnings { warn("\(path): \(w)") }
                let bar = ProgressBar("spectra \(checkpointDisplayName(path))", unit: "mat")
                all.append(try checkpointSpectra(checkpoint: path, weights: ck.weights, qkv: qkv) { done, total, _ in
                    bar.update(done, total)
                })
                bar.update(1, 1)
            }
            var written: [String] = []
            if let plot {
                let layers = spectraAlphaByLayer(all)
                var charts: [(chart: Chart, path: String, width: Int, height: Int)] = [
                    (.smallMultiples(layers), plot, 1080, 90 + 260 * max((layers.panels.count + 2) / 3, 1)),
                ]
                for note in stepNotes { warn(note) }
                let stepChart = stepList.flatMap { spectraAlphaVersusStep(all, steps: $0) }
                if let stepChart {
                    charts.append((.smallMultiples(stepChart), stepsChartPath(plot), 1080, 90 + 260 * max((stepChart.panels.count + 2) / 3, 1)))
                }
                try renderTogether(charts, scale: chart.scale)   // one set: an interrupt leaves the old charts or the new ones
                written = charts.map(\.path)
                if stepChart == nil, removeStaleChart(stepsChartPath(plot)) {
                    warn("removed \(stepsChartPath(plot)), an earlier run's steps chart (these checkpoints are not steps of one run)")
                }
            }
            if json {
                try printJSON(Output(checkpoints: all))
            } else {
                print(all.map(spectraTable).joined(separator: "\n\n"))
            }
            for f in written { printToStderr("wrote \(f)\n") }
        }
    }

    func stepsChartPath(_ base: String) -> String {
        "\((base as NSString).deletingPathExtension)-steps.\((base as NSString).pathExtension)"
    }
}

/// The plain-text table of one checkpoint's spectra, then its means.
func spectraTable(_ s: CheckpointSpectra) -> String {
    func pad(_ x: String, _ w: Int, left: Bool = false) -> String { column(x, w, alignLeft: left) }
    func num(_ x: Double?, _ f: String) -> String { x.map { String(format: f, $0) } ?? "·" }
    let widths = [7, 11, 13, 8, 11, 8, 8, 12, 7]
    let head = ["layer", "matrix", "shape", "α", "xmin", "D", "α̂", "stable rank", "spikes"]
    var lines = [s.checkpoint, "  " + zip(head, widths).enumerated().map { i, p in pad(p.0, p.1, left: i < 2) }.joined() + "  flag"]
    for m in s.matrices {
        let cells = [m.layer.map(String.init) ?? "-", m.role.rawValue, "\(m.shape[0])×\(m.shape[1])",
                     num(m.fit?.alpha, "%.3f"), num(m.fit?.xmin, "%.4g"), num(m.fit?.D, "%.4f"),
                     num(m.alphaHat, "%.3f"), String(format: "%.2f", m.stableRank), String(m.spikes)]
        let flags = m.flags.map(\.rawValue) + (m.wwSkips ? ["ww-skips(N>50000)"] : [])
        lines.append("  " + zip(cells, widths).enumerated().map { i, p in pad(p.0, p.1, left: i < 2) }.joined()
                     + "  " + flags.joined(separator: ","))
    }
    lines.append("  mean α \(num(s.meanAlpha, "%.4f"))   mean α̂ \(num(s.meanAlphaHat, "%.4f"))   "
                  + "(over \(s.meanOver) matrices; WeightWatcher's defaults skip N > 50000)")
    return lines.joined(separator: "\n")
}
