import Analysis
import Foundation
@testable import Report

/// The ReportOptions the report tests run with: scores cached in `cache` (nil: no cache), `bootstrap`
/// resamples (fewer than the CLI's 2000, for speed), and the smoke-test completions only when asked.
func testReportOptions(cache: String?, bootstrap: Int, completions: Bool = false) -> ReportOptions {
    var o = ReportOptions()
    o.cacheDirectory = cache
    o.bootstrap = bootstrap
    if !completions { o.completionPrompt = nil }
    return o
}

/// The demo as `make demo` renders it (examples/interventions.toml, the CLI's default options), written
/// once per test process into a temporary folder with its own score cache: the tests check what the
/// code renders now, not a committed copy.
enum RenderedDemo {
    static let folder: Result<String, any Error> = Result {
        let dir = NSTemporaryDirectory() + "gpt2lab-demo-\(UUID().uuidString)"
        var o = ReportOptions()
        o.cacheDirectory = dir + "/cache"
        let (r, extras) = try compareRuns(try loadManifest(path: ReportTests.root + "/examples/interventions.toml"), options: o) { _ in }
        try writeReport(r, extras: extras, to: dir + "/demo", template: try loadReportTemplate().text)
        return dir + "/demo"
    }
}
