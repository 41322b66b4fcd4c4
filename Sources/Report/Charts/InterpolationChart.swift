// The loss along the straight line between two checkpoints (`gpt2lab interpolate --plot`, the report's
// `interpolate` section).

import Analysis

/// Loss against t, the straight line between L(0) and L(1) dashed over the same t
/// range, and the endpoints marked with `names` (A and B unless named).
/// The smallest loss range (nats) an interpolation chart's y axis spans.
let minimumLossSpan = 0.05

public func interpolationChart(_ r: InterpolationResult, names: (a: String, b: String) = ("A", "B")) -> LineChart {
    // No error bars: the loss intervals are mostly the test set's spread, shared by every t; the paired
    // excess intervals are in the table and the JSON.
    let loss = ChartSeries(name: "loss(t)", points: r.points.map { (x: $0.t, y: $0.loss) })
    let ends = [r.points.first!.t, r.points.last!.t]
    var line = ChartSeries(name: "(1 − t)·L(0) + t·L(1)", points: ends.map { (x: $0, y: (1 - $0) * r.lossA + $0 * r.lossB) })
    line.dashed = true
    var chart = LineChart(title: "Loss along the line from \(names.a) to \(names.b)", xLabel: "t  (θ = (1 − t)·θ_A + t·θ_B)",
                          yLabel: "test loss (nats/token)", series: [loss, line])
    chart.verticalLines = [VerticalLine(value: 0, label: names.a), VerticalLine(value: 1, label: names.b)]
    // At least `minimumLossSpan` nats of y: a path within a thousandth of a nat of the line stays flat rather
    // than stretched into a hump that reads as a barrier.
    let ys = (loss.points + line.points).map(\.y).filter(\.isFinite)
    if let lo = ys.min(), let hi = ys.max(), hi - lo < minimumLossSpan {
        let mid = (lo + hi) / 2
        chart.yExtent = [mid - minimumLossSpan / 2, mid + minimumLossSpan / 2]
    }
    return chart
}
