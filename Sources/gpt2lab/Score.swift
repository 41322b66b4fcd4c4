import Analysis
import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Plumbing
import TestSets

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test loss, perplexity (and bits per byte for text) of checkpoints on a test set.",
        discussion: """
        Windows follow HF's strided recipe: window k starts at k·stride, holds up to --context inputs, and \
        scores only targets no earlier window scored, so every token after the first is scored once (HF's \
        perplexity guide, passing each window as its own labels, leaves each window's first token unscored; see \
        docs/commands.md). Text test sets (.txt, .jsonl) are tokenized with GPT-2's BPE and also report bits per byte: total NLL / ln 2 / UTF-8 bytes of the text (without the <|endoftext|> markers).

        Examples:
          gpt2lab score examples/runs/baseline/model.safetensors --test-set examples/test-persuasion.bin
          gpt2lab score ckpt.safetensors --test-set tokens.safetensors --skip 50000000 --max-tokens 1000000 --json
          gpt2lab score examples/runs/baseline/model.safetensors --test-set examples/test-persuasion.txt
          gpt2lab score examples/runs/*/model.safetensors --test-set examples/test-persuasion.bin
        """)

    @Argument(help: ArgumentHelp("Checkpoints (several print a table): " + checkpointKinds + "."))
    var checkpoints: [String]

    @OptionGroup var data: TestSetOptions

    @OptionGroup var windows: WindowOptions

    @OptionGroup var model: HeadsOption

    @OptionGroup var vocab: VocabOption

    @OptionGroup var precisionOption: PrecisionOption
    var precision: Precision { precisionOption.precision }

    @OptionGroup var deviceOption: DeviceOption
    @OptionGroup var gpuMath: GPUMathOption
    var device: ComputeDevice { deviceOption.device }

    @Flag(help: "Print JSON (one object, or an array for several checkpoints).")
    var json = false

    @Flag(help: ArgumentHelp("Time each kernel class (matrix products, attention, LM head + loss, LayerNorm, GELU, residual).",
                             discussion: "On a GPU each stage is waited for before the next starts, so a profiled score runs a little slower."))
    var profile = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Score only shard K of N (K from 0, as Slurm array / Kubernetes completion indices count); needs --out.",
                               valueName: "K/N"))
    var shard: String?

    @Option(help: ArgumentHelp("Where --shard writes its partial result (JSON, written atomically); combine parts with `gpt2lab merge`.",
                               valueName: "PART.json"))
    var out: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Sequential scoring: visit windows in a seeded random order and stop once the 95% interval of the mean NLL is at most ± HALF_WIDTH nats (or every window is read). Prints the interval and the fraction of windows read.",
                               valueName: "HALF_WIDTH"))
    var ci: Double?

    @Option(name: .customLong("ci-seed"), parsing: .unconditional, help: "Seed of the --ci visiting order.")
    var ciSeed: UInt64 = 0

    @Option(name: .customLong("ci-min-windows"), parsing: .unconditional, help: "With --ci, read at least this many windows before stopping (at least 10: the variance estimate needs some).")
    var ciMinWindows: Int = 30

    /// (k, n) from "K/N".
    var shardSpec: (Int, Int)? { parseShard(shard) }

    func validate() throws {
        if checkpoints.isEmpty { throw ValidationError("give at least one checkpoint") }
        if let ci, !(ci > 0 && ci.isFinite) { throw ValidationError("--ci takes a positive half-width in nats, e.g. --ci 0.01; got \(ci)") }
        if ciMinWindows < minSequentialWindows { throw ValidationError("--ci-min-windows must be at least \(minSequentialWindows): a t interval stopped early on fewer windows covers less than it says") }
        if ci != nil && shard != nil { throw ValidationError("--ci and --shard do not combine: a sequential score decides as it goes") }
        try validateShard(shard, out: out, whole: "a whole score")
        if shard != nil, checkpoints.count != 1 { throw ValidationError("--shard scores one checkpoint") }
    }

    /// Scores one shard and writes its part file.
    func runShard(k: Int, n: Int, tokens: TokenFile) throws {
        let path = checkpoints[0]
        let (hash, ck) = try hashedCheckpoint(path: path) {
            try loadCheckpoint(path: path, heads: model.heads, vocab: vocab.rows, precision: precision)
        }
        for w in ck.warnings { warn("\(path): \(w)") }
        let T = data.context ?? ck.config.contextLength
        let plan = try WindowPlan(tokenCount: tokens.ids.count, context: T, stride: windows.stride ?? T, skip: windows.skip, maxTokens: windows.maxTokens)
        // The default batch of the device that will run (a GPU's is larger); a GPU asked for but unusable stops here.
        let onGPU = try device != .cpu && settleDevice(device, math: nil).device != .cpu
        let B = windows.batch ?? (onGPU ? defaultGPUBatch(context: T) : defaultBatch(context: T))
        let range = shardRange(shard: k, of: n, units: plan.windows.count, batch: B)
        let bar = ProgressBar("shard \(k)/\(n)")
        let (report, scores, _) = try scoreCheckpoint(ck, tokens: tokens, testSetPath: data.testSet, context: T, stride: windows.stride,
                                                      skip: windows.skip, maxTokens: windows.maxTokens, batch: B, threads: data.threads,
                                                      windowRange: range, device: device, math: gpuMath.math, progress: bar.update)
        bar.finish()
        let key = ScoreKey(checkpointHash: hash, testSetHash: tokens.contentHash,
                           settings: ScoreSettings(plan: plan),
                           config: ck.config, precision: precision, gpu: report.gpu)
        let body = ScoreShard(checkpoint: path, layout: ck.layout.rawValue, testSet: data.testSet, key: key,
                              utf8Bytes: plan.coversWholeText ? tokens.utf8Bytes : nil,
                              softmaxRows: report.softmaxRows, vocabStored: report.vocabStored, batch: B, scores: scores,
                              threads: report.threads, seconds: report.seconds)
        try writePart(ShardPart(shard: k, shards: n, total: plan.windows.count, start: range.lowerBound, body: body), to: out!)
    }

    func run() throws {
        try runReporting {
            if let out { try checkPartOutput(out) }
            let tokens = try loadTokenIDs(path: data.testSet, dataset: data.dataset)
            if let (k, n) = shardSpec { try runShard(k: k, n: n, tokens: tokens); return }
            var reports: [ScoreReport] = [], shapes: [ShapeSource] = []
            let testSetHash = tokens.contentHash   // once for every checkpoint
            if profile { KernelProfile.start() }
            for path in checkpoints {
                let (hash, ck) = try hashedCheckpoint(path: path) {
                    try loadCheckpoint(path: path, heads: model.heads, vocab: vocab.rows, precision: precision)
                }
                for w in ck.warnings { warn("\(path): \(w)") }
                shapes.append(ck.shapeSource)
                if path == checkpoints[0] { noteShortTestSet(tokens: tokens, path: data.testSet, context: data.context ?? ck.config.contextLength,
                                 skip: windows.skip, maxTokens: windows.maxTokens) }
                if device != .cpu, ProcessInfo.processInfo.environment["GPT2LAB_CUDA_CHECK"] == "1" {
                    for line in try checkCUDAScoring(ck, tokens: tokens, testSetPath: data.testSet, context: data.context,
                                                     threads: data.threads, device: device, math: gpuMath.math) {
                        printToStderr("gpt2lab: \(line)\n")
                    }
                }
                let bar = ProgressBar(checkpoints.count > 1 ? (path as NSString).deletingLastPathComponent : "scoring")
                var report: ScoreReport
                if let ci {
                    let rule = SequentialRule(halfWidth: ci, minWindows: ciMinWindows, seed: ciSeed)
                    (report, _) = try scoreCheckpointSequential(ck, tokens: tokens, testSetPath: data.testSet, rule: rule,
                                                                context: data.context, stride: windows.stride, skip: windows.skip,
                                                                maxTokens: windows.maxTokens, batch: windows.batch, threads: data.threads,
                                                                device: device, math: gpuMath.math, progress: bar.update)
                } else {
                    (report, _, _) = try scoreCheckpoint(ck, tokens: tokens, testSetPath: data.testSet, context: data.context,
                                                         stride: windows.stride, skip: windows.skip, maxTokens: windows.maxTokens, batch: windows.batch,
                                                         threads: data.threads, device: device, math: gpuMath.math, progress: bar.update)
                }
                bar.finish()
                report.checkpointHash = hash; report.testSetHash = testSetHash
                reports.append(report)
            }
            let kernels = profile ? ProfileSummary(KernelProfile.stop(), seconds: reports.map(\.seconds).reduce(0, +)) : nil
            var runtime = RuntimeInfo.current(threads: reports.first?.threads ?? 1, precision: precision)
            runtime.device = reports.first?.device ?? "cpu"
            runtime.gpu = reports.first?.gpu
            if json {
                let out = zip(reports, shapes).map { WithRuntime(report: $0, runtime: runtime, profile: kernels, shapeSource: $1) }
                if out.count == 1 { try printJSON(out[0]) } else { try printJSON(out) }
            } else if reports.count == 1 {
                let r = reports[0]
                print(String(format: "loss        %.6f nats/token", r.loss))
                if let ci = r.ci95, let n = r.windowsScored, let total = r.windowsTotal {
                    print(String(format: "95%% CI      [%.6f, %.6f] (± %.6f) from %@ of %@ windows (%.1f%%) in a seeded random order",
                                 ci[0], ci[1], (ci[1] - ci[0]) / 2, groupedThousands(n), groupedThousands(total),
                                 100 * Double(n) / Double(max(total, 1))))
                }
                print(String(format: "perplexity  %.3f", r.perplexity))
                if let bpb = r.bitsPerByte { print(String(format: "bits/byte   %.6f", bpb)) }
                print("tokens      \(groupedThousands(r.tokensScored)) scored in \(r.windows) window\(r.windows == 1 ? "" : "s") (context \(r.context), stride \(r.stride))")
                if let rows = r.softmaxRows, let stored = r.vocabStored {
                    print("vocab       softmax over \(describeVocabRows(softmaxed: rows, stored: stored))")
                }
                if let g = r.gpu {
                    print(String(format: "speed       %.0f tokens/s (%.2f s, batch %d)", r.tokensPerSecond, r.seconds, r.batch))
                    print("device      \(describeGPU(g))")
                } else {
                    print(String(format: "speed       %.0f tokens/s (%.2f s, %d threads)", r.tokensPerSecond, r.seconds, r.threads))
                }
                if precision != .f32 { print("precision   \(precision.rawValue): \(runtime.precisionDetail)") }
            } else {
                let w = max(10, reports.map { $0.checkpoint.count }.max() ?? 10)
                let sequential = ci != nil
                if precision != .f32 { print("precision: \(precision.rawValue) (\(runtime.precisionDetail))") }
                if let g = reports.first?.gpu { print("device: \(describeGPU(g))") }
                print("checkpoint".padding(toLength: w, withPad: " ", startingAt: 0) + "      loss  perplexity     tokens    tok/s"
                      + (sequential ? "    ±95%   read" : ""))
                for r in reports {
                    let extra = r.ci95.map { c in
                        String(format: " %7.4f %5.1f%%", (c[1] - c[0]) / 2, 100 * Double(r.windowsScored ?? 0) / Double(max(r.windowsTotal ?? 1, 1)))
                    } ?? ""
                    print(r.checkpoint.padding(toLength: w, withPad: " ", startingAt: 0)
                          + String(format: " %9.4f %11.2f %10d %8.0f", r.loss, r.perplexity, r.tokensScored, r.tokensPerSecond) + extra)
                }
            }
            if let kernels, !json { print(kernels.table) }
        }
    }
}
