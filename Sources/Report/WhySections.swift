// The report's sections on why runs differ, across runs: the loss Hessian (`report --hessian-samples`:
// the trace by role in a table and by layer in a chart; with `--hessian-top` the top eigenvalues; with
// `--hessian-density` the eigenvalue densities, a panel per run) and the weight spectra (manifest `spectra`:
// α by layer, and α across training steps when the runs have step checkpoints). What the template's
// {{#hessian_section}} and {{#spectra_section}} see, and their charts.

import Analysis
import Foundation
import Plumbing

/// Chart files of the sections.
enum WhyChartFile {
    static let hessianLayers = "hessian-by-layer.png"
    static let hessianDensity = "hessian-density.png"
    static let hessianSteps = "hessian-by-step.png"
    static let spectraLayers = "spectra-alpha-by-layer.png"
    static let spectraSteps = "spectra-alpha-by-step.png"
}

/// The per-layer roles of `hessianBlock`, in network order, with their panel titles.
private let hessianLayerRoles = [("ln_1", "LayerNorm 1"), ("attn.qkv", "Attention qkv"), ("attn.proj", "Attention projection"),
                                 ("ln_2", "LayerNorm 2"), ("mlp.fc", "MLP fc"), ("mlp.proj", "MLP projection")]

/// The trace of each block's diagonal Hessian block by layer: one panel per role, one line per run,
/// bars the 95% interval (traceHalfWidth95).
public func hessianByLayerChart(_ hs: [RunHessian]) -> SmallMultiples {
    var panels: [LineChart] = []
    for (role, title) in hessianLayerRoles {
        let series: [ChartSeries] = hs.compactMap { h in
            let parts = h.byBlock.compactMap { key, part -> (layer: Int, part: PartTrace)? in
                guard key.hasPrefix("h."), key.hasSuffix("." + role),
                      let layer = Int(key.dropFirst(2).prefix { $0 != "." }) else { return nil }
                return (layer, part)
            }.sorted { $0.layer < $1.layer }
            guard !parts.isEmpty else { return nil }
            return ChartSeries(name: h.run, points: parts.map { (x: Double($0.layer), y: $0.part.trace) },
                               errors: parts.map { traceInterval($0.part, probes: h.samples) })
        }
        guard !series.isEmpty else { continue }
        panels.append(LineChart(title: title, xLabel: "layer", yLabel: "trace", series: series))
    }
    return SmallMultiples(title: "Hessian trace by block (Hutchinson, 95% interval)", panels: panels)
}

/// The runs' eigenvalue densities, one log-scale panel per run on shared axes (overlaid, the spikes of one run
/// hid another's), each broadened again from its SLQ nodes as `gpt2lab hessian --density` does (the 1e-7
/// floor keeps empty stretches drawable); nil without any.
public func hessianDensityPanels(_ hs: [RunHessian]) -> SmallMultiples? {
    let series: [ChartSeries] = hs.compactMap { h in
        guard let d = h.density else { return nil }
        let (grid, density, _) = broadenedDensity(d.runs)
        guard !grid.isEmpty else { return nil }
        return ChartSeries(name: h.run, points: zip(grid, density).map { (x: $0, y: $1 + 1e-7) })
    }
    guard !series.isEmpty else { return nil }
    let xs = series.flatMap { $0.points.map(\.x) }, ys = series.flatMap { $0.points.map(\.y) }
    let panels = series.map { s in
        var chart = LineChart(title: s.name, xLabel: "eigenvalue", yLabel: "density (log scale)", series: [s], yScale: .log)
        chart.markers = false
        chart.xExtent = [xs.min()!, xs.max()!]; chart.yExtent = [ys.min()!, ys.max()!]
        return chart
    }
    return SmallMultiples(title: "Hessian eigenvalue density (SLQ), one panel per run on the same axes", panels: panels,
                          columns: min(3, panels.count))
}

/// tr H (95% interval) and, with top eigenvalues, λ₁ against training step, one line per run with step
/// checkpoints' Hessians (`--hessian-steps`; the last point is the run's own checkpoint); nil without any.
public func hessianAcrossSteps(_ hs: [RunHessian]) -> SmallMultiples? {
    let paths = hs.compactMap { h -> (name: String, points: [(step: Int, h: RunHessian)])? in
        guard let steps = h.steps, !steps.isEmpty else { return nil }
        return (h.run, steps.map { ($0.step, $0.hessian) } + (h.step.map { [($0, h)] } ?? []))
    }
    guard !paths.isEmpty else { return nil }
    let trace = paths.map { p in
        ChartSeries(name: p.name, points: p.points.map { (x: Double($0.step), y: $0.h.trace) },
                    errors: p.points.map { traceInterval(PartTrace(trace: $0.h.trace, stderr: $0.h.stderr), probes: $0.h.samples) })
    }
    var panels = [LineChart(title: "Hessian trace", xLabel: "step", yLabel: "tr H", series: trace)]
    let top = paths.compactMap { p -> ChartSeries? in
        let pts = p.points.compactMap { q in q.h.topEigenvalues.first.map { (x: Double(q.step), y: $0) } }
        return pts.isEmpty ? nil : ChartSeries(name: p.name, points: pts)
    }
    if !top.isEmpty { panels.append(LineChart(title: "Largest eigenvalue λ₁", xLabel: "step", yLabel: "λ₁", series: top)) }
    return SmallMultiples(title: "Curvature across training steps", panels: panels, columns: panels.count)
}

/// The sections' charts: the Hessian by layer, across steps and its densities, α by layer and across steps.
public func whyCharts(_ r: ComparisonResults) -> [ReportChart] {
    var charts: [ReportChart] = []
    if let hs = r.hessian, !hs.isEmpty {
        let layers = hessianByLayerChart(hs)
        if !layers.panels.isEmpty {
            charts.append(ReportChart(file: WhyChartFile.hessianLayers, alt: "Hessian trace of each block by layer, one line per run",
                                      caption: "Trace of each block's diagonal Hessian block (its share of tr H), by layer, from the "
                                          + "same \(hs[0].samples) Hutchinson probes as the total; bars are 95% intervals (Student's t over the probes).",
                                      chart: .smallMultiples(layers), width: 1100, height: 700))
        }
        if let steps = hessianAcrossSteps(hs) {
            charts.append(ReportChart(file: WhyChartFile.hessianSteps, alt: "Hessian trace and largest eigenvalue against training step",
                                      caption: "Trace (95% interval) and λ₁ of each step checkpoint's Hessian on the same "
                                          + "batch, one line per run; the last point is the run's own checkpoint.",
                                      chart: .smallMultiples(steps), width: 1100, height: 460))
        }
        if let density = hessianDensityPanels(hs), let d = hs.first(where: { $0.density != nil })?.density {
            charts.append(ReportChart(file: WhyChartFile.hessianDensity, alt: "Hessian eigenvalue density of each run",
                                      caption: "Eigenvalue density by stochastic Lanczos quadrature (\(d.runs.count) vector\(d.runs.count == 1 ? "" : "s") × "
                                          + "\(d.steps) steps per run), each node a Gaussian of PyHessian's width; log scale, "
                                          + "floored at 1e-7, one panel per run on the same axes. Mass far right of 0 is sharpness; mass below 0 is negative curvature.",
                                      chart: .smallMultiples(density), width: 1100,
                                      height: 120 + 300 * ((density.panels.count + 2) / 3)))
        }
    }
    if let sp = r.spectra, !sp.isEmpty {
        let layers = spectraAlphaByLayer(sp.map(\.spectra), names: sp.map(\.run),
                                         title: "Power-law exponent α of each weight matrix's ESD, by layer")
        if !layers.panels.isEmpty {
            charts.append(ReportChart(file: WhyChartFile.spectraLayers, alt: "Power-law exponent alpha of each weight matrix by layer, one line per run",
                                      caption: "WeightWatcher's α of each matrix's eigenvalue tail, by layer, one line per run "
                                          + "(2–6 is WeightWatcher's well-trained range; smaller is more heavy-tailed).",
                                      chart: .smallMultiples(layers), width: 1100, height: 700))
        }
        let paths = sp.map { s in
            (name: s.run, points: (s.steps ?? []).map { (step: $0.step, spectra: $0.spectra) }
                + (s.step.map { [(step: $0, spectra: s.spectra)] } ?? []))
        }
        if let steps = spectraAlphaAcrossSteps(paths) {
            charts.append(ReportChart(file: WhyChartFile.spectraSteps, alt: "Mean power-law exponent alpha by role against training step",
                                      caption: "Mean α over the layers of each matrix role at each step checkpoint, one line per run "
                                          + "(the last point is the run's own checkpoint).",
                                      chart: .smallMultiples(steps), width: 1100, height: 700))
        }
    }
    return charts
}

private func traceCell(_ p: PartTrace?, probes: Int) -> [String: String] {
    guard let p else { return ["value": "—", "ci": ""] }
    let h = traceHalfWidth95(stderr: p.stderr, probes: probes)
    let parts = formatMeasurement(p.trace, h).components(separatedBy: " ± ")
    return ["value": parts[0], "ci": parts.count == 2 ? "± " + parts[1] : ""]
}

/// A trace's 95% interval as a chart's error bar (none when there is no standard error).
func traceInterval(_ p: PartTrace, probes: Int) -> (lo: Double, hi: Double) {
    let h = traceHalfWidth95(stderr: p.stderr, probes: probes)
    return h.isFinite ? (p.trace - h, p.trace + h) : (p.trace, p.trace)
}

/// {{#hessian_section}}: the table (trace and its split by role, top eigenvalues) and the figures.
func hessianTemplateContext(_ r: ComparisonResults, charts: [ReportChart]) -> [String: Any]? {
    guard let hs = r.hessian, let first = hs.first else { return nil }
    let roles = hessianRoles.filter { role in hs.contains { $0.byRole[role] != nil } }
    let hasTop = hs.contains { !$0.topEigenvalues.isEmpty }
    let rows: [[String: Any]] = hs.map { h in
        var row: [String: Any] = ["name": h.run, "total": traceCell(PartTrace(trace: h.trace, stderr: h.stderr), probes: h.samples),
                                  "cells": roles.map { traceCell(h.byRole[$0], probes: h.samples) },
                                  "batch_loss": String(format: "%.4f", h.batchLoss)]
        if hasTop {
            row["top"] = zip(h.topEigenvalues, h.eigenResiduals + Array(repeating: .nan, count: h.topEigenvalues.count))
                .map { String(format: "%.4g", $0) + ($1.isFinite ? String(format: " (r %.1g)", $1) : "") }
                .joined(separator: ", ") + (h.eigenConverged ? "" : " (not converged)")
        }
        return row
    }
    let files = [WhyChartFile.hessianLayers, WhyChartFile.hessianSteps, WhyChartFile.hessianDensity]
    return ["roles": roles.map { ["name": $0] }, "rows": rows, "has_top": hasTop,
            "probes": String(first.samples), "batch": String(first.batch), "context": String(first.context),
            "figures": charts.filter { files.contains($0.file) }.map { ["file": $0.file, "alt": $0.alt, "caption": $0.caption] }]
}

/// {{#spectra_section}}: one row per run (means, flags, spikes; the step checkpoints analysed) and the figures.
func spectraTemplateContext(_ r: ComparisonResults, charts: [ReportChart]) -> [String: Any]? {
    guard let sp = r.spectra, !sp.isEmpty else { return nil }
    let rows: [[String: String]] = sp.map { s in
        let m = s.spectra.matrices.filter { !$0.wwSkips }   // as the means: what WeightWatcher's defaults analyse
        let flagged = Dictionary(grouping: m.flatMap(\.flags), by: { $0 }).mapValues(\.count)
        let flags = flagged.keys.sorted { $0.rawValue < $1.rawValue }.map { "\($0.rawValue) ×\(flagged[$0]!)" }
        let stable = m.map(\.stableRank)
        let all = s.spectra.matrices.count
        return ["name": s.run, "matrices": m.count == all ? String(all) : "\(all) (\(m.count) analysed)",
                "mean_alpha": s.spectra.meanAlpha.map { String(format: "%.3f", $0) } ?? "—",
                "mean_alpha_hat": s.spectra.meanAlphaHat.map { String(format: "%.3f", $0) } ?? "—",
                "over": String(s.spectra.meanOver),
                "stable_rank": stable.isEmpty ? "—" : String(format: "%.1f", stable.reduce(0, +) / Double(stable.count)),
                "spikes": String(m.reduce(0) { $0 + $1.spikes }),
                "flags": flags.isEmpty ? "none" : flags.joined(separator: ", "),
                "steps": s.steps.map { $0.isEmpty ? "—" : $0.map { String($0.step) }.joined(separator: ", ") } ?? "—"]
    }
    let files = [WhyChartFile.spectraLayers, WhyChartFile.spectraSteps]
    return ["rows": rows, "has_steps": sp.contains { !($0.steps ?? []).isEmpty },
            "figures": charts.filter { files.contains($0.file) }.map { ["file": $0.file, "alt": $0.alt, "caption": $0.caption] }]
}
