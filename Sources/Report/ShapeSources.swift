// The report's "heads from" setting: where each run's head count came from (results.json's
// per-run `shape_source`), paths shown relative to the manifest's folder.

import Analysis
import Foundation

/// "baseline: runs/baseline/meta.json; stacked: …", or nil when no run records one (older results).
func shapeSourcesText(_ r: ComparisonResults) -> String? {
    let folder = (r.manifest as NSString).deletingLastPathComponent
    let parts = r.runs.compactMap { x in
        x.shapeSource.map { s in
            "\(x.name): " + (!folder.isEmpty && s.hasPrefix(folder + "/") ? String(s.dropFirst(folder.count + 1)) : s)
        }
    }
    return parts.isEmpty ? nil : parts.joined(separator: "; ")
}
