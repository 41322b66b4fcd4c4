import Analysis
import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Plumbing
import Report
import TestSets
import Tokenizer

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Paired per-token diagnostics of checkpoint B against checkpoint A on the same windows.",
        discussion: """
        Scores both checkpoints on the windows `score` uses and compares them token by token: mean NLL \
        at each context position (does B use long context better?), KL(A‖B) of the next-token \
        distributions and top-1 agreement averaged over tokens, the distribution of per-token \
        Δ = NLL_B − NLL_A (negative: B is better), and the text segments where B gains or loses most.

        Where the loss moved: mean NLL of both and Δ with a 95% paired block-bootstrap interval (blocks of consecutive windows) by how \
        frequent the target token is (types ranked by count: top 10, 11–100, 101–1,000, 1,001–10,000, the \
        rest, and unseen), counted from --frequencies (the runs' training tokens) or else from the test \
        set's tokens that are compared (after --skip and --max-tokens). Next-token calibration of each: expected calibration error over 15 equal-width bins of the \
        largest next-token probability; --plot draws the reliability diagram.

        --device cuda puts both models on the GPU (f32 weights, --gpu-math) and compares their full next-token \
        distributions there, vocabulary chunk by chunk; the two models must share width, inner size and head count \
        (the layers may differ), else use --device cpu. --device auto uses GPU 0 when there is one and the shapes allow.

        Examples:
          gpt2lab compare examples/runs/baseline/model.safetensors examples/runs/stacked/model.safetensors \\
              --test-set examples/test-persuasion.bin
          gpt2lab compare a.safetensors b.safetensors --test-set tokens.bin --max-tokens 100000 --json
          gpt2lab compare a.pt b.pt --test-set val.bin --frequencies train.bin --plot reliability.png
        """)

    @Argument(help: ArgumentHelp("Checkpoint A, the reference side of every Δ: " + checkpointKinds + "."))
    var a: String
    @Argument(help: "Checkpoint B.")
    var b: String

    @OptionGroup var data: TestSetOptions

    @OptionGroup var windows: WindowOptions
    @Option(name: .customLong("segment-length"), parsing: .unconditional, help: "Tokens per text segment ranked by mean Δ.")
    var segmentLength: Int = 32
    @Option(parsing: .unconditional, help: "Segments to show each way (gains and losses).")
    var segments: Int = 5

    @Option(help: ArgumentHelp("Token file to count token frequencies from (the runs' training data; same formats as "
                               + "--test-set). Default: the test set's tokens that are compared (after --skip and --max-tokens).", valueName: "file"))
    var frequencies: String?
    @Option(name: .customLong("frequencies-dataset"), help: "HDF5 dataset / safetensors tensor of --frequencies.")
    var frequenciesDataset: String?

    @Option(help: "Write the reliability diagram (accuracy against confidence of A and B; bins of fewer than 20 tokens not drawn) as PNG.")
    var plot: String?
    @Option(parsing: .unconditional, help: "PNG pixel density (2 = twice the pixels).")
    var scale: Double = 2

    @OptionGroup var deviceOption: DeviceOption
    @OptionGroup var gpuMath: GPUMathOption
    @OptionGroup var model: HeadsOption
    @OptionGroup var vocab: VocabOption

    @Flag(help: "Print JSON: loss_by_position {a, b}, kl_mean, top1_agreement, delta_quantiles, delta_histogram, gains, losses, frequency_buckets, calibration, …")
    var json = false

    func validate() throws {
        if segmentLength < 1 { throw ValidationError("--segment-length must be at least 1") }
        if segments < 0 { throw ValidationError("--segments must be non-negative") }
        if let plot, ChartFormat(path: plot) != .png { throw ValidationError("--plot needs a .png file name") }
        if !(scale > 0 && scale <= 8) { throw ValidationError("--scale must be in (0, 8]") }
    }

    func run() throws {
        try runReporting {
            if let plot { try checkFileOutput(plot, what: "chart", isOurs: isGpt2labChart) }
            let tokens = try loadTokenIDs(path: data.testSet, dataset: data.dataset)
            let ca = try loadCheckpoint(path: a, heads: model.heads, vocab: vocab.rows)
            let cb = try loadCheckpoint(path: b, heads: model.heads, vocab: vocab.rows)
            for (p, ck) in [(a, ca), (b, cb)] { for w in ck.warnings { warn("\(p): \(w)") } }
            let va = ca.weights.config.softmaxVocab, vb = cb.weights.config.softmaxVocab
            guard va == vb else { throw CommandError("\(a) has a vocabulary of \(va) tokens, \(b) of \(vb): they cannot be compared token by token") }
            let T = data.context ?? min(ca.weights.config.contextLength, cb.weights.config.contextLength)
            for (p, ck) in [(a, ca), (b, cb)] where ck.weights.config.contextLength < T {
                throw CommandError("\(p): context of \(ck.weights.config.contextLength) positions is shorter than --context \(T)")
            }
            let plan = try WindowPlan(tokenCount: tokens.ids.count, context: T, stride: windows.stride ?? T, skip: windows.skip, maxTokens: windows.maxTokens)
            try validateTokenIDs(Array(tokens.ids[plan.tokenRange]), vocabSize: va, path: data.testSet)
            noteShortTestSet(tokens: tokens, path: data.testSet, context: T, skip: windows.skip, maxTokens: windows.maxTokens)
            var options = TokenComparisonOptions()
            options.segmentLength = segmentLength; options.segments = segments; options.batch = windows.batch
            if let frequencies {
                let counts = try countTokenIDs(path: frequencies, dataset: frequenciesDataset, vocabSize: va)
                options.frequencies = TokenFrequencies(counts: counts, source: frequencies, fromTestSet: false)
            }
            let backend = CPUBackend(threads: data.threads)
            let gpu = try comparisonDevice(ca, cb)
            let bar = ProgressBar("comparing")
            let r = try compareTokens(a: GPT2Model(weights: ca.weights, backend: backend), b: GPT2Model(weights: cb.weights, backend: backend),
                                      names: (a, b), tokens: tokens.ids, testSet: data.testSet, plan: plan, options: options,
                                      tokenizer: try GPT2Tokenizer.load(), gpu: gpu, progress: bar.update)
            bar.finish()
            if let plot {
                try render(reliabilityChart(r.calibration, names: ("A", "B")), to: plot, width: 700, height: 620, scale: scale)
            }
            defer { if let plot { printToStderr("wrote \(plot)\n") } }
            if json { try printJSON(r); return }
            if let g = gpu?.a.info { print("device      \(describeGPU(g))") }
            print(String(format: "loss        A %.6f   B %.6f   Δ (B − A) %+.6f nats/token", r.lossA, r.lossB, r.delta))
            print(String(format: "KL(A‖B)     %.6f nats/token     top-1 agreement %.2f%%", r.klMean, 100 * r.top1Agreement))
            print("tokens      \(groupedThousands(r.tokensScored)) in \(r.windows) window\(r.windows == 1 ? "" : "s") (context \(r.context), stride \(r.stride))")
            let q = r.deltaQuantiles
            let cells = zip(["p05", "p25", "median", "p75", "p95"], ["p05", "p25", "p50", "p75", "p95"]).map { label, key in
                label + " " + formatDecimal(q[key] ?? .nan, decimals: 3, plus: true)     // never "-0.000"
            }
            print("per-token Δ " + cells.joined(separator: "  "))
            let positions = r.positionCounts.count
            print("loss by position (A → B), quarters of " + (positions < r.context ? "the \(positions) positions the short test set fills:" : "the context:"))
            for bin in r.binnedLossByPosition(bins: 4) {
                print(String(format: "  positions %4d–%-4d  %.4f → %.4f  (%+.4f)", bin.from, bin.to, bin.a, bin.b, bin.b - bin.a))
            }
            print(frequencyTable(r.frequency))
            print(calibrationTable(r.calibration))
            for (title, segs, sign) in [("B gains most", r.gains, "<"), ("B loses most", r.losses, ">")] where segments > 0 {
                if segs.isEmpty { print("\(title): no \(segmentLength)-token segment with mean Δ \(sign) 0"); continue }
                print("\(title):")
                for s in segs {
                    let text = s.text.replacingOccurrences(of: "\n", with: "⏎")
                    print(String(format: "  %+.3f  window %d @%d  ", s.deltaMean, s.window, s.position) + text)
                }
            }
        }
    }
}

/// The Δ-by-frequency table: one line per bucket, its interval, what the frequencies were counted from.
func frequencyTable(_ f: FrequencyBuckets) -> String {
    let from = f.countedFrom == "test set" ? "the \(groupedThousands(f.tokensCounted)) test-set tokens compared"
                                           : "\(f.source) (\(groupedThousands(f.tokensCounted)) tokens)"
    var lines = ["loss by target-token frequency (types ranked by count in \(from); Δ = B − A, "
                 + "\(Int((f.level * 100).rounded()))% paired block bootstrap over windows):",
                 "  " + column("bucket", 22, alignLeft: true) + column("tokens", 13) + column("loss A", 9) + column("loss B", 9)
                    + column("Δ", 10) + "  interval"]
    for b in f.buckets where b.types > 0 {   // a bucket no type reaches says nothing (results.json keeps it)
        let head = "  " + column(b.shownLabel, 22, alignLeft: true) + column(groupedThousands(b.tokens), 13)
        guard let a = b.lossA, let l = b.lossB, let d = b.deltaEstimate else { lines.append(head + "        —        —         —"); continue }
        let interval = b.delta.map { String(format: "[%+.4f, %+.4f]", $0.lo, $0.hi) } ?? b.noIntervalNote ?? ""
        lines.append(head + String(format: "  %7.4f  %7.4f  %+8.4f  ", a, l, d) + interval)
    }
    return lines.joined(separator: "\n")
}

/// Each run's calibration in one line.
func calibrationTable(_ c: CalibrationPair) -> String {
    [("A", c.a), ("B", c.b)].map { name, x in
        String(format: "calibration %@  ECE %@  top-1 accuracy %.2f%%  mean confidence %.2f%%  (%d equal-width bins)",
               name, formatECE(x.ece), 100 * x.accuracy, 100 * x.confidence, calibrationBins)
    }.joined(separator: "\n")
}

extension Compare {
    /// Both models on the GPU `--device` asks for (f32 weights, --gpu-math), or none for the CPU. They must have
    /// one width, inner size and head count to be compared there in one pass: `--device cuda` refuses a pair
    /// that does not, `--device auto` compares it on the CPU.
    func comparisonDevice(_ ca: LoadedCheckpoint, _ cb: LoadedCheckpoint) throws -> (a: CUDAModel, b: CUDAModel)? {
        guard let ga = try openDevice(deviceOption.device, parameters: .f32(ca.weights), math: gpuMath.math),
              let gb = try openDevice(.cuda(ga.info.ordinal), parameters: .f32(cb.weights), math: gpuMath.math) else { return nil }
        guard ga.canCompare(with: gb) else {
            if deviceOption.device == .auto { return nil }
            let x = ca.weights.config, y = cb.weights.config
            throw CommandError("--device \(deviceOption.device): \(a) (width \(x.nEmbd), \(x.nHead) heads, inner \(x.nInner)) and \(b) "
                                  + "(width \(y.nEmbd), \(y.nHead) heads, inner \(y.nInner)) differ in shape: the GPU compares models of one shape; use --device cpu")
        }
        return (ga, gb)
    }
}
