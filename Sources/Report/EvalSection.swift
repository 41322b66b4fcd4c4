// The benchmark tables of the report (HellaSwag, LAMBADA): what the template's {{#evals}} section sees.

import Analysis
import Foundation
import Plumbing

/// One entry per benchmark: a title, column flags and a row per run (test loss beside each accuracy).
func evalTemplateContext(_ r: ComparisonResults) -> [[String: Any]] {
    let level = Int((r.settings.level * 100).rounded())
    func pct(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }
    func ci(_ i: Interval) -> String { "[" + pct(i.lo) + ", " + pct(i.hi) + "]" }
    return (r.evals ?? []).map { e in
        let name = e.task.info.displayName
        let rows: [[String: Any]] = e.runs.map { x in
            var row: [String: Any] = [
                "name": x.name, "loss": String(format: "%.4f", x.loss), "value": pct(x.value.estimate), "value_ci": ci(x.value),
                "row_class": x.name == r.baseline ? "baseline" : (x.name == r.reference ? "reference" : ""),
                "delta": x.vsBaseline.map { String(format: "%+.1f pts", 100 * $0.delta.estimate) } ?? "baseline",
                // Agresti–Min's pseudo-counts keep an interval when no example differs: how far apart the runs
                // could still be on this many examples.
                "delta_ci": x.vsBaseline.map { v in
                    (v.aOnly + v.bOnly == 0 ? "no example differs " : "")
                        + "[" + formatDecimal(100 * v.delta.lo, decimals: 1, plus: true) + ", " + formatDecimal(100 * v.delta.hi, decimals: 1, plus: true) + "]"
                } ?? "",
                "p": x.vsBaseline.map { formatPValue($0.pValue) } ?? "—",
                "discordant": x.vsBaseline.map { "\($0.aOnly) / \($0.bOnly)" } ?? "",
            ]
            if let a = x.acc { row["acc"] = pct(a.estimate); row["acc_ci"] = ci(a) }
            if let p = x.ppl { row["ppl"] = String(format: "%.2f", p) }
            return row
        }
        return ["title": "\(name) (\(e.recipe) recipe, \(e.examples) examples of \((e.data as NSString).lastPathComponent))",
                "metric": e.metric, "level": String(level), "is_hellaswag": e.task.info.reportsPlainAccuracy, "rows": rows,
                "reports_ppl": e.task.info.reportsPerplexity,
                // Sequential scoring reads different windows per run: their losses are not side by side.
                "loss_own_windows": r.settings.sequential != nil]
    }
}
