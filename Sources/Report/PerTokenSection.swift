// The per-token section of the report (manifest `per_token`): for each compared run, the loss by
// context position of both runs, the histogram of per-token Δ, a summary table, Δ by target-token
// frequency with paired intervals, the reliability diagram of both runs' next-token calibration, and
// the text segments where the run gains or loses most, each token coloured by its Δ. What the template's
// {{#per_token}} section sees; every text goes through Mustache's {{…}}, which HTML-escapes it.

import Analysis
import Foundation
import Plumbing

/// |Δ| (nats) at which a token's colour is fully saturated.
let perTokenColourScale = 3.0

/// A run name as a file-name piece: letters, digits, "-", "_" and "." kept, anything else "_".
private func fileSlug(_ s: String) -> String {
    String(s.unicodeScalars.map { c in
        (c.isASCII && (CharacterSet.alphanumerics.contains(c) || "-_.".unicodeScalars.contains(c))) ? Character(c) : "_"
    })
}

/// Chart files of comparison `i` (0-based): loss by position, Δ histogram, reliability diagram.
func perTokenChartFiles(_ i: Int, run: String) -> (position: String, delta: String, calibration: String) {
    let stem = "per-token-\(i + 1)-\(fileSlug(run))"
    return (stem + "-position.png", stem + "-delta.png", stem + "-calibration.png")
}

/// The three charts of every per-token comparison in `r`.
public func perTokenCharts(_ r: ComparisonResults) -> [ReportChart] {
    (r.perToken ?? []).enumerated().flatMap { i, p -> [ReportChart] in
        let files = perTokenChartFiles(i, run: p.run)
        let c = p.comparison
        let mid = p.positionBins.map { Double($0.from + $0.to) / 2 }
        var byPosition = LineChart(title: "Loss by context position: \(p.run) vs \(p.baseline)",
                                   xLabel: "position in the window (centre of a bin of \(p.positionBins.first.map { $0.to - $0.from + 1 } ?? 1))",
                                   yLabel: "mean NLL (nats/token)",
                                   series: [ChartSeries(name: p.baseline, points: zip(mid, p.positionBins).map { (x: $0, y: $1.a) }),
                                            ChartSeries(name: p.run, points: zip(mid, p.positionBins).map { (x: $0, y: $1.b) })])
        byPosition.markers = true
        // The histogram as its outline: each bin a flat step from its left edge to its right.
        let h = c.deltaHistogram
        var steps: [(x: Double, y: Double)] = []
        for (k, n) in h.counts.enumerated() { steps += [(x: h.edges[k], y: Double(n)), (x: h.edges[k + 1], y: Double(n))] }
        var histogram = LineChart(title: "Per-token Δ = NLL(\(p.run)) − NLL(\(p.baseline))", xLabel: "Δ (nats); < 0: \(p.run) predicts the token better",
                                  yLabel: "tokens", series: [ChartSeries(name: "\(groupedThousands(c.tokensScored)) tokens", points: steps)])
        histogram.markers = false
        histogram.includeZero = true
        let tokens = groupedThousands(c.tokensScored)
        return [
            ReportChart(file: files.position, alt: "Mean loss at each context position of \(p.baseline) and \(p.run)",
                        caption: "Mean NLL of both runs by position in the window (position p predicts the next token from p + 1 tokens of context), \(p.positionBins.count) bins, "
                            + "on the first \(tokens) tokens scored; each bin is Σ NLL / Σ tokens of its positions.",
                        chart: .line(byPosition), width: 900, height: 440),
            ReportChart(file: files.delta, alt: "Histogram of the per-token loss difference of \(p.run) against \(p.baseline)",
                        caption: "Distribution of Δ over the \(tokens) tokens, \(h.counts.count) equal bins; tokens beyond the ends are counted in the end bins.",
                        chart: .line(histogram), width: 900, height: 400),
            ReportChart(file: files.calibration, alt: "Reliability diagram of \(p.baseline) and \(p.run)",
                        caption: "Accuracy against confidence (the largest next-token probability) in \(calibrationBins) equal-width "
                            + "bins, on the same \(tokens) tokens (bins of fewer than \(reliabilityMinTokens) tokens not drawn); "
                            + "below the diagonal a run is over-confident.",
                        chart: .line(reliabilityChart(c.calibration, names: (p.baseline, p.run))), width: 700, height: 620),
        ]
    }
}

/// Background of a token with difference `delta`: green where the run is better, red where worse.
func tokenStyle(_ delta: Double) -> String {
    guard delta.isFinite else { return "" }
    let a = min(1, abs(delta) / perTokenColourScale) * 0.7
    return delta < 0 ? String(format: "background: rgba(26, 127, 55, %.2f)", a) : String(format: "background: rgba(207, 34, 46, %.2f)", a)
}

private func segmentContext(_ s: TokenSegment) -> [String: Any] {
    [
        "delta_mean": String(format: "%+.3f", s.deltaMean),
        "where": "window \(s.window), positions \(s.position)–\(s.position + s.tokens.count - 1)",
        // Newlines as ↵, as in the completions, so a segment stays one block of text.
        "tokens": s.tokens.map { t -> [String: Any] in
            ["text": t.text.replacingOccurrences(of: "\n", with: "↵"), "style": tokenStyle(t.delta),
             "title": String(format: "Δ %+.3f nats", t.delta)]
        },
    ]
}

/// The Δ-by-frequency table's rows of one comparison; a bucket no type falls in (ranks beyond the types there
/// are) has no row on the page (results.json keeps it).
private func frequencyRows(_ f: FrequencyBuckets) -> [[String: String]] {
    f.buckets.filter { $0.types > 0 }.map { b in
        let lo = b.countMin ?? 0, hi = b.countMax ?? 0   // rows have types, so both are there
        let counts = b.rankFrom == nil ? "count 0" : lo == hi ? "count \(groupedThousands(hi))"
            : "counts \(groupedThousands(lo))–\(groupedThousands(hi))"
        return ["label": b.shownLabel, "types": "\(groupedThousands(b.types)) types, \(counts)", "tokens": groupedThousands(b.tokens),
                "loss_a": b.lossA.map { String(format: "%.4f", $0) } ?? "—", "loss_b": b.lossB.map { String(format: "%.4f", $0) } ?? "—",
                "delta": b.deltaEstimate.map { String(format: "%+.4f", $0) } ?? "—",
                "delta_ci": b.delta.map { String(format: "[%+.4f, %+.4f]", $0.lo, $0.hi) } ?? b.noIntervalNote ?? "",
                "p": formatP(b.pValue, bootstrap: f.resamples)]
    }
}

/// One entry per per-token comparison: the table's values, the three charts, the frequency table and the segments.
func perTokenTemplateContext(_ r: ComparisonResults, charts built: [ReportChart]) -> [[String: Any]] {
    let charts = Dictionary(built.map { ($0.file, $0) }, uniquingKeysWith: { a, _ in a })
    return (r.perToken ?? []).enumerated().map { i, p in
        let c = p.comparison, files = perTokenChartFiles(i, run: p.run)
        func figure(_ f: String) -> [String: String] { ["file": f, "alt": charts[f]?.alt ?? "", "caption": charts[f]?.caption ?? ""] }
        return [
            "run": p.run, "baseline": p.baseline,
            "tokens": groupedThousands(c.tokensScored), "windows": String(c.windows), "max_tokens": groupedThousands(p.maxTokens),
            "loss_a": String(format: "%.4f", c.lossA), "loss_b": String(format: "%.4f", c.lossB),
            "delta": String(format: "%+.4f", c.delta), "kl": String(format: "%.4f", c.klMean),
            "top1": String(format: "%.1f%%", 100 * c.top1Agreement),
            "median": c.deltaQuantiles["p50"].map { String(format: "%+.3f", $0) } ?? "—",
            "figures": [figure(files.position), figure(files.delta)],
            "frequency": frequencyRows(c.frequency),
            "frequency_source": (c.frequency.countedFrom == "test set" ? "the test set" : c.frequency.source)
                + " (\(groupedThousands(c.frequency.tokensCounted)) tokens)",
            "calibration_figure": figure(files.calibration),
            "ece_a": formatECE(c.calibration.a.ece), "ece_b": formatECE(c.calibration.b.ece),
            "gains": c.gains.map(segmentContext), "losses": c.losses.map(segmentContext),
            "segment_length": String(perTokenSegments.length),
        ]
    }
}
