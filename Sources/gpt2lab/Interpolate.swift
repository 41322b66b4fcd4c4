import Analysis
import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Plumbing
import Report
import TestSets

struct Interpolate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test loss along the straight line between two checkpoints (linear mode connectivity), and its barrier.",
        discussion: """
        Scores θ(t) = (1 − t)·θ_A + t·θ_B (float32, every parameter, a tied embedding once) at --points evenly \
        spaced t from --from to --to (default 11 points over [0, 1]), each on the same windows of the test set. \
        Each point's excess is loss(t) − [(1 − t)·L(0) + t·L(1)], its height above the straight line between the \
        endpoints' losses; the barrier is the largest excess over the points with 0 < t < 1. Intervals are 95% \
        percentile block bootstraps over windows (2000 resamples, seeded; blocks of consecutive windows, their \
        length from the windows' autocorrelation; with fewer than 10 whole blocks, a Student t interval on the \
        resamples' standard deviation), the excess's paired: each resample draws one set of windows \
        for every t. The barrier's interval is that of the excess at its t; it does not account \
        for picking the largest. The two checkpoints must have one shape (layers, width, heads, MLP width, \
        vocabulary, context, biases, tying); otherwise it stops before scoring. With --device cuda each point's \
        weights are uploaded to the GPU and scored there (--gpu-math as for score).

        Examples:
          gpt2lab interpolate examples/runs/baseline/model.safetensors examples/runs/wd-0.01/model.safetensors \\
            --test-set examples/test-persuasion.bin --plot lmc.png
          gpt2lab interpolate a.safetensors b.safetensors --test-set tokens.bin --points 13 --from -0.25 --to 1.25 --json
        """)

    @Argument(help: ArgumentHelp("Checkpoint A (t = 0): " + checkpointKinds + "."))
    var a: String

    @Argument(help: "Checkpoint B (t = 1), of A's shape.")
    var b: String

    @OptionGroup var data: TestSetOptions

    @OptionGroup var windows: WindowOptions

    @OptionGroup var model: HeadsOption

    @OptionGroup var vocab: VocabOption

    @OptionGroup var deviceOption: DeviceOption
    @OptionGroup var gpuMath: GPUMathOption

    @Option(parsing: .unconditional, help: "Points on the line, --from and --to included.")
    var points: Int = 11

    @Option(parsing: .unconditional, help: "First t (0 is A; below 0 extrapolates past A).")
    var from: Double = 0

    @Option(parsing: .unconditional, help: "Last t (1 is B; above 1 extrapolates past B).")
    var to: Double = 1

    @Option(name: .customLong("init"), help: ArgumentHelp("Also the straight paths from this checkpoint (e.g. the initialisation) to A and to B, at the same t (in the table and the JSON's from_init, not the chart).", valueName: "C"))
    var initCheckpoint: String?

    @Option(parsing: .unconditional, help: "Seed of the bootstrap resampling.")
    var seed: UInt64 = 0

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "Write the chart (loss against t, the straight line between the endpoints dashed) as PNG.")
    var plot: String?

    @Option(parsing: .unconditional, help: "PNG pixel density (2 = twice the pixels).")
    var scale: Double = 2

    func validate() throws {
        if points < 2 { throw ValidationError("--points must be at least 2 (got \(points))") }
        if !(from.isFinite && to.isFinite && from < to) { throw ValidationError("--from must be below --to (got \(from), \(to))") }
        if let plot, ChartFormat(path: plot) != .png { throw ValidationError("--plot needs a .png file name") }
        if !(scale > 0 && scale <= 8) { throw ValidationError("--scale must be in (0, 8]") }
    }

    func run() throws {
        try runReporting {
            for path in [a, b] + [initCheckpoint].compactMap({ $0 }) where !FileManager.default.isReadableFile(atPath: path) {
                throw InterpolationError.unreadable(path)
            }
            if let plot { try checkFileOutput(plot, what: "chart", isOurs: isGpt2labChart) }
            let tokens = try loadTokenIDs(path: data.testSet, dataset: data.dataset)
            let cks = try ([a, b] + [initCheckpoint].compactMap { $0 }).map { path in
                let ck = try loadCheckpoint(path: path, heads: model.heads, vocab: vocab.rows)
                for w in ck.warnings { warn("\(path): \(w)") }
                return ck
            }
            for ck in cks.dropFirst() {  // every pair's shape, before any scoring
                let d = shapeDifferences(cks[0], ck)
                guard d.isEmpty else { throw InterpolationError.shapesDiffer(a: cks[0].path, b: ck.path, differences: d) }
            }
            noteShortTestSet(tokens: tokens, path: data.testSet, context: data.context ?? cks[0].config.contextLength,
                             skip: windows.skip, maxTokens: windows.maxTokens)
            let ts = interpolationGrid(from: from, to: to, count: points)
            var result = try line(cks[0], cks[1], ts: ts, tokens: tokens)
            if cks.count == 3 { result.fromInit = try [cks[0], cks[1]].map { try line(cks[2], $0, ts: ts, tokens: tokens) } }
            if let plot {
                try render(interpolationChart(result), to: plot, width: 820, height: 500, scale: scale)
            }
            if json { try printJSON(result) } else {
                print(interpolationTable(result))
                for path in result.fromInit ?? [] { print("\nFrom --init:\n" + interpolationTable(path)) }
            }
            if let plot { printToStderr("wrote \(plot)\n") }
        }
    }

    /// Scores the line from `x` to `y` on the grid `ts`, a progress bar per t.
    func line(_ x: LoadedCheckpoint, _ y: LoadedCheckpoint, ts: [Double], tokens: TokenFile) throws -> InterpolationResult {
        var bar: ProgressBar?, current = Double.nan
        defer { bar?.finish() }
        return try interpolate(x, y, ts: ts, tokens: tokens, testSetPath: data.testSet, context: data.context,
                               stride: windows.stride, skip: windows.skip, maxTokens: windows.maxTokens,
                               batch: windows.batch, threads: data.threads, device: deviceOption.device, math: gpuMath.math,
                               seed: seed) { t, done, total in
            if t != current { bar?.finish(); bar = ProgressBar(String(format: "t = %.4g", t)); current = t }
            bar?.update(done, total)
        }
    }
}

/// The plain-text table: one row per t, then the barrier.
func interpolationTable(_ r: InterpolationResult) -> String {
    var lines = ["A (t = 0) \(r.a)", "B (t = 1) \(r.b)",
                 "\(r.testSet): \(r.tokensScored) tokens in \(r.windows) windows (context \(r.settings.context), stride \(r.settings.stride))"
                    + (r.device.map { ", on \($0)" } ?? ""),
                 "       t       loss  loss 95% CI               excess  excess 95% CI (paired)"]
    for p in r.points {
        lines.append(String(format: "%8.4g  %9.5f  [%8.5f, %8.5f]  %+10.5f  [%+.5f, %+.5f]",
                            p.t, p.loss, p.lossCI[0], p.lossCI[1], p.excess, p.excessCI[0], p.excessCI[1]))
    }
    lines.append(String(format: "L(0) = %.5f, L(1) = %.5f; excess = loss(t) − [(1 − t)·L(0) + t·L(1)]", r.lossA, r.lossB))
    if let b = r.barrier {
        lines.append(String(format: "barrier %+.5f nats at t = %.4g, 95%% CI [%+.5f, %+.5f] (the interval of that point; not adjusted for taking the largest)",
                            b.excess, b.t, b.ci[0], b.ci[1]))
    } else {
        lines.append("barrier: no point strictly between t = 0 and t = 1")
    }
    return lines.joined(separator: "\n")
}
