// The report's paths between runs (manifest `interpolate`): per pair, a row of the table (both
// endpoints' losses on the capped windows, the barrier with its paired interval, the tokens) and the
// chart `gpt2lab interpolate --plot` draws. What the template's {{#interpolation_section}} sees.

import Analysis
import Foundation
import Plumbing

/// The chart file of pair k (0-based) of `results.interpolation`.
func interpolationChartFile(_ k: Int) -> String { "interpolation-\(k + 1).png" }

/// One chart per pair, in manifest order.
public func interpolationCharts(_ r: ComparisonResults) -> [ReportChart] {
    (r.interpolation ?? []).enumerated().map { k, p in
        ReportChart(file: interpolationChartFile(k), alt: "Test loss along the straight line from \(p.a) to \(p.b)",
                    caption: "Test loss of θ(t) = (1 − t)·θ_\(p.a) + t·θ_\(p.b) at \(p.result.points.count) values of t "
                        + "on \(p.result.tokensScored) tokens; dashed: the straight line between the endpoints' losses. "
                        + barrierSentence(p.result.barrier),
                    chart: .line(interpolationChart(p.result, names: (p.a, p.b))), width: 820, height: 500)
    }
}

/// The caption's reading of the barrier: its size and interval, and what that size means.
func barrierSentence(_ b: InterpolationBarrier?) -> String {
    guard let b else { return "A bump well above it is a barrier (a ridge between basins); none, one basin." }
    let size = String(format: "Barrier %+.4f nats [%+.4f, %+.4f] at t = %.3g", b.excess, b.ci[0], b.ci[1], b.t)
    if b.ci[0] <= 0 { return size + ": its interval includes 0, so no barrier is seen (the runs look linearly connected)." }
    if b.excess < 0.01 { return size + ": above 0 but under 0.01 nats, so the runs are all but linearly connected." }
    return size + ": the line climbs over a ridge between the two runs (different basins)."
}

/// {{#interpolation_section}}: a row per pair and the charts.
func interpolationTemplateContext(_ r: ComparisonResults, charts: [ReportChart]) -> [String: Any]? {
    guard let pairs = r.interpolation, let first = pairs.first else { return nil }
    let rows: [[String: String]] = pairs.map { p in
        let x = p.result
        var row = ["a": p.a, "b": p.b, "loss_a": String(format: "%.4f", x.lossA), "loss_b": String(format: "%.4f", x.lossB),
                   "tokens": groupedThousands(x.tokensScored), "windows": String(x.windows),
                   "seconds": String(format: "%.0f s", x.seconds), "barrier": "—", "barrier_ci": "", "barrier_t": "—"]
        if let b = x.barrier {
            row["barrier"] = String(format: "%+.4f", b.excess)
            row["barrier_ci"] = String(format: "[%+.4f, %+.4f]", b.ci[0], b.ci[1])
            row["barrier_t"] = String(format: "%.3g", b.t)
        }
        return row
    }
    let files = pairs.indices.map(interpolationChartFile)
    return ["rows": rows, "points": String(first.result.points.count),
            "figures": charts.filter { files.contains($0.file) }.map { ["file": $0.file, "alt": $0.alt, "caption": $0.caption] }]
}
