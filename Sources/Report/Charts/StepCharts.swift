// Charts across training steps for the report (`loss_across_steps`): test loss vs step and
// ‖θ‖ vs step, every run on one chart, each run's AdamW timescale τ = 1/(ηλ) (RunResult.tauSteps,
// the τ of the results table) as a dashed vertical line in the run's colour.

import Analysis
import Foundation
import Plumbing

/// τ markers for the runs drawn: a τ past twice the last step drawn would squash the curves into
/// the left edge, so those are named in the caption instead of drawn.
private func tauLines(_ runs: [RunResult]) -> (lines: [VerticalLine], offChart: [String]) {
    let lastStep = Double(runs.compactMap { $0.stepLosses?.last?.step }.max() ?? 0)
    var lines: [VerticalLine] = [], off: [String] = []
    for r in runs {
        guard let tau = r.tauSteps else { continue }
        let text = "τ \(r.name) = \(groupedThousands(rounding: tau))"
        if tau <= 2 * lastStep { lines.append(VerticalLine(value: tau, label: text, series: r.name)) } else { off.append(text) }
    }
    return (lines, off)
}

/// "Test loss vs step" and "Parameter norm vs step", or none when no run has step losses.
public func stepCharts(_ r: ComparisonResults) -> [ReportChart] {
    let runs = r.runs.filter { !($0.stepLosses ?? []).isEmpty }
    guard !runs.isEmpty else { return [] }
    let (lines, off) = tauLines(runs)
    let sequential = r.settings.sequential
    let tauNote = (lines.isEmpty ? "" : " Dashed vertical lines: each run's AdamW timescale τ = 1/(ηλ) in steps.")
        + (off.isEmpty ? "" : " Beyond the plotted steps: " + off.joined(separator: "; ") + ".")
    var loss = LineChart(title: "Test loss vs step", xLabel: "training step", yLabel: "test loss (nats/token)",
                         series: runs.map { run in
                             let s = run.stepLosses!
                             let errs = s.contains { $0.lossCI != nil } ? s.map { (lo: $0.lossCI?[0] ?? .nan, hi: $0.lossCI?[1] ?? .nan) } : nil
                             return ChartSeries(name: run.name, points: s.map { (x: Double($0.step), y: $0.loss) }, errors: errs)
                         })
    loss.verticalLines = lines
    let how = sequential.map { String(format: "each checkpoint scored sequentially to ±%.3g nats (bars: its interval)", $0.halfWidth) }
        ?? "each checkpoint scored on every window"
    var norm = LineChart(title: "Parameter norm vs step", xLabel: "training step", yLabel: "‖θ‖₂ (all parameters)",
                         series: runs.map { run in
                             ChartSeries(name: run.name, points: run.stepLosses!.map { (x: Double($0.step), y: $0.totalSumSq.squareRoot()) })
                         })
    norm.verticalLines = lines
    return [
        ReportChart(file: "loss-steps.png", alt: "Test loss of each run's checkpoints against training step",
                    caption: "Test loss of each run's step checkpoints and its final checkpoint (\(how))." + tauNote,
                    chart: .line(loss), width: 900, height: 520),
        ReportChart(file: "norms-steps.png", alt: "Parameter norm of each run's checkpoints against training step",
                    caption: "‖θ‖₂ of the same checkpoints." + tauNote, chart: .line(norm), width: 900, height: 520),
    ]
}
