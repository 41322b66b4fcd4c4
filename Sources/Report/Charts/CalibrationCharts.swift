// The reliability diagram of next-token calibration (`compare --plot`, the report's per-token
// section): each model's accuracy against its mean confidence in the 15 equal-width confidence bins
// of Analysis's Calibration.swift, the diagonal (perfect calibration) dashed. A point below the
// diagonal is a bin where the model is over-confident. Bins of fewer than `reliabilityMinTokens`
// tokens are not drawn: their accuracy is mostly noise (the JSON and results.json keep every bin).

import Analysis
import Foundation

/// Tokens a bin needs to be drawn.
public let reliabilityMinTokens = 20

/// Reliability diagram of `pair` (A named `names.0`, B `names.1`), each series labelled with its ECE.
public func reliabilityChart(_ pair: CalibrationPair, names: (String, String)) -> LineChart {
    func series(_ c: Calibration, _ name: String) -> ChartSeries {
        ChartSeries(name: "\(name) (ECE \(formatECE(c.ece)))",
                    points: c.bins.compactMap { b in
                        guard b.tokens >= reliabilityMinTokens, let x = b.confidence, let y = b.accuracy else { return nil }
                        return (x: x, y: y)
                    })
    }
    var diagonal = ChartSeries(name: "perfect calibration", points: [(x: 0, y: 0), (x: 1, y: 1)])
    diagonal.dashed = true
    var chart = LineChart(title: "Next-token calibration (\(calibrationBins) confidence bins)",
                          xLabel: "confidence: mean largest next-token probability in the bin",
                          yLabel: "accuracy: share whose argmax is the next token",
                          series: [series(pair.a, names.0), series(pair.b, names.1), diagonal])
    chart.markers = true
    chart.includeZero = true
    return chart
}

/// An ECE as text: 4 decimals.
public func formatECE(_ e: Double) -> String { e.isFinite ? String(format: "%.4f", e) : "—" }
