import Analysis

// The Hessian's eigenvalue density (SLQ, `gpt2lab hessian --density --plot`), drawn as PyHessian's
// get_esd_plot does: density + 1e-7 against the eigenvalue, log-scale y.

/// The broadened density as a line on a log axis; the 1e-7 floor keeps the empty stretches drawable.
public func hessianDensityChart(_ d: HessianDensity, title: String) -> LineChart {
    let points = zip(d.grid, d.density).map { (x: $0, y: $1 + 1e-7) }
    var chart = LineChart(title: title, xLabel: "eigenvalue", yLabel: "density (log scale)",
                          series: [ChartSeries(name: "SLQ, \(d.runs.count) × \(d.steps) steps", points: points)],
                          yScale: .log)
    chart.markers = false
    return chart
}
