import Analysis
import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Plumbing
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

        Examples:
          gpt2lab compare examples/runs/baseline/model.safetensors examples/runs/stacked/model.safetensors \\
              --test-set examples/test-persuasion.bin
          gpt2lab compare a.safetensors b.safetensors --test-set tokens.bin --max-tokens 100000 --json
        """)

    @Argument(help: ArgumentHelp("Checkpoint A, the reference side of every Δ: " + checkpointKinds + "."))
    var a: String
    @Argument(help: "Checkpoint B.")
    var b: String

    @OptionGroup var data: TestSetOptions

    @OptionGroup var windows: WindowOptions
    @Option(name: .customLong("segment-length"), help: "Tokens per text segment ranked by mean Δ.")
    var segmentLength: Int = 32
    @Option(help: "Segments to show each way (gains and losses).")
    var segments: Int = 5

    @OptionGroup var model: HeadsOption
    @OptionGroup var vocab: VocabOption

    @Flag(help: "Print JSON: loss_by_position {a, b}, kl_mean, top1_agreement, delta_quantiles, delta_histogram, gains, losses, …")
    var json = false

    func validate() throws {
        if segmentLength < 1 { throw ValidationError("--segment-length must be at least 1") }
        if segments < 0 { throw ValidationError("--segments must be non-negative") }
    }

    func run() throws {
        try runReporting {
            let tokens = try loadTokenIDs(path: data.testSet, dataset: data.dataset)
            let ca = try loadCheckpoint(path: a, heads: model.heads, vocab: vocab.rows)
            let cb = try loadCheckpoint(path: b, heads: model.heads, vocab: vocab.rows)
            for (p, ck) in [(a, ca), (b, cb)] { for w in ck.warnings { warn("\(p): \(w)") } }
            let va = ca.weights.config.softmaxVocab, vb = cb.weights.config.softmaxVocab
            guard va == vb else { throw ValidationError("\(a) has a vocabulary of \(va) tokens, \(b) of \(vb): they cannot be compared token by token") }
            let T = data.context ?? min(ca.weights.config.contextLength, cb.weights.config.contextLength)
            for (p, ck) in [(a, ca), (b, cb)] where ck.weights.config.contextLength < T {
                throw ValidationError("\(p): context of \(ck.weights.config.contextLength) positions is shorter than --context \(T)")
            }
            let plan = try WindowPlan(tokenCount: tokens.ids.count, context: T, stride: windows.stride ?? T, skip: windows.skip, maxTokens: windows.maxTokens)
            try validateTokenIDs(Array(tokens.ids[plan.tokenRange]), vocabSize: va, path: data.testSet)
            noteShortTestSet(tokens: tokens, path: data.testSet, context: T, skip: windows.skip, maxTokens: windows.maxTokens)
            var options = TokenComparisonOptions()
            options.segmentLength = segmentLength; options.segments = segments; options.batch = windows.batch
            let backend = CPUBackend(threads: data.threads)
            let bar = ProgressBar("comparing")
            let r = compareTokens(a: GPT2Model(weights: ca.weights, backend: backend), b: GPT2Model(weights: cb.weights, backend: backend),
                                  names: (a, b), tokens: tokens.ids, testSet: data.testSet, plan: plan, options: options,
                                  tokenizer: try GPT2Tokenizer.load(), progress: bar.update)
            bar.finish()
            if json { try printJSON(r); return }
            print(String(format: "loss        A %.6f   B %.6f   Δ (B − A) %+.6f nats/token", r.lossA, r.lossB, r.delta))
            print(String(format: "KL(A‖B)     %.6f nats/token     top-1 agreement %.2f%%", r.klMean, 100 * r.top1Agreement))
            print("tokens      \(groupedThousands(r.tokensScored)) in \(r.windows) window\(r.windows == 1 ? "" : "s") (context \(r.context), stride \(r.stride))")
            let q = r.deltaQuantiles
            print(String(format: "per-token Δ p05 %+.3f  p25 %+.3f  median %+.3f  p75 %+.3f  p95 %+.3f",
                         q["p05"] ?? .nan, q["p25"] ?? .nan, q["p50"] ?? .nan, q["p75"] ?? .nan, q["p95"] ?? .nan))
            let positions = r.positionCounts.count
            print("loss by position (A → B), quarters of " + (positions < r.context ? "the \(positions) positions the short test set fills:" : "the context:"))
            for bin in r.binnedLossByPosition(bins: 4) {
                print(String(format: "  positions %4d–%-4d  %.4f → %.4f  (%+.4f)", bin.from, bin.to, bin.a, bin.b, bin.b - bin.a))
            }
            for (title, segs) in [("B gains most", r.gains), ("B loses most", r.losses)] where !segs.isEmpty {
                print("\(title):")
                for s in segs {
                    let text = s.text.replacingOccurrences(of: "\n", with: "⏎")
                    print(String(format: "  %+.3f  window %d @%d  ", s.deltaMean, s.window, s.position) + text)
                }
            }
        }
    }
}
