import Analysis

/// The ReportOptions the report tests run with: scores cached in `cache` (nil: no cache), `bootstrap`
/// resamples (fewer than the CLI's 2000, for speed), and the smoke-test completions only when asked.
func testReportOptions(cache: String?, bootstrap: Int, completions: Bool = false) -> ReportOptions {
    var o = ReportOptions()
    o.cacheDirectory = cache
    o.bootstrap = bootstrap
    if !completions { o.completionPrompt = nil }
    return o
}
