// Weight-spectrum fits (Analysis/Spectra) as chart data: the power-law exponent α of each matrix role by
// block, one line per checkpoint, and α against training step when the checkpoints are steps of one run.

import Analysis

/// α of each per-block role by layer: one panel per role, one line per checkpoint (named `names[i]`, else
/// after its file). Matrices without a fit are left out of their line.
public func spectraAlphaByLayer(_ spectra: [CheckpointSpectra], names: [String]? = nil,
                                title: String = "Power-law exponent α of each weight matrix's ESD") -> SmallMultiples {
    var panels: [LineChart] = []
    for role in SpectralRole.perBlock {
        let series: [ChartSeries] = spectra.enumerated().compactMap { i, s in
            let pts = s.matrices.compactMap { m -> (x: Double, y: Double)? in
                guard m.role == role, let layer = m.layer, let fit = m.fit else { return nil }
                return (x: Double(layer), y: fit.alpha)
            }.sorted { $0.x < $1.x }
            return pts.isEmpty ? nil : ChartSeries(name: names?[i] ?? checkpointDisplayName(s.checkpoint), points: pts)
        }
        guard !series.isEmpty else { continue }
        panels.append(LineChart(title: role.title, xLabel: "layer", yLabel: "α", series: series))
    }
    return SmallMultiples(title: title, panels: panels)
}

/// α against training step: one panel per per-block role, one line per block, x = the checkpoint's step
/// (`steps[i]`, else read from its name). Checkpoints without a step are left out; nil when fewer than
/// two have one.
public func spectraAlphaVersusStep(_ spectra: [CheckpointSpectra], steps: [Int?]? = nil,
                                   title: String = "Power-law exponent α during training") -> SmallMultiples? {
    let pairs: [(step: Int, spectra: CheckpointSpectra)] = spectra.enumerated().compactMap { i, s in
        let step = (steps.flatMap { i < $0.count ? $0[i] : nil }) ?? trainingStep(fromPath: s.checkpoint)
        return step.map { ($0, s) }
    }.sorted { $0.step < $1.step }
    guard pairs.count >= 2 else { return nil }
    var panels: [LineChart] = []
    for role in SpectralRole.perBlock {
        let layers = Set(pairs.flatMap { p in p.spectra.matrices.filter { $0.role == role }.compactMap(\.layer) }).sorted()
        let series: [ChartSeries] = layers.compactMap { layer in
            let pts = pairs.compactMap { p -> (x: Double, y: Double)? in
                guard let fit = p.spectra.matrices.first(where: { $0.role == role && $0.layer == layer })?.fit else { return nil }
                return (x: Double(p.step), y: fit.alpha)
            }
            return pts.isEmpty ? nil : ChartSeries(name: "block \(layer)", points: pts)
        }
        guard !series.isEmpty else { continue }
        panels.append(LineChart(title: role.title, xLabel: "training step", yLabel: "α", series: series))
    }
    return SmallMultiples(title: title, panels: panels)
}

/// Mean α over the layers of each per-block role against training step, one line per run, one panel
/// per role (and a first panel of the mean over every matrix WeightWatcher's defaults fit); nil unless
/// some run has two or more steps.
public func spectraAlphaAcrossSteps(_ runs: [(name: String, points: [(step: Int, spectra: CheckpointSpectra)])],
                                    title: String = "Mean power-law exponent α during training") -> SmallMultiples? {
    let runs = runs.map { (name: $0.name, points: $0.points.sorted { $0.step < $1.step }) }.filter { $0.points.count >= 2 }
    guard !runs.isEmpty else { return nil }
    func mean(_ xs: [Double]) -> Double? { xs.isEmpty ? nil : xs.reduce(0, +) / Double(xs.count) }
    let overall: [ChartSeries] = runs.map { r in
        ChartSeries(name: r.name, points: r.points.compactMap { p in p.spectra.meanAlpha.map { (x: Double(p.step), y: $0) } })
    }
    var panels = [LineChart(title: "All matrices (WeightWatcher's mean)", xLabel: "training step", yLabel: "mean α", series: overall)]
    for role in SpectralRole.perBlock {
        let series: [ChartSeries] = runs.map { r in
            ChartSeries(name: r.name, points: r.points.compactMap { p in
                mean(p.spectra.matrices.filter { $0.role == role }.compactMap { $0.fit?.alpha }).map { (x: Double(p.step), y: $0) }
            })
        }
        guard series.contains(where: { !$0.points.isEmpty }) else { continue }   // q, k, v or the fused qkv
        panels.append(LineChart(title: role.title, xLabel: "training step", yLabel: "mean α", series: series))
    }
    return SmallMultiples(title: title, panels: panels)
}
