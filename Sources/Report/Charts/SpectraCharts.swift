// Weight-spectrum fits (Analysis/Spectra) as chart data: the power-law exponent α of each matrix role by
// block, one line per checkpoint, and α against training step when the checkpoints are steps of one run.

import Analysis

/// α of each per-block role by layer: one panel per role, one line per checkpoint. Matrices without a fit
/// are left out of their line.
public func spectraAlphaByLayer(_ spectra: [CheckpointSpectra],
                                title: String = "Power-law exponent α of each weight matrix's ESD") -> SmallMultiples {
    var panels: [LineChart] = []
    for role in SpectralRole.perBlock {
        let series: [ChartSeries] = spectra.compactMap { s in
            let pts = s.matrices.compactMap { m -> (x: Double, y: Double)? in
                guard m.role == role, let layer = m.layer, let fit = m.fit else { return nil }
                return (x: Double(layer), y: fit.alpha)
            }.sorted { $0.x < $1.x }
            return pts.isEmpty ? nil : ChartSeries(name: checkpointDisplayName(s.checkpoint), points: pts)
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
