// Writing a report folder: index.html (Mustache template), results.json, results.csv and PNG
// charts. Everything goes to a temporary folder beside the destination, which is then renamed
// into place (an existing report is renamed away first and deleted last), so a reader sees the
// old report or the new one, never half of one.

import Analysis
import Plumbing
import Foundation
import Mustache

/// Problems rendering or writing a report.
public enum ReportError: Error, LocalizedError, Sendable, Equatable {
    case io(String)
    case template(String)
    public var errorDescription: String? {
        switch self {
        case let .io(s): return s
        case let .template(s): return "template: \(s)"
        }
    }
}

/// Files a report folder holds besides its charts.
public enum ReportFile {
    public static let html = "index.html"
    public static let json = "results.json"
    public static let csv = "results.csv"
}

/// One chart of the report: its file, alt text and caption.
public struct ReportChart: Sendable {
    public var file: String
    public var alt: String
    public var caption: String
    public var chart: Chart
    public var width: Int
    public var height: Int
}

// MARK: template lookup

/// The report template, `Resources/report.html.mustache`, shipped with the module (found through
/// `Bundle.module`: the `gpt2lab_Report.resources` folder beside the binary, as SwiftPM and the bundle lay
/// it out). Returns the text and the file it came from.
public func loadReportTemplate() throws -> (text: String, source: String) {
    guard let url = Bundle.module.url(forResource: "report.html", withExtension: "mustache") else {
        throw ReportError.template("Resources/report.html.mustache is not in the Report module's resources")
    }
    guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) else {
        throw ReportError.template("\(url.path): cannot read")
    }
    return (text, url.path)
}

// MARK: formatting

private func f(_ x: Double?, _ fmt: String) -> String { x.map { String(format: fmt, $0) } ?? "—" }

/// p-values: three decimals, or "≤ 1/B" at the bootstrap's floor.
public func formatP(_ p: Double?, bootstrap: Int) -> String {
    guard let p else { return "—" }
    if p <= 1 / Double(bootstrap) + 1e-15 { return "≤ " + String(format: "%.4g", 1 / Double(bootstrap)) }
    return formatPValue(p)
}

func formatInterval(_ ci: [Double]?, decimals: Int = 4, plus: Bool = false) -> String {
    guard let ci, ci.count == 2 else { return "" }
    return "[" + formatDecimal(ci[0], decimals: decimals, plus: plus) + ", " + formatDecimal(ci[1], decimals: decimals, plus: plus) + "]"
}

func formatTau(_ r: RunResult) -> String {
    // A checkpoint with AdamW state adds its average effective learning rate (and, where never-updated elements, each
    // lr/eps, weigh on it, the mean over the others).
    let h = r.hyperparameters
    let elr = h.avgEffectiveLR.map { all in
        String(format: "avg eff. LR %.4g", all) + (h.avgEffectiveLRUpdated.map { String(format: " (%.4g over updated elements)", $0) } ?? "")
    }
    guard let tau = r.tauSteps else { return elr ?? "—" }
    let steps = groupedThousands(rounding: tau)
    let text = r.tauFraction.map { steps + " (" + ($0 >= 10 ? String(format: "%.0f", $0) : String(format: "%.2g", $0)) + "× run)" } ?? steps
    return [text, elr].compactMap { $0 }.joined(separator: "; ")
}

// MARK: charts

/// The report's charts for `results` (and the norm stats / loss curves in `extras`).
public func reportCharts(_ r: ComparisonResults, extras: ComparisonExtras) -> [ReportChart] {
    var charts: [ReportChart] = []
    let level = Int((r.settings.level * 100).rounded())
    let ref = r.reference.flatMap { r.run($0) }
    let compared = r.runs.filter { $0.name != r.reference }

    var loss = DotChart(title: "Test loss per run (\(level)% " + (r.settings.sequential == nil ? "bootstrap CI over windows)" : "interval, sequential)"), xLabel: "loss (nats/token)",
                        categories: compared.map(\.name),
                        series: [BarSeries(name: "test loss", values: compared.map(\.loss),
                                           errors: compared.map { (lo: $0.lossCI[0], hi: $0.lossCI[1]) })],
                        referenceLine: ref.map { ReferenceLine(value: $0.loss, label: String(format: "%@ %.3f", $0.name, $0.loss)) })
    loss.zeroLine = false
    charts.append(ReportChart(file: "loss.png", alt: "Test loss of each run with confidence intervals",
                              caption: "Test loss of each run; bars are \(level)% "
                                  + (r.settings.sequential == nil ? "bootstrap CIs over windows."
                                     : "without-replacement intervals on the windows each run read (sequential scoring).")
                                  + (ref.map { " The vertical line is the reference run (\($0.name))." } ?? ""),
                              chart: .dot(loss), width: 900, height: 120 + 48 * compared.count))

    let deltas = r.runs.filter { $0.name != r.baseline && $0.name != r.reference }
    if !deltas.isEmpty {
        let band = r.seedNoise.map { Band(lo: -$0.halfWidth, hi: $0.halfWidth, label: String(format: "seed noise ±%.4f", $0.halfWidth)) }
        let dot = DotChart(title: "Δ loss vs \(r.baseline) (paired \(level)% " + (r.settings.sequential == nil ? "CI)" : "interval, sequential)"), xLabel: "Δ loss (nats/token); < 0 is better",
                           categories: deltas.map(\.name),
                           series: [BarSeries(name: "Δ vs \(r.baseline)", values: deltas.map { $0.deltaVsBaseline ?? .nan },
                                              errors: deltas.map { (lo: $0.deltaCI?[0] ?? .nan, hi: $0.deltaCI?[1] ?? .nan) })],
                           band: band)
        charts.append(ReportChart(file: "delta.png", alt: "Change in loss against the baseline with confidence intervals",
                                  caption: "Δ loss against \(r.baseline), "
                                      + (r.settings.sequential == nil ? "paired bootstrap CIs" : "sequential paired intervals")
                                      + (band != nil ? "; the shaded band is the seed noise." : ".")
                                      + (r.reference != nil ? " The reference run is left out: it is not an intervention on the baseline (its Δ is in the table)." : ""),
                                  chart: .dot(dot), width: 900, height: 140 + 48 * deltas.count))
    }

    // The stats carry run names (not paths): label by them as they are ("wd-0.01" and "wd-0.02" are two runs).
    let layers = layerNormCharts(extras.norms, title: "Per-layer weight norms (L2) by tensor role") { $0.checkpoint }
    var totals = parameterNormBars(extras.norms)
    totals.categories = extras.norms.map(\.checkpoint)
    if !layers.panels.isEmpty {
        charts.append(ReportChart(file: "norms-layers.png", alt: "Per-layer weight norms of each run",
                                  caption: "L2 norm of each tensor role per transformer block, one line per run.",
                                  chart: .smallMultiples(layers), width: 1100, height: 760))
    }
    charts.append(ReportChart(file: "norms-total.png", alt: "Squared parameter norm of each run",
                              caption: "‖θ‖² of all parameters and of the decay group (2-D tensors) per run. Both include the embeddings: "
                                  + "in a small model the token embedding (50,257 rows) can hold most of ‖θ‖² and mostly reflects "
                                  + "its initialisation; the per-layer chart shows the blocks alone.",
                              chart: .bar(totals), width: 900, height: 480))
    charts += stepCharts(r)   // test loss and ‖θ‖ vs step, beside the other norm charts

    if !extras.lossCurves.isEmpty {
        var line = LineChart(title: "Training loss", xLabel: "step", yLabel: "training loss (nats/token)",
                             series: extras.lossCurves.map { c in ChartSeries(name: c.name, points: c.points.map { (x: $0.step, y: $0.loss) }) })
        line.markers = false
        charts.append(ReportChart(file: "training-loss.png", alt: "Training loss curves",
                                  caption: "Training loss from each run's meta.json, as logged during training (not smoothed; "
                                      + "runs that share a seed and data order can overlap).",
                                  chart: .line(line), width: 900, height: 520))
    }

    let hess = r.runs.filter { $0.hessianTrace != nil }
    if !hess.isEmpty {
        var bars = BarChart(title: "Hessian trace (Hutchinson, \(r.settings.hessianSamples) probes)", yLabel: "tr H",
                            categories: hess.map(\.name),
                            series: [BarSeries(name: "trace, 95% interval", values: hess.map { $0.hessianTrace! },
                                               errors: hess.map { traceInterval(PartTrace(trace: $0.hessianTrace!, stderr: $0.hessianStderr ?? .nan),
                                                                                probes: hessianProbes(r, run: $0.name)) })])
        bars.valueLabels = true
        charts.append(ReportChart(file: "hessian-trace.png", alt: "Hessian trace per run",
                                  caption: "Trace of the loss Hessian on the first 4 windows of \(r.settings.context) tokens.",
                                  chart: .bar(bars), width: 900, height: 480))
    }
    return charts
}

// MARK: JSON, CSV, HTML

public func resultsJSON(_ r: ComparisonResults) throws -> Data {
    try JSON.encoder().encode(r)
}

/// results.csv: one row per run, the cells of `RunResult.columns`.
public func resultsCSV(_ r: ComparisonResults) -> String {
    func q(_ s: String) -> String { s.contains(where: { ",\"\n".contains($0) }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
    let cells = RunResult.csvCells(sequential: r.settings.sequential != nil)
    var out = cells.map(\.header).joined(separator: ",") + "\n"
    for x in r.runs { out += cells.map { q($0.value(x)) }.joined(separator: ",") + "\n" }
    return out
}

/// Every chart of a report, built once for both the PNG files and the page's figures: the summary charts
/// (`reportCharts`) and each section's (per-token, why it helped, paths between runs).
public struct ReportChartSet {
    public var main: [ReportChart], perToken: [ReportChart], why: [ReportChart], interpolation: [ReportChart]
    public var all: [ReportChart] { main + perToken + why + interpolation }

    public init(_ r: ComparisonResults, extras: ComparisonExtras) {
        main = reportCharts(r, extras: extras)
        perToken = perTokenCharts(r); why = whyCharts(r); interpolation = interpolationCharts(r)
    }
}

/// The values the template sees (see Resources/report.html.mustache).
public func templateContext(_ r: ComparisonResults, charts set: ReportChartSet) -> [String: Any] {
    let charts = set.main
    let B = r.settings.bootstrap
    let rows: [[String: Any]] = r.runs.map { x in
        var row: [String: Any] = [
            "name": x.name, "description": x.description ?? "",
            "loss": f(x.loss, "%.4f"), "loss_ci": formatInterval(x.lossCI),
            "delta": x.name == r.baseline ? "baseline" : x.deltaVsBaseline.map { formatDecimal($0, decimals: 4, plus: true) } ?? "—",
            "delta_ci": formatInterval(x.deltaCI, plus: true),
            "p": formatP(x.pValue, bootstrap: B),
            "verdict": x.verdict?.rawValue ?? "—",
            "verdict_class": x.verdict.map { $0 == .inTheNoise ? "noise" : $0.rawValue } ?? "",
            "gap": f(x.gapClosed, "%.1f%%"),
            "sum_sq": groupedThousands(rounding: x.totalSumSq), "decay_sum_sq": groupedThousands(rounding: x.decaySumSq),
            "tau": formatTau(x),
            "row_class": x.name == r.baseline ? "baseline" : (x.name == r.reference ? "reference" : ""),
        ]
        if !x.identicalTo.isEmpty { row["identical_to"] = x.identicalTo.joined(separator: ", ") }
        if let q = x.sequential {
            row["read"] = "\(groupedThousands(q.windowsScored))/\(groupedThousands(q.windowsTotal)) windows ("
                + String(format: "%.0f%%", 100 * q.fractionRead) + ")"
        }
        if let e = x.expectedIfAdditive {
            row["additive"] = String(format: "%+.4f", e)
            row["stack_of"] = x.stackOf.joined(separator: " + ")
        }
        if let h = x.hessianTrace {
            let w = traceHalfWidth95(stderr: x.hessianStderr ?? .nan, probes: hessianProbes(r, run: x.name))
            row["hessian"] = formatMeasurement(h, w)
        }
        if let c = x.completion {
            row["completion_greedy"] = shownCompletion(c.greedy)
            if let s = c.sample { row["completion_sample"] = shownCompletion(s) }
        }
        return row
    }
    var ctx: [String: Any] = [
        "title": r.title,
        "rows": rows,
        "charts": charts.map { ["file": $0.file, "alt": $0.alt, "caption": $0.caption] },
        "test_set": (r.testSet.path as NSString).lastPathComponent,
        "test_tokens": groupedThousands(r.testSet.tokens), "sample_seed": String(r.settings.seed), "tokens_scored": groupedThousands(r.settings.tokensScored),
        "windows": String(r.settings.windows), "context": String(r.settings.context), "stride": String(r.settings.stride),
        "bootstrap": String(B), "seed": String(r.settings.seed), "level": String(Int((r.settings.level * 100).rounded())),
        "engine": r.settings.engine, "precision": precisionText(r.settings.precision), "baseline": r.baseline, "manifest": (r.manifest as NSString).lastPathComponent,
        "p_floor": String(format: "%.4g", 1 / Double(B)),
        "has_hessian": r.runs.contains { $0.hessianTrace != nil },
        "has_stack": r.runs.contains { $0.expectedIfAdditive != nil },
        "has_identical": r.runs.contains { !$0.identicalTo.isEmpty },
        "has_completion": r.runs.contains { $0.completion != nil },
        "evals": evalTemplateContext(r),
        "per_token": perTokenTemplateContext(r, charts: set.perToken),
        "has_per_token": !(r.perToken ?? []).isEmpty,
    ]
    if let h = hessianTemplateContext(r, charts: set.why) { ctx["hessian_section"] = h }
    if let s = spectraTemplateContext(r, charts: set.why) { ctx["spectra_section"] = s }
    if let i = interpolationTemplateContext(r, charts: set.interpolation) { ctx["interpolation_section"] = i }
    if let q = r.settings.sequential {
        ctx["sequential"] = ["half_width": String(format: "%.3g", q.halfWidth), "seed": String(q.seed), "min_windows": String(q.minWindows)]
    }
    if let d = r.description { ctx["description"] = d }
    if let s = shapeSourcesText(r) { ctx["shape_sources"] = s }
    if let ref = r.reference { ctx["reference"] = ref }
    if let note = r.referenceNote { ctx["reference_note"] = note }
    if r.settings.skip > 0 { ctx["skip"] = String(r.settings.skip) }
    if let m = r.settings.maxTokens { ctx["max_tokens"] = String(m) }
    if let s = r.seedNoise {
        ctx["seed_noise"] = ["runs": s.runs.joined(separator: ", "), "half_width": String(format: "%.4f", s.halfWidth)]
    }
    return ctx
}

/// Renders the HTML page.
public func renderReportHTML(_ r: ComparisonResults, charts: ReportChartSet, template: String) throws -> String {
    let t: MustacheTemplate
    do { t = try MustacheTemplate(string: template) } catch { throw ReportError.template("cannot parse: \(error)") }
    return t.render(templateContext(r, charts: charts))
}

/// What in the folder `path` is not part of a gpt2lab report: entries other than report files
/// (index.html, results.json, results.csv, and the PNG charts the report's page shows, drawn by gpt2lab:
/// isGpt2labChart), or a results.json gpt2lab did not write (none with gpt2lab's engine in its settings).
/// Empty for a previous report. A chart gpt2lab drew for another command (`norms --plot` into the folder)
/// is not the report's, and is kept: the report refuses the folder.
public func nonReportEntries(_ path: String) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    let page = (try? String(contentsOfFile: path + "/" + ReportFile.html, encoding: .utf8)) ?? ""
    let others = entries.filter { e in
        if [ReportFile.html, ReportFile.json, ReportFile.csv].contains(e) { return false }
        return !(e.hasSuffix(".png") && page.contains("<img src=\"\(e)\"") && pathKind(path + "/" + e) == .file
                 && isGpt2labChart(path + "/" + e))
    }
    if !others.isEmpty || entries.isEmpty { return others }
    struct Head: Decodable { struct Settings: Decodable { var engine: String }; var settings: Settings }
    guard let data = FileManager.default.contents(atPath: path + "/" + ReportFile.json),
          (try? JSONDecoder().decode(Head.self, from: data))?.settings.engine.hasPrefix("gpt2lab") == true else {
        return ["\(ReportFile.json) " + (entries.contains(ReportFile.json) ? "not written by gpt2lab" : "missing")]
    }
    return []
}

/// Where a report goes without `--out`: reports/NAME for manifest NAME.toml. A name that is not a plain folder name
/// ("..toml" gives "..", ".toml" a hidden ".toml") gives reports/report instead.
public func defaultReportFolder(manifest: String) -> String {
    let stem = ((manifest as NSString).lastPathComponent as NSString).deletingPathExtension
    return "reports/" + (stem.isEmpty || stem.hasPrefix(".") ? "report" : stem)
}

/// Checks, before any work, that a report can be written at `destination`: a new folder, an
/// empty one, or a previous gpt2lab report (which is replaced); never a file or a folder of
/// anything else.
public func checkReportDestination(_ destination: String) throws {
    try checkFolderOutput(destination, what: "gpt2lab report", foreign: nonReportEntries)
}

/// Writes the whole report folder at `destination`, atomically replacing a previous report (see
/// `checkReportDestination`): a report killed mid-write leaves the old report (its leftovers are
/// cleared by the next run).
public func writeReport(_ r: ComparisonResults, extras: ComparisonExtras, to destination: String, template: String) throws {
    let dest = normalizedOutputPath(destination)   // one path, checked and written
    try checkReportDestination(dest)
    let parent = URL(fileURLWithPath: dest).deletingLastPathComponent().path
    do { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
        throw ReportError.io("\(parent): cannot create: \(ioReason(error))")
    }
    try writeAtomically(to: dest, folder: true, mayReplace: checkReportDestination) { tmp in
        let charts = ReportChartSet(r, extras: extras)
        for c in charts.all { try render(c.chart, to: tmp + "/" + c.file, width: c.width, height: c.height, scale: 2) }
        try writeAtomically(resultsJSON(r), to: tmp + "/" + ReportFile.json)
        try writeAtomically(Data(resultsCSV(r).utf8), to: tmp + "/" + ReportFile.csv)
        try writeAtomically(Data(renderReportHTML(r, charts: charts, template: template).utf8), to: tmp + "/" + ReportFile.html)
    }
}

/// The settings line for the scoring precision (results written before bf16 have none: f32).
func precisionText(_ p: String?) -> String {
    p == "bf16" ? "bf16 test loss: weights and each product's input rounded to bf16, sums in f32 (norms, Hessian, benchmarks, per-token comparisons, paths and completions in f32)"
        : "f32"
}

/// The probes run `name`'s Hessian trace took (fewer than asked when `--tol` stopped it early).
func hessianProbes(_ r: ComparisonResults, run name: String) -> Int {
    r.hessian?.first { $0.run == name }?.samples ?? r.settings.hessianSamples
}

/// A completion as its cell shows it: newlines as ↵, so a completion of blank lines stays one short cell, and
/// trailing spaces as ␣, which HTML would drop (a greedy completion that ends in spaces looked cut off).
func shownCompletion(_ text: String) -> String {
    let body = text.replacingOccurrences(of: "\n", with: "↵")
    let trailing = body.reversed().prefix { $0 == " " }.count
    return String(body.dropLast(trailing)) + String(repeating: "␣", count: trailing)
}
