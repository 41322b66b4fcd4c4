import Analysis
import ArgumentParser
import Foundation
import Plumbing
import Report

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Compare training runs from a TOML manifest: an HTML report with a results table and charts.",
        discussion: """
        Scores every run of the manifest on the same test-set windows (reusing cached scores), then writes \
        index.html, results.json, results.csv and PNG charts: test loss with bootstrap CIs, Δ against the \
        baseline with paired CIs and p-values, the seed-noise band, % of the baseline→reference gap closed, \
        weight norms, AdamW timescales and, with --hessian-samples, the Hessian's trace split by block and role \
        (with --hessian-top its top eigenvalues, with --hessian-density its eigenvalue density, across runs). \
        The manifest adds sections: per_token (with frequencies), loss_across_steps, spectra, interpolate \
        (docs/report.md lists every key).

        Examples:
          gpt2lab report examples/interventions.toml
          gpt2lab report examples/interventions.toml --out reports/demo --hessian-samples 20
          gpt2lab report runs.toml --hessian-samples 20 --hessian-top 1 --hessian-density 5
        """)

    @Argument(help: "The manifest (TOML); paths inside are relative to its folder.")
    var manifest: String

    @Option(help: "Report folder (default: reports/<manifest name> under the current directory).")
    var out: String?

    @Option(name: .customLong("hessian-samples"), parsing: .unconditional, help: "Hutchinson probes per run for the Hessian trace (0: skip).")
    var hessianSamples = 0
    @Option(name: .customLong("hessian-top"), parsing: .unconditional,
            help: "Top Hessian eigenvalues per run by Lanczos, each with its residual (needs --hessian-samples; 0: skip).")
    var hessianTop = 0
    @Option(name: .customLong("hessian-density"), parsing: .unconditional,
            help: "SLQ start vectors per run for the Hessian's eigenvalue density, one panel per run on shared axes (needs --hessian-samples; 0: skip).")
    var hessianDensity = 0
    @Option(name: .customLong("hessian-density-steps"), parsing: .unconditional, help: "Lanczos steps per SLQ vector (with --hessian-density).")
    var hessianDensitySteps = 30
    @Flag(name: .customLong("hessian-steps"),
          help: "The same Hessian for every step checkpoint too (needs loss_across_steps = true; one run's Hessian per checkpoint).")
    var hessianSteps = false

    @Flag(name: .customLong("no-cache"), help: "Score every run again (new scores still go to the cache).")
    var noCache = false

    @Option(help: "Score cache folder (default: $XDG_CACHE_HOME/gpt2lab/scores, else ~/.cache/gpt2lab/scores). Entries are keyed by the checkpoint's and test set's content and every setting that changes a score, so any folder may share it.")
    var cache: String?

    @Option(parsing: .unconditional, help: "Bootstrap resamples (at least 100).")
    var bootstrap = 2000

    @Option(parsing: .unconditional, help: "Seed of the bootstrap, the Hessian probes and the sampled completion.")
    var seed: UInt64 = 0

    @OptionGroup var threadsOption: ThreadsOption

    @Flag(help: "Also print results.json on stdout.")
    var json = false

    @OptionGroup var precisionOption: PrecisionOption

    @OptionGroup var deviceOption: DeviceOption
    @OptionGroup var gpuMath: GPUMathOption

    func validate() throws {
        // The 2.5% and 97.5% points and a p-value of 0.01 each need resamples beyond them: under 100 they are noise.
        if bootstrap < 100 { throw ValidationError("--bootstrap must be at least 100 (default 2000): a 95% interval and its p-value need that many resamples") }
        if hessianSamples < 0 || hessianSamples == 1 {
            throw ValidationError("--hessian-samples must be 0 (no Hessian) or at least 2 (one probe has no standard error)")
        }
        if hessianTop < 0 { throw ValidationError("--hessian-top must be 0 or more") }
        if hessianTop > hessianEigenSteps {
            throw ValidationError("--hessian-top \(hessianTop): the report runs \(hessianEigenSteps) Lanczos steps, which give at most \(hessianEigenSteps) eigenvalues (use `gpt2lab hessian --top K --eigen-steps N` for more)")
        }
        if hessianDensity < 0 { throw ValidationError("--hessian-density must be 0 or more") }
        if hessianDensitySteps < 1 { throw ValidationError("--hessian-density-steps must be at least 1") }
        if hessianSamples == 0 && (hessianTop > 0 || hessianDensity > 0 || hessianSteps) {
            throw ValidationError("--hessian-top, --hessian-density and --hessian-steps need --hessian-samples N (the Hessian's probes)")
        }
    }

    func run() throws {
        try runReporting {
            let dest = out ?? defaultReportFolder(manifest: manifest)
            try checkReportDestination(dest)
            let cacheDirectory = try reportCacheDirectory()
            if let c = cacheDirectory, normalizedOutputPath(c) == normalizedOutputPath(dest) || normalizedOutputPath(c).hasPrefix(normalizedOutputPath(dest) + "/") {
                throw OutputError(c, "the cache is inside the report folder \(dest), which the report replaces; give another --cache folder")
            }
            let m = try loadManifest(path: manifest)
            let template = try loadReportTemplate()   // before any work: a broken install is one line, at once
            var options = ReportOptions()
            options.bootstrap = bootstrap
            options.seed = seed
            options.hessianSamples = hessianSamples
            options.hessianTop = hessianTop
            if hessianDensity > 0 { options.hessianDensity = DensityOptions(vectors: hessianDensity, steps: hessianDensitySteps) }
            options.hessianSteps = hessianSteps
            options.threads = threadsOption.threads
            options.precision = precisionOption.precision
            options.device = deviceOption.device
            options.gpuMath = gpuMath.math
            options.cacheDirectory = cacheDirectory
            options.rescore = noCache
            var bar: ProgressBar?, point = ""   // the interpolation point being scored ("a b t")
            let (results, extras) = try compareRuns(m, options: options) { event in
                switch event {
                case let .score(run, source):
                    bar?.finish()
                    printToStderr("\(run): \(source)\n")
                    bar = source == "scoring" ? ProgressBar("  \(run)") : nil
                case let .scoring(_, done, total):
                    bar?.update(done, total)
                    if done == total { bar?.finish(); bar = nil }
                case let .hessian(run, stage, done, total):
                    if done == 1, let what = hessianStageText(stage, total: total, options: options) {
                        printToStderr("\(run): \(what)\n")
                    }
                case let .spectra(run):
                    printToStderr("\(run): weight spectra\n")
                case let .comparing(run, done, total):
                    if done == 0 {
                        bar?.finish()
                        printToStderr("\(run): per-token comparison with \(m.baseline)\n")
                        bar = ProgressBar("  \(run)")
                    }
                    bar?.update(done, total)
                    if done == total { bar?.finish(); bar = nil }
                case let .evaluating(run, what, done, total):
                    if done == 0 {
                        bar?.finish()
                        printToStderr("\(run): \(what)\n")
                        bar = ProgressBar("  \(run)", unit: "ex")
                    }
                    bar?.update(done, total)
                    if done == total { bar?.finish(); bar = nil }
                case let .interpolating(a, b, t, done, total):
                    if point != "\(a) \(b) \(t)" {
                        bar?.finish()
                        if !point.hasPrefix("\(a) \(b) ") {
                            printToStderr("\(a) → \(b): loss along the straight line (\(m.interpolatePoints) points)\n")
                        }
                        point = "\(a) \(b) \(t)"
                        bar = ProgressBar(String(format: "  t = %.4g", t))
                    }
                    bar?.update(done, total)
                    if done == total { bar?.finish(); bar = nil }
                case let .note(text):
                    warn(text)
                case let .info(text):
                    bar?.finish(); bar = nil
                    printToStderr("  \(text)\n")
                }
            }
            try writeReport(results, extras: extras, to: dest, template: template.text)
            if json {
                writeStdout(try resultsJSON(results))
                writeStdout(Data("\n".utf8))
            } else {
                printTable(results)
                print("report: \(dest)/index.html")
            }
        }
    }

    /// The score cache, checked before any work: `--cache` must be usable; the default one is
    /// skipped, with a warning, where it cannot be made (no home folder, read-only file system).
    private func reportCacheDirectory() throws -> String? {
        if let cache { try checkCacheFolder(cache); return cache }
        guard let dir = defaultScoreCacheDirectory() else { warn("no cache folder ($HOME unset): every run is scored"); return nil }
        do { try checkCacheFolder(dir) } catch {
            warn("\(error.localizedDescription); scores are not cached (use --cache DIR)")
            return nil
        }
        return dir
    }

    private func printTable(_ r: ComparisonResults) {
        let w = max(8, r.runs.map(\.name.count).max() ?? 8)
        let sequential = r.settings.sequential != nil
        print("run".padding(toLength: w, withPad: " ", startingAt: 0) + "     loss   Δ vs base        p       verdict  gap closed"
              + (sequential ? "   ± (95%)  baseline there  windows read (sequential)" : ""))
        for x in r.runs {
            let delta = x.name == r.baseline ? "baseline" : x.deltaVsBaseline.map { String(format: "%+.4f", $0) } ?? "—"
            let p = formatP(x.pValue, bootstrap: r.settings.bootstrap)   // "≤ 1/B" where the bootstrap floors it
            let verdict = x.name == r.baseline ? "baseline" : x.verdict?.rawValue ?? "—"
            let gap = x.gapClosed.map { String(format: "%.1f%%", $0) } ?? "—"
            print(x.name.padding(toLength: w, withPad: " ", startingAt: 0)
                  + String(format: " %8.4f", x.loss) + delta.leftPad(12) + p.leftPad(9) + verdict.leftPad(14) + gap.leftPad(12)
                  + (x.sequential.map { q in
                      // ± of Δ for a run (of the loss for the baseline); each run's loss is on the windows it read, so
                      // the baseline's loss on those same windows stands beside it (Δ is their difference).
                      let ci = q.deltaCI ?? x.lossCI
                      let there = q.delta == nil ? "—" : String(format: "%.4f", q.baselineLoss)
                      return String(format: "%10.4f", (ci[1] - ci[0]) / 2) + there.leftPad(16)
                          + String(format: "  %d/%d (%.1f%%)", q.windowsScored, q.windowsTotal, 100 * q.fractionRead)
                  } ?? ""))
        }
    }
}

private extension String {
    /// Right-aligned in `n` characters, with at least one space before it.
    func leftPad(_ n: Int) -> String { " " + column(self, n - 1) }
}

/// The progress line at the start of a Hessian stage of the report; nil for stages not announced.
func hessianStageText(_ stage: HessianStage, total: Int, options: ReportOptions) -> String? {
    switch stage {
    case .trace: return "Hessian trace (\(total) probes)"
    case .eigenvalues: return "Hessian top \(options.hessianTop) eigenvalue\(options.hessianTop == 1 ? "" : "s") (Lanczos, at most \(total) steps)"
    case let .density(k): return "Hessian density, vector \(k) of \(options.hessianDensity?.vectors ?? 0) (\(total) Lanczos steps)"
    case .gradient: return nil
    }
}
