// Weight-norm statistics (Analysis) as chart data.

import Analysis

/// Roles that have one tensor group per transformer block, in network order.
private let perLayerRoles: [ParameterRole] = [.attentionQKV, .attentionOutput, .mlpIn, .mlpOut,
                                              .layerNormGain, .layerNormBias, .otherBias]

/// Short legend name for a checkpoint label: a path loses its extension and all but its last
/// two components ("runs/baseline/step-000571.safetensors" → "baseline/step-000571"); a file named
/// `model` is its directory's run ("runs/baseline/model.safetensors" → "baseline").
public func checkpointDisplayName(_ label: String) -> String {
    let parts = label.split(separator: "/")
    guard parts.count > 1 || label.contains(".") else { return label }
    var last = String(parts.last ?? "")
    if let dot = last.lastIndex(of: "."), dot != last.startIndex { last = String(last[..<dot]) }
    if parts.count > 1 && last == "model" { return String(parts[parts.count - 2]) }
    return parts.count > 1 ? "\(parts[parts.count - 2])/\(last)" : last
}

/// (a) Per-layer L2 norm of each role: one panel per role, one line per checkpoint
/// (x = block index). Roles no checkpoint has (e.g. biases of a bias-free run) are left out.
/// `label` names each checkpoint's line (the report passes its run names, which the stats carry).
public func layerNormCharts(_ stats: [CheckpointNormStats], roles: [ParameterRole]? = nil, title: String = "Per-layer weight norms",
                            label: (CheckpointNormStats) -> String = { checkpointDisplayName($0.checkpoint) }) -> SmallMultiples {
    var panels: [LineChart] = []
    for role in roles ?? perLayerRoles {
        let series: [ChartSeries] = stats.compactMap { s in
            guard let byLayer = s.byRole[role.rawValue] else { return nil }
            let pts = byLayer.compactMap { k, v in Int(k).map { (x: Double($0), y: v) } }.sorted { $0.x < $1.x }
            return pts.isEmpty ? nil : ChartSeries(name: label(s), points: pts)
        }
        guard !series.isEmpty else { continue }
        var chart = LineChart(title: role.title, xLabel: "layer", yLabel: "L2 norm", series: series)
        chart.includeZero = false
        panels.append(chart)
    }
    return SmallMultiples(title: title, panels: panels)
}

/// (b) ‖θ‖² of all parameters and of the decay group (≥ 2-D tensors) per checkpoint, as grouped bars.
public func parameterNormBars(_ stats: [CheckpointNormStats], title: String = "Squared parameter norm ‖θ‖²")
    -> BarChart {
    var chart = BarChart(title: title, yLabel: "‖θ‖²", categories: stats.map { checkpointDisplayName($0.checkpoint) }, series: [
        BarSeries(name: "all parameters", values: stats.map(\.totalSumSq)),
        BarSeries(name: "decay group (2-D tensors)", values: stats.map(\.decaySumSq)),
    ])
    chart.valueLabels = true
    return chart
}

/// (c) ‖θ‖ (all, decay group, no-decay group) against training step, on a log axis. `steps`
/// gives each checkpoint's step; nil entries (or no `steps`) are read from the checkpoint label
/// with `trainingStep(fromPath:)`. Checkpoints without a step are left out; nil if none has one.
public func normsVersusStep(_ stats: [CheckpointNormStats], steps: [Int?]? = nil,
                            title: String = "Parameter norm during training") -> LineChart? {
    let pairs: [(Int, CheckpointNormStats)] = stats.enumerated().compactMap { i, s in
        let step = (steps.flatMap { i < $0.count ? $0[i] : nil }) ?? trainingStep(fromPath: s.checkpoint)
        return step.map { ($0, s) }
    }.sorted { $0.0 < $1.0 }
    guard !pairs.isEmpty else { return nil }
    func series(_ name: String, _ f: (CheckpointNormStats) -> Double) -> ChartSeries {
        ChartSeries(name: name, points: pairs.map { (x: Double($0.0), y: f($0.1).squareRoot()) })
    }
    return LineChart(title: title, xLabel: "training step", yLabel: "‖θ‖₂", series: [
        series("all parameters", \.totalSumSq),
        series("decay group (2-D)", \.decaySumSq),
        series("no-decay group (1-D)", \.noDecaySumSq),
    ], yScale: .log)
}
