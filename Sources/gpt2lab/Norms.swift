import Analysis
import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Plumbing
import Report

struct Norms: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Weight-norm statistics of checkpoints, with charts.",
        discussion: """
        Per stored tensor: L2 norm, Σw², RMS, mean, std, max |w|, and for matrices the spectral norm and \
        stable rank; per checkpoint: ‖θ‖² in total, of the decay group (tensors with 2+ dimensions) and of \
        the no-decay group (1-D tensors). A tied embedding counts once. Stats are float64 over the stored \
        values, by canonical name and by the checkpoint's own names.

        Charts (--plot / --svg FILE): FILE gets the per-layer L2 norm of each role, one line per checkpoint; \
        FILE-totals the ‖θ‖² bars; FILE-steps the norms against training step, when the checkpoints are steps \
        of one run (`step-NNNNNN` in their names, or --steps).

        Examples:
          gpt2lab norms examples/runs/*/model.safetensors --plot norms.png
          gpt2lab norms run/step-000571.safetensors run/step-001143.safetensors \\
            run/model.safetensors --steps 571,1143,2286 --plot baseline.png
          gpt2lab norms ckpt.safetensors --json
        """)

    @Argument(help: ArgumentHelp("Checkpoints: " + checkpointKinds + "."))
    var checkpoints: [String]

    @Flag(help: "Print JSON: {\"checkpoints\": [...]}.")
    var json = false

    @Option(help: "Write the charts as PNG: FILE.png, FILE-totals.png, FILE-steps.png.")
    var plot: String?

    @Option(help: "Write the charts as SVG: FILE.svg, FILE-totals.svg, FILE-steps.svg.")
    var svg: String?

    @OptionGroup var chart: StepChartOptions

    @OptionGroup var model: HeadsOption

    func validate() throws {
        if checkpoints.isEmpty { throw ValidationError("give at least one checkpoint") }
        if let plot, ChartFormat(path: plot) != .png { throw ValidationError("--plot needs a .png file name") }
        if let svg, ChartFormat(path: svg) != .svg { throw ValidationError("--svg needs a .svg file name") }
        try chart.check(count: checkpoints.count)
    }

    struct Output: Encodable { let checkpoints: [CheckpointNormStats] }

    func run() throws {
        try runReporting {
            for base in [plot, svg].compactMap({ $0 }) {
                for path in chartPaths(base: base) { try checkFileOutput(path, what: "chart", isOurs: isGpt2labChart) }
            }
            var stats: [CheckpointNormStats] = []
            for path in checkpoints {
                let ck = try loadCheckpoint(path: path, heads: model.heads, headsNeeded: false)
                for w in ck.warnings { warn("\(path): \(w)") }
                let sources = try readSourceTensors(path: path)
                stats.append(checkpointNormStats(checkpoint: path, weights: ck.weights, sourceTensors: sources))
            }
            let (stepList, stepNotes) = try chart.chartSteps(paths: checkpoints)
            var written: [String] = []
            if plot != nil || svg != nil { for note in stepNotes { warn(note) } }
            for base in [plot, svg].compactMap({ $0 }) {
                written += try writeCharts(stats, base: base, steps: stepList)
            }
            if json {
                try printJSON(Output(checkpoints: stats))
            } else {
                for (i, s) in stats.enumerated() {
                    if i > 0 { print("") }
                    print(normsTable(s))
                }
            }
            for f in written { printToStderr("wrote \(f)\n") }
        }
    }

    /// Every file `writeCharts` may write for the stem `base`: FILE, FILE-totals, FILE-steps.
    func chartPaths(base: String) -> [String] {
        let ext = (base as NSString).pathExtension, stem = (base as NSString).deletingPathExtension
        return [base, "\(stem)-totals.\(ext)", "\(stem)-steps.\(ext)"]
    }

    /// Renders the charts for one output stem; returns the files written.
    func writeCharts(_ stats: [CheckpointNormStats], base: String, steps: [Int?]?) throws -> [String] {
        let paths = chartPaths(base: base)
        var out: [String] = []
        let layers = layerNormCharts(stats)
        let rows = (layers.panels.count + 2) / 3
        var charts: [(chart: Chart, path: String, width: Int, height: Int)] = [
            (.smallMultiples(layers), base, 1080, 90 + 260 * max(rows, 1)),
            (.bar(parameterNormBars(stats)), paths[1], max(640, 160 * stats.count + 240), 480),
        ]
        let stepped = steps.map { $0.compactMap { $0 } } ?? []
        let stepChart = steps.flatMap { stepped.count >= 2 ? normsVersusStep(stats, steps: $0) : nil }
        if let stepChart { charts.append((.line(stepChart), paths[2], 800, 480)) }
        try renderTogether(charts, scale: chart.scale)   // one set: an interrupt leaves the old charts or the new ones
        out = charts.map(\.path)
        if stepChart == nil, removeStaleChart(paths[2]) {
            warn("removed \(paths[2]), an earlier run's steps chart (these checkpoints are not steps of one run)")
        }
        return out
    }
}

/// The plain-text summary of one checkpoint: the three ‖θ‖² totals, then each role's L2 norm per block.
func normsTable(_ s: CheckpointNormStats) -> String {
    var lines = [s.checkpoint]
    lines.append(String(format: "  ‖θ‖²  total %.6g   decay (2-D) %.6g   no-decay (1-D) %.6g   (‖θ‖ = %.4g)",
                        s.totalSumSq, s.decaySumSq, s.noDecaySumSq, s.totalSumSq.squareRoot()))
    let layerKeys = Set(s.byRole.values.flatMap { $0.keys }).compactMap { Int($0) }.sorted()
    let cols = layerKeys.map { "h.\($0)" } + ["embedding", "final"]
    let keys = layerKeys.map(String.init) + ["embedding", "final"]
    let roleWidth = 20, colWidth = 10
    func pad(_ x: String, _ w: Int, left: Bool = false) -> String { column(x, w, alignLeft: left) }
    lines.append("  " + pad("L2 norm", roleWidth, left: true) + cols.map { pad($0, colWidth) }.joined())
    for role in ParameterRole.allCases {
        guard let byKey = s.byRole[role.rawValue] else { continue }
        let cells = keys.map { k in byKey[k].map { pad(String(format: "%.4g", $0), colWidth) } ?? pad("·", colWidth) }
        lines.append("  " + pad(role.title, roleWidth, left: true) + cells.joined())
    }
    return lines.joined(separator: "\n")
}
